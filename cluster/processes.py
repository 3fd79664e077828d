"""The stack's child processes (cluster/stack.py): each in its own session, with
its output in a log file, told to stop (SIGTERM) when this process dies; and
waiting for them to be ready."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
MODEL_PATH = PROJECT_ROOT / "models" / "achilles.tar.gz"


def rasa_run_args(
    port: int, model: Path = MODEL_PATH, credentials: Union[str, Path] = "credentials.yml"
) -> List[str]:
    """`rasa run` on loopback as the Procfile starts it: the trained model, our
    endpoints (tracker store, action server) and input channels."""
    return [
        str(VENV_BIN / "rasa"),
        "run",
        "--model",
        str(model),
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--endpoints",
        "endpoints.yml",
        "--credentials",
        str(credentials),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_parent_death_signal() -> None:  # runs in the child, before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Proc:
    name: str
    args: List[str]
    env: Dict[str, str]
    log: Path
    cwd: Path = PROJECT_ROOT
    user: Optional[str] = None
    stop_signal: int = signal.SIGTERM
    proc: Optional[subprocess.Popen] = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # 0600: process output can hold patients' words
        out = os.fdopen(os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        os.chmod(self.log, 0o600)
        kwargs = {}
        if self.user and os.geteuid() == 0:
            kwargs.update(user=self.user, group=self.user, extra_groups=[])
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_set_parent_death_signal,
            **kwargs,
        )
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        self.signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: Optional[Proc] = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(
                f"{what} exited ({proc.proc.returncode}); its log ends:\n{proc.tail()}"
            )
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise TimeoutError(
        f"{what} not ready after {timeout:.0f}s"
        + (f"; its log ends:\n{proc.tail()}" if proc else "")
    )


def http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 400
    except Exception:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
