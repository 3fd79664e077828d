"""Security issue #10, finding 1: the action server's shared token
(actions/server_auth.py, endpoints.yml, the Procfile): from the environment or one
private generated file, the same for processes starting together, and given to
Rasa as its Authorization header, so `make run` works with nothing configured.

Real processes, started the way the Procfile starts them (tests/procfile_helpers.py),
on free loopback ports; each test stops what it started. The token's check on the
action server: tests/test_action_server_security.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from typing import List, Optional

import pytest
import requests

from actions.server_auth import load_token
from procfile_helpers import listening_addresses, procfile_command, start_procfile_process
from servers import PROJECT_ROOT, base_env, free_port, stop_process, wait_until
from stores.secret_files import read_or_create_secret


def test_token_comes_from_the_environment_or_one_private_file(tmp_path):
    path = tmp_path / "var" / "action_server_token"
    from_env = load_token({"ACTION_SERVER_TOKEN": "e" * 40, "ACTION_SERVER_TOKEN_FILE": str(path)})
    assert from_env == "e" * 40 and not path.exists()
    generated = load_token({"ACTION_SERVER_TOKEN": "  ", "ACTION_SERVER_TOKEN_FILE": str(path)})
    assert len(generated) == 64 and path.read_text().strip() == generated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token({"ACTION_SERVER_TOKEN_FILE": str(path)}) == generated  # reused
    with pytest.raises(ValueError, match="ACTION_SERVER_TOKEN"):
        load_token({"ACTION_SERVER_TOKEN": "short"})


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path):
    path = tmp_path / "secret"
    results: List[Optional[str]] = [None] * 16
    barrier = threading.Barrier(16)

    def create(i: int) -> None:
        barrier.wait()
        results[i] = read_or_create_secret(path)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0] == path.read_text().strip()
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]  # no temporary files left


def test_rasa_reads_the_token_header_from_endpoints_yml():
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.exceptions import RasaException

    env = {
        "DATABASE_URL": "sqlite://",
        "LOCK_STORE_TYPE": "in_memory",
        "REDIS_HOST": "x",
        "REDIS_PORT": "1",
        "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
        "ACTION_SERVER_TOKEN": "k" * 40,
    }
    saved = {k: os.environ.get(k) for k in env}
    try:
        os.environ.update(env)
        endpoints = read_endpoints_from_path(str(PROJECT_ROOT / "endpoints.yml"))
        assert endpoints.action.headers == {"Authorization": "Bearer " + "k" * 40}
        del os.environ["ACTION_SERVER_TOKEN"]
        with pytest.raises(RasaException, match="ACTION_SERVER_TOKEN"):
            read_endpoints_from_path(str(PROJECT_ROOT / "endpoints.yml"))  # no token: no start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_procfile_gives_rasa_the_same_token_the_action_server_reads(tmp_path):
    """Without ACTION_SERVER_TOKEN, `make run` still works: both processes read
    the token generated into the (here temporary) token file."""
    token_file = tmp_path / "var" / "action_server_token"
    env = base_env(ACTION_SERVER_TOKEN_FILE=str(token_file))
    env.pop("ACTION_SERVER_TOKEN")
    wrapper = procfile_command("rasa").split(" .venv/bin/rasa ")[0]
    assert wrapper.endswith("-m actions.server_auth")
    printed = subprocess.run(
        ["/bin/sh", "-c", f"{wrapper} /bin/sh -c 'echo \"$ACTION_SERVER_TOKEN\"'"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == token_file.read_text().strip() == load_token(env)


def test_the_procfile_processes_answer_with_nothing_configured(tmp_path):
    """`make run` with no ACTION_SERVER_TOKEN and no HOST: the Procfile's action
    server and Rasa server agree on the generated token, answer a question
    that needs an action, and both listen on loopback only."""
    from actions.content import get_content

    action_port, rasa_port = free_port(), free_port()
    env = base_env(
        ACTION_PORT=str(action_port),
        RASA_PORT=str(rasa_port),
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ACTION_SERVER_TOKEN_FILE=str(tmp_path / "var" / "action_server_token"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'conversations.db'}",
    )
    for name in ("ACTION_SERVER_TOKEN", "HOST", "ACTION_HOST"):
        env.pop(name)
    actions = start_procfile_process("actions", env, tmp_path / "actions.log")
    rasa = start_procfile_process("rasa", env, tmp_path / "rasa.log")
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", timeout=2).ok,
            float(os.environ.get("RASA_START_TIMEOUT", 300)),
            "rasa server",
            rasa,
        )
        response = requests.post(
            f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
            json={
                "sender": "procfile-smoke",
                "message": "what are the symptoms of a torn achilles?",
            },
            timeout=60,
        )
        assert response.status_code == 200
        texts = "\n".join(m.get("text", "") for m in response.json())
        assert get_content().topics["symptoms"].answer in texts  # action_answer_topic ran
        assert listening_addresses(rasa_port) == ["127.0.0.1"]
        assert listening_addresses(action_port) == ["127.0.0.1"]
        assert "Refused" not in (tmp_path / "actions.log").read_text()
    finally:
        stop_process(rasa)
        stop_process(actions)
