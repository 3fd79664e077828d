"""`make run` survives a crash: supervisord (scripts/supervise.py) restarts a
killed process while the others keep serving, and stops everything on SIGTERM.

One supervision serves the whole module: `make supervise`, the command `make run`
ends with (same Makefile environment, same entry point, without the set-up and
training steps), on free loopback ports, with its own SQLite database and
VAR_DIR in a temporary folder. Each Procfile process is SIGKILLed in turn; the
assistant must answer again (a real answer, which needs the action server too),
the killed server must serve again, and every other process must keep its PID.
Finally SIGTERM goes to `make`, as a service manager or `kill` would send it,
and no process started by this supervision may be left: checked by PID and by
a marker variable in the environment of every descendant.

Time limits: 30 s for the action server, the widget server and the console.
Rasa itself needs ~35 s to load its model on the 2-core reference machine when
idle and 1-2 min when busy, so a killed Rasa cannot answer within 30 s:
its limit is RASA_RESTART_TIMEOUT (default 180 s) and the time taken is printed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
import xmlrpc.client
from pathlib import Path
from typing import Dict, Iterator, Set

import pytest
import requests
from supervisor.xmlrpc import SupervisorTransport

from actions.content import get_content
from servers import PROJECT_ROOT, free_port

CONTENT = get_content()
START_TIMEOUT = float(os.environ.get("RASA_START_TIMEOUT", 300))
RESTART_TIMEOUT = 30.0
RASA_RESTART_TIMEOUT = float(os.environ.get("RASA_RESTART_TIMEOUT", 180))
STOP_TIMEOUT = 120.0
PROCESSES = ["actions", "rasa", "widget", "console"]  # the Procfile's
QUESTION = "what are the symptoms of a torn achilles?"
TROUBLE = "technical trouble"


class Supervision:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.var = workdir / "var"
        self.ports = {name: free_port() for name in PROCESSES}
        self.mark = f"supervision-test-{uuid.uuid4().hex}"
        self.seen_pids: Set[int] = set()
        self.foreground = workdir / "foreground.log"
        env = {
            k: v
            for k, v in os.environ.items()
            # let the Makefile derive its defaults, as under `make run`
            if k not in ("ACTION_SERVER_URL", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
        }
        env.update(
            HOST="127.0.0.1",
            RASA_PORT=str(self.ports["rasa"]),
            ACTION_PORT=str(self.ports["actions"]),
            WIDGET_PORT=str(self.ports["widget"]),
            CONSOLE_PORT=str(self.ports["console"]),
            DATABASE_URL=f"sqlite:///{workdir / 'conversations.db'}",
            VAR_DIR=str(self.var),
            CONSOLE_VAR_DIR=str(self.var),
            RASA_TELEMETRY_ENABLED="false",
            SUPERVISION_TEST_MARK=self.mark,
        )
        self.env = env
        self.proc: subprocess.Popen = None  # type: ignore[assignment]

    # ---- control

    def start(self) -> None:
        out = open(self.foreground, "wb")
        self.proc = subprocess.Popen(
            ["make", "-s", "--no-print-directory", "-C", str(PROJECT_ROOT), "supervise"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def rpc(self):
        socket_path = self.var / "supervisor" / "supervisor.sock"
        transport = SupervisorTransport(None, None, f"unix://{socket_path}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def pids(self) -> Dict[str, int]:
        info = {p["name"]: p["pid"] for p in self.rpc.getAllProcessInfo()}
        self.seen_pids.update(pid for pid in info.values() if pid)
        return info

    def marked_processes(self) -> Set[int]:
        """PIDs of live processes whose environment carries this supervision's mark."""
        found = set()
        needle = f"SUPERVISION_TEST_MARK={self.mark}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.add(int(entry.name))
        return found

    # ---- what the servers answer

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def assistant_answers(self) -> bool:
        """A real answer to a question: Rasa and the action server both serve."""
        response = requests.post(
            f"{self.url('rasa')}/webhooks/rest/webhook",
            timeout=30,
            json={"sender": f"sup-{uuid.uuid4().hex[:10]}", "message": QUESTION},
        )
        text = "\n".join(m.get("text") or "" for m in response.json()) if response.ok else ""
        return CONTENT.topics["symptoms"].answer in text and TROUBLE not in text

    def serves(self, name: str) -> bool:
        try:
            if name == "rasa":
                return self.assistant_answers()
            path = {"actions": "/health", "widget": "/demo/", "console": "/login"}[name]
            return requests.get(self.url(name) + path, timeout=5).status_code == 200
        except requests.RequestException:
            return False


