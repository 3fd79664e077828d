"""Start and stop the real action server and Rasa server for tests and benchmarks.

Plain subprocess + HTTP (no Rasa imports), so any test suite or script can use it.
Servers listen on 127.0.0.1 only, on free ports, and are stopped by whoever
started them (context manager). Defaults of the servers' settings come from
where they are defined (channels/settings.py), not repeated here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # scripts (bench/, eval/) import this file too
    sys.path.insert(0, str(PROJECT_ROOT))

from channels.settings import DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT, MAX_PUBLIC_BODY_BYTES  # noqa: E402
from cluster.processes import MODEL_PATH, VENV_BIN, free_port, rasa_run_args  # noqa: E402,F401

# The shared secret the action server requires from the Rasa server
# (actions/server_auth.py); one per test run, never the one in var/.
ACTION_SERVER_TOKEN = secrets.token_hex(32)


def wait_until(check, timeout: float, what: str, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def launch(
    args: List[str], env: Dict[str, str], log_path: Path, ready_url: str, what: str, timeout: float
) -> subprocess.Popen:
    """Starts a server in its own session, output to `log_path`; returns once
    `ready_url` answers 200 (fails if the process exits first or after `timeout`)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(lambda: requests.get(ready_url, timeout=2).ok, timeout, what, proc)
    return proc


def makefile_default(name: str) -> Optional[str]:
    """The value `export NAME ?= value` in the Makefile gives `make run`."""
    match = re.search(
        rf"^export {name} \??= *(\S+)", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE
    )
    return match.group(1) if match else None


# Every test or benchmark client is 127.0.0.1 (directly, or behind nginx), playing
# many patients: the per-address limits would refuse most of them. They are tested
# on their own (tests/test_public_limits.py, tests/cluster/); the per-sender limit stays.
ONE_ADDRESS_MANY_PATIENTS = {
    "RATE_LIMIT_PER_IP": "100000/minute",
    "WIDGET_CONNECTIONS_PER_IP": "100000",
}


def base_env(**overrides: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        HOST="127.0.0.1",
        ACTION_HOST="127.0.0.1",
        ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
        LOCK_STORE_TYPE="in_memory",
        REDIS_HOST=DEFAULT_REDIS_HOST,
        REDIS_PORT=str(DEFAULT_REDIS_PORT),
        SANIC_REQUEST_MAX_SIZE=str(MAX_PUBLIC_BODY_BYTES),
        SANIC_KEEP_ALIVE_TIMEOUT="120",
        **ONE_ADDRESS_MANY_PATIENTS,
    )
    env.update(overrides)
    return env


@dataclass
class ActionServer:
    port: int
    env: Dict[str, str]
    log_path: Path
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> Dict[str, str]:
        """What the Rasa server sends (endpoints.yml)."""
        return {"Authorization": f"Bearer {self.env['ACTION_SERVER_TOKEN']}"}

    def start(self, timeout: float = 60) -> ActionServer:
        # as in the Procfile: loopback, shared token (actions/server.py), and the
        # action server's own body limit (a session's tracker)
        env = dict(
            self.env,
            SANIC_REQUEST_MAX_SIZE=self.env.get(
                "ACTION_REQUEST_MAX_SIZE", makefile_default("ACTION_REQUEST_MAX_SIZE") or "65536"
            ),
        )
        args = [str(VENV_BIN / "python"), "-m", "actions.server", "--port", str(self.port)]
        self.proc = launch(args, env, self.log_path, f"{self.url}/health", "action server", timeout)
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


@dataclass
class RasaServer:
    port: int
    env: Dict[str, str]
    log_path: Path
    credentials: Path = PROJECT_ROOT / "credentials.yml"
    extra_args: List[str] = field(default_factory=list)
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(
        self, timeout: float = float(os.environ.get("RASA_START_TIMEOUT", 300))
    ) -> RasaServer:
        # as in the Procfile: one BLAS/OpenMP thread unless the environment says
        # otherwise (perf/blas_threads.py; tests/test_rest_e2e.py checks it)
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **self.env}
        args = rasa_run_args(self.port, MODEL_PATH, self.credentials) + self.extra_args
        ready = f"{self.url}/webhooks/rest/"
        self.proc = launch(args, env, self.log_path, ready, "rasa server", timeout)
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def say(self, sender: str, message, timeout: float = 30) -> requests.Response:
        return requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=timeout,
        )

    def texts(self, sender: str, message) -> List[str]:
        response = self.say(sender, message)
        response.raise_for_status()
        return [m.get("text", "") for m in response.json()]


def stop_process(proc: Optional[subprocess.Popen]) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def running_assistant(
    workdir: Path,
    credentials: Optional[Path] = None,
    start_timeout: Optional[float] = None,
    **env_overrides: str,
) -> Iterator[RasaServer]:
    """Action server + Rasa server on free loopback ports, with a fresh SQLite DB
    in `workdir` (unless DATABASE_URL is given). Yields the Rasa server; its
    `.action_server` attribute is the action server, `.db_path` the SQLite file."""
    workdir.mkdir(parents=True, exist_ok=True)
    action_port, rasa_port = free_port(), free_port()
    env = base_env(
        DATABASE_URL=f"sqlite:///{workdir / 'conversations.db'}",
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ACTION_PORT=str(action_port),
        RASA_PORT=str(rasa_port),
    )
    env.update(env_overrides)
    actions = ActionServer(action_port, env, workdir / "actions.log")
    rasa = RasaServer(
        rasa_port,
        env,
        workdir / "rasa.log",
        credentials=credentials or PROJECT_ROOT / "credentials.yml",
    )
    rasa.action_server = actions  # type: ignore[attr-defined]
    rasa.db_path = workdir / "conversations.db"  # type: ignore[attr-defined]
    timeouts = {} if start_timeout is None else {"timeout": start_timeout}
    try:
        actions.start(**timeouts)
        rasa.start(**timeouts)
        yield rasa
    finally:
        rasa.stop()
        actions.stop()
