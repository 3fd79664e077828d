"""Security issue #10, finding 1: the action server and the staff console listen
on loopback unless their own variables say otherwise, and the action server
runs actions only for a caller with the shared token (actions/server.py,
actions/server_auth.py, endpoints.yml).

Real processes, started the way the Procfile starts them, on free loopback
ports; each test stops what it started. That the Rasa server sends the token
(endpoints.yml) is also shown end to end by every test that gets an answer
from an action (tests/test_rest_e2e.py, tests/test_reliability.py).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
import stat
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import requests

from actions.server_auth import authorized, load_token
from servers import (
    ACTION_SERVER_TOKEN,
    PROJECT_ROOT,
    VENV_BIN,
    ActionServer,
    base_env,
    free_port,
    makefile_default,
    stop_process,
    wait_until,
)
from stores.secret_files import read_or_create_secret

PYTHON = str(VENV_BIN / "python")


def procfile_command(process: str) -> str:
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise KeyError(process)


def listening_addresses(port: int) -> List[str]:
    """Local addresses with a TCP socket in LISTEN state on `port` (Linux /proc)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            if width == 8:
                found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


def start_procfile_process(process: str, env: Dict[str, str], log: Path) -> subprocess.Popen:
    """One Procfile line through the shell, as honcho runs it (under make)."""
    env = dict(env)
    env.setdefault("ACTION_REQUEST_MAX_SIZE", makefile_default("ACTION_REQUEST_MAX_SIZE"))
    return subprocess.Popen(
        ["/bin/sh", "-c", procfile_command(process)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# ------------------------------------------------- forged calls to /webhook --


def forged_submit_call(sender: str) -> Dict:
    """What an attacker would POST: a complete appointment with consent."""
    slots = {
        "patient_name": "Forged Person",
        "patient_phone": "(310) 555-0199",
        "preferred_time": "any",
        "visit_reason": "spam",
        "contact_consent": True,
        "requested_slot": None,
    }
    latest = {
        "text": "yes",
        "intent": {"name": "affirm", "confidence": 1.0},
        "entities": [],
        "intent_ranking": [],
    }
    return {
        "next_action": "action_submit_appointment",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": latest,
            "events": [
                {
                    "event": "user",
                    "timestamp": time.time(),
                    "text": "yes",
                    "parse_data": latest,
                    "input_channel": "rest",
                }
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "appointment_form",
        },
    }


def stored_requests(db_path: Path) -> List[tuple]:
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as conn:
        try:
            return conn.execute(
                "select conversation_id, patient_name from appointment_requests"
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet: nothing was ever stored
            return []


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("action-auth")
    port = free_port()
    env = base_env(
        DATABASE_URL=f"sqlite:///{workdir / 'conversations.db'}",
        ACTION_PORT=str(port),
        ACTION_REQUEST_MAX_SIZE="100000",
    )
    server = ActionServer(port, env, workdir / "actions.log").start(timeout=120)
    server.db_path = workdir / "conversations.db"  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef0123456789abcdef"},
        {"Authorization": f"Bearer {ACTION_SERVER_TOKEN[:-1]}"},
        {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}x"},
        {"Authorization": ACTION_SERVER_TOKEN},  # no scheme
        {"Authorization": f"Basic {ACTION_SERVER_TOKEN}"},
        {"X-Action-Token": ACTION_SERVER_TOKEN},
    ],
    ids=["none", "wrong", "truncated", "extended", "no-scheme", "basic", "other-header"],
)
def test_a_forged_tracker_without_the_right_token_gets_401_and_stores_nothing(
    action_server, headers
):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook", json=forged_submit_call(sender), headers=headers, timeout=30
    )
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert sender not in {row[0] for row in stored_requests(action_server.db_path)}


def test_the_token_in_the_query_string_is_not_accepted(action_server):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook?token={ACTION_SERVER_TOKEN}",
        json=forged_submit_call(sender),
        timeout=30,
    )
    assert response.status_code == 401


def test_with_the_right_token_the_same_call_runs_the_action(action_server):
    """The positive control: the forged call above is a valid action call, so it
    is the token alone that stops it."""
    sender = f"rasa-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook",
        json=forged_submit_call(sender),
        headers=action_server.auth_headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    assert "request has been sent" in json.dumps(response.json())
    assert (sender, "Forged Person") in stored_requests(action_server.db_path)


