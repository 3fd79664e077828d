"""The action server's keep-alive timeout as `make run` sets it
(SANIC_KEEP_ALIVE_TIMEOUT, exported by the Makefile): Rasa opens a connection to
the action server and, under load, writes to it only seconds later; Sanic's
default 5 s timeout closed such connections and lost turns
(tests/reliability_helpers.py, bench/README.md). A real action server on a free
loopback port, stopped by the test.
"""

from __future__ import annotations

import socket
import time

import pytest

from reliability_helpers import START_TIMEOUT
from servers import ActionServer, base_env, free_port, makefile_default


@pytest.mark.xfail(
    makefile_default("SANIC_KEEP_ALIVE_TIMEOUT") is None,
    strict=True,
    reason=(
        "the Makefile does not export SANIC_KEEP_ALIVE_TIMEOUT: the action server closes a "
        "connection Rasa opened but has not written to within 5 s (Sanic's default), which "
        "loses ~5% of turns under 50 concurrent conversations. Needs "
        "`export SANIC_KEEP_ALIVE_TIMEOUT ?= 120` in the Makefile (bench/README.md)."
    ),
)
def test_action_server_keeps_an_idle_connection_open(tmp_path):
    """A fresh connection that stays silent for 7 s (Rasa busy) is still served."""
    value = makefile_default("SANIC_KEEP_ALIVE_TIMEOUT")
    env = base_env()
    env.pop("SANIC_KEEP_ALIVE_TIMEOUT", None)
    if value:  # exactly what `make run` gives the action server
        env["SANIC_KEEP_ALIVE_TIMEOUT"] = value
    port = free_port()
    actions = ActionServer(port, env, tmp_path / "actions.log").start(timeout=START_TIMEOUT)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            time.sleep(7)
            try:
                conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = conn.recv(100)
            except OSError:
                answer = b""
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        actions.stop()
