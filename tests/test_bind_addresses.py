"""Security issue #10, finding 1: the action server and the staff console listen
on loopback unless their own variables say otherwise (ACTION_HOST, CONSOLE_HOST;
HOST is the Rasa server's), an empty bind address refuses to start, and the
Procfile binds Rasa to HOST with a loopback default.

Real processes, started the way the Procfile starts them (tests/procfile_helpers.py),
on free loopback ports; each test stops what it started.
"""

from __future__ import annotations

import shlex

import pytest
import requests

from procfile_helpers import listening_addresses, procfile_command, start_procfile_process
from servers import PROJECT_ROOT, base_env, free_port, stop_process, wait_until


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