def test_action_list_needs_the_token_and_health_does_not(action_server):
    assert requests.get(f"{action_server.url}/actions", timeout=10).status_code == 401
    listed = requests.get(
        f"{action_server.url}/actions", headers=action_server.auth_headers, timeout=10
    )
    assert listed.status_code == 200
    assert {"name": "action_submit_appointment"} in listed.json()
    assert requests.get(f"{action_server.url}/health", timeout=10).json() == {"status": "ok"}


def test_browsers_get_no_cors_permission(action_server):
    response = requests.options(
        f"{action_server.url}/webhook",
        timeout=10,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_body_limit_still_applies(action_server):
    body = b'{"x": "' + b"a" * 200_000 + b'"}'  # ACTION_REQUEST_MAX_SIZE=100000 (fixture)
    response = requests.post(
        f"{action_server.url}/webhook",
        data=body,
        timeout=30,
        headers=dict(action_server.auth_headers, **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413


def test_token_check_is_exact():
    token = "t" * 40
    assert authorized(f"Bearer {token}", token)
    for header in (
        None,
        "",
        "Bearer",
        f"Bearer {token[:-1]}",
        f"bearer {token}",
        f"Bearer {token}{token}",
    ):
        assert not authorized(header, token), header
    assert not authorized("Bearer ", "")  # an empty secret never matches


# ------------------------------------------------------------- the token --


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


# ------------------------------------------------------------- bind addresses --


def test_action_server_listens_on_loopback_even_when_host_is_public(tmp_path):
    port = free_port()
    env = base_env(
        HOST="0.0.0.0", ACTION_PORT=str(port), DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}"
    )
    env.pop("ACTION_HOST")
    env.pop("SANIC_HOST", None)
    proc = start_procfile_process("actions", env, tmp_path / "actions.log")
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok,
            120,
            "action server",
            proc,
        )
        assert listening_addresses(port) == ["127.0.0.1"]
    finally:
        stop_process(proc)


def test_console_listens_on_loopback_even_when_host_is_public(tmp_path):
    port = free_port()
    env = base_env(
        HOST="0.0.0.0",
        CONSOLE_PORT=str(port),
        CONSOLE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
    )
    env.pop("CONSOLE_HOST", None)
    proc = start_procfile_process("console", env, tmp_path / "console.log")
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code < 500,
            120,
            "console",
            proc,
        )
        assert listening_addresses(port) == ["127.0.0.1"]
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    "process, variable", [("actions", "ACTION_HOST"), ("console", "CONSOLE_HOST")]
)
@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_bind_address_refuses_to_start(tmp_path, process, variable, empty):
    port = free_port()
    env = base_env(
        HOST="0.0.0.0",
        ACTION_PORT=str(port),
        CONSOLE_PORT=str(port),
        CONSOLE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
        **{variable: empty},
    )
    proc = start_procfile_process(process, env, tmp_path / "out.log")
    try:
        code = proc.wait(timeout=120)
    finally:
        stop_process(proc)
    output = (tmp_path / "out.log").read_text()
    assert code != 0 and f"{variable}" in output and "empty" in output, output[-500:]
    assert listening_addresses(port) == []


def test_an_explicit_action_host_is_used(tmp_path):
    """ACTION_HOST is honoured (here another loopback address, 127.0.0.2)."""
    port = free_port()
    env = base_env(
        ACTION_HOST="127.0.0.2",
        ACTION_PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
    )
    proc = start_procfile_process("actions", env, tmp_path / "actions.log")
    try:
        wait_until(
            lambda: requests.get(f"http://127.0.0.2:{port}/health", timeout=2).ok,
            120,
            "action server",
            proc,
        )
        assert listening_addresses(port) == ["127.0.0.2"]
    finally:
        stop_process(proc)


def test_procfile_binds_rasa_to_host_with_a_loopback_default():
    command = procfile_command("rasa")
    assert "--interface ${HOST:-127.0.0.1}" in command
    assert "SANIC_HOST" not in (PROJECT_ROOT / "Procfile").read_text()
    words = [w for w in shlex.split(procfile_command("actions")) if "=" not in w]
    assert words[:3] == [".venv/bin/python", "-m", "actions.server"]