def wait_for(check, timeout: float, what: str) -> float:
    """Seconds until check() is true (checked at least once); fails after timeout."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, xmlrpc.client.Error, requests.RequestException):
            pass
        if time.monotonic() - start >= timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.5)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


@pytest.fixture(scope="module")
def supervision(tmp_path_factory) -> Iterator[Supervision]:
    sup = Supervision(tmp_path_factory.mktemp("supervision"))
    sup.start()
    try:
        started = wait_for(sup.assistant_answers, START_TIMEOUT, "the assistant answering")
        print(f"assistant answered {started:.0f}s after `make supervise` started")
        yield sup
    finally:
        # normally test_sigterm_stops_everything has stopped it already
        if sup.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sup.proc.pid, signal.SIGTERM)
            try:
                sup.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        for pid in sup.marked_processes():  # only processes this supervision started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if sup.proc.poll() is None:
            os.killpg(sup.proc.pid, signal.SIGKILL)
            sup.proc.wait(timeout=10)


def test_every_procfile_process_runs_with_its_output_prefixed_and_logged(supervision):
    pids = supervision.pids()
    assert set(PROCESSES) <= set(pids), pids
    assert all(pids[name] and alive(pids[name]) for name in PROCESSES), pids
    for name in PROCESSES:
        assert wait_for(lambda name=name: supervision.serves(name), RESTART_TIMEOUT, name) >= 0
    # the supervised PID is the server itself (the shell exec'd it), listening on its port
    for name in PROCESSES:
        cmdline = Path(f"/proc/{pids[name]}/cmdline").read_bytes().replace(b"\0", b" ")
        assert b"/bin/sh" not in cmdline, (name, cmdline)
    logs = supervision.var / "logs"
    assert "Rasa server is up and running" in (logs / "rasa.log").read_text(errors="replace")
    # actions/server.py's start-up line (the token-protected rasa-sdk app)
    assert "Action server on http://127.0.0.1:" in (logs / "actions.log").read_text()
    shown = supervision.foreground.read_text(errors="replace")
    # echoed with the name prefix, like honcho
    assert re.search(
        r"^\d\d:\d\d:\d\d actions +\| .*Action server on http://127\.0\.0\.1:", shown, re.MULTILINE
    ), shown[-2000:]
    width = max(map(len, PROCESSES))
    for name in PROCESSES:
        assert f" {name.ljust(width)} | " in shown, name


@pytest.mark.parametrize("victim", ["actions", "widget", "console", "rasa"])
def test_a_killed_process_is_restarted_while_the_others_keep_their_pids(supervision, victim):
    before = supervision.pids()
    os.kill(before[victim], signal.SIGKILL)
    killed_at = time.monotonic()
    others = [name for name in PROCESSES if name != victim]
    # the others keep serving while the victim is down
    for name in others:
        if name != "rasa" or victim != "actions":  # Rasa's answers need the action server
            assert supervision.serves(name), f"{name} stopped serving when {victim} was killed"
    limit = RASA_RESTART_TIMEOUT if victim == "rasa" else RESTART_TIMEOUT
    wait_for(
        lambda: supervision.pids()[victim] not in (0, before[victim]),
        limit,
        f"a new {victim} process",
    )
    wait_for(
        lambda: supervision.serves(victim),
        limit - (time.monotonic() - killed_at),
        f"{victim} serving again",
    )
    wait_for(
        supervision.assistant_answers,
        limit - (time.monotonic() - killed_at),
        f"the assistant answering after {victim} was killed",
    )
    took = time.monotonic() - killed_at
    print(f"{victim}: killed, restarted and the assistant answered again in {took:.1f}s")
    after = supervision.pids()
    assert after[victim] != before[victim]
    for name in others:
        assert after[name] == before[name], f"{name} was restarted when {victim} was killed"
        assert alive(after[name])
    assert (
        f"exited: {victim} (terminated by SIGKILL; not expected)"
        in (supervision.var / "logs" / "supervisord.log").read_text()
    )


def test_sigterm_stops_everything_and_leaves_no_process(supervision):
    pids = supervision.pids()
    supervisord = int((supervision.var / "supervisor" / "supervisord.pid").read_text())
    supervision.seen_pids.add(supervisord)
    assert supervision.marked_processes() >= {p for p in pids.values() if p} | {supervisord}
    start = time.monotonic()
    os.kill(supervision.proc.pid, signal.SIGTERM)  # `make`, as `kill` or a service manager would
    code = supervision.proc.wait(timeout=STOP_TIMEOUT)
    print(f"stopped in {time.monotonic() - start:.1f}s (make exit code {code})")
    left = {pid for pid in supervision.seen_pids if alive(pid)} | supervision.marked_processes()
    assert not left, f"processes left after SIGTERM: {sorted(left)}"
    for name, port in supervision.ports.items():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"{name} still listening on {port}"
    log = (supervision.var / "logs" / "supervisord.log").read_text()
    for name in PROCESSES:
        assert f"stopped: {name}" in log, name
