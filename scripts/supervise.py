#!/usr/bin/env python3
"""`make run`: every process in the Procfile, under supervisord, in the foreground.

    .venv/bin/python scripts/supervise.py                  # what `make run` runs
    .venv/bin/python scripts/supervise.py --print-config   # the generated config
    .venv/bin/python scripts/supervise.py --run rasa       # one process, no supervisor

The Procfile stays the one list of processes (`name: shell command`, honcho's
format). This script turns it into a supervisord configuration and
runs `supervisord --nodaemon` in the foreground:

- every process is restarted when it exits, whatever the exit code; the others
  keep running. A process that dies within `startsecs` of starting is retried
  after 1 s, 2 s, 3 s, ... (supervisord's back-off); after `startretries` such
  quick failures in a row it is left FATAL, with the reason in the log, while
  the rest keeps serving. One that had been up longer is restarted at once.
- Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stops the processes (SIGTERM to
  each process group, SIGKILL after `stopwaitsecs`), then supervisord and this
  script exit: nothing is left running. If this script is killed outright,
  supervisord is told to stop all the same (parent-death signal).
- output: var/logs/<name>.log (rotated at 10 MB, 5 kept), and echoed to the
  terminal as `HH:MM:SS name | line`, like honcho (an event listener: this
  script with --echo-output, scripts/supervise_output.py). supervisord's own
  log: var/logs/supervisord.log.
- control while running: `.venv/bin/supervisorctl -c var/supervisor/supervisord.conf status`
  (or `restart rasa`, `tail -f actions`); the socket is private to the user.

Each Procfile command runs as `/bin/sh -c 'exec env <command>'` in the project
folder, so `NAME=value` prefixes and `$VARIABLES` work as under honcho, and the
process supervisord watches is the server itself (its PID, its exit). The
environment is this script's (the Makefile exports the documented defaults),
plus PYTHONUNBUFFERED=1.

`--run NAME` execs one Procfile process the same way, without supervisord: the
systemd units in deploy/ use it, so the Procfile stays the one place where the
commands are written for `make run` and for a real site alike.

Environment: VAR_DIR (default <project>/var) holds logs/ and supervisor/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from supervise_output import echo_output  # scripts/: this file runs as a script

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROCFILE = PROJECT_ROOT / "Procfile"
SUPERVISORD = PROJECT_ROOT / ".venv" / "bin" / "supervisord"

# How each process is watched. startsecs: how long a process must stay up to
# count as started (a quicker exit is a failed start and backs off); Rasa needs
# ~35 s to load its model here, so a crash while loading counts as a failed
# start too. startretries: quick failures in a row before giving up.
DEFAULTS = {"startsecs": 10, "startretries": 20, "stopwaitsecs": 20}
OVERRIDES: Dict[str, Dict[str, int]] = {
    "rasa": {"startsecs": 90, "stopwaitsecs": 30},
}
LOG_MAXBYTES = "10MB"
LOG_BACKUPS = 5
LISTENER = "output"  # the event listener's name in supervisorctl status
SHELL_OPERATORS = re.compile(r"[;&|<>()`]|\$\(")


@dataclass(frozen=True)
class Process:
    name: str
    command: str  # the Procfile's shell command


def read_procfile(path: Path = PROCFILE) -> List[Process]:
    """`name: command` lines (honcho's format); blank lines and # comments skipped."""
    processes: List[Process] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(\S.*)", line.strip())
        if not match:
            raise ValueError(f"{path}:{number}: expected 'name: command', got {line!r}")
        name, command = match.groups()
        if name == LISTENER or any(p.name == name for p in processes):
            raise ValueError(f"{path}:{number}: process name {name!r} is reserved or repeated")
        processes.append(Process(name, command.strip()))
    if not processes:
        raise ValueError(f"{path}: no processes")
    return processes


def shell_command(command: str) -> List[str]:
    """argv that runs a Procfile command; a simple command is exec'd, so the PID
    supervisord watches is the server's own."""
    if SHELL_OPERATORS.search(command):  # a pipeline or a list: keep the shell
        return ["/bin/sh", "-c", command]
    return ["/bin/sh", "-c", f"exec env {command}"]


def _value(text: str) -> str:
    """A value for supervisord's config file: one line, `%` escaped."""
    if "\n" in text or "\r" in text:
        raise ValueError(f"newline in a config value: {text!r}")
    return text.replace("%", "%%")


def _argv(argv: List[str]) -> str:
    return _value(" ".join(shlex.quote(a) for a in argv))


def var_dir(env=os.environ) -> Path:
    return Path(env.get("VAR_DIR") or PROJECT_ROOT / "var").resolve()


def config_path(env=os.environ) -> Path:
    return var_dir(env) / "supervisor" / "supervisord.conf"


def render_config(
    processes: List[Process], var: Path, python: str = sys.executable, color: bool = False
) -> str:
    logs, run = var / "logs", var / "supervisor"
    socket = run / "supervisor.sock"
    if len(str(socket)) > 100:  # AF_UNIX path limit (108 bytes on Linux)
        raise ValueError(f"VAR_DIR is too deep for supervisord's socket: {socket}")
    width = max(len(p.name) for p in processes)
    lines = [
        "; Generated by scripts/supervise.py from the Procfile on every `make run`;",
        "; edit the Procfile (commands) or scripts/supervise.py (restart settings).",
        "[supervisord]",
        "nodaemon=true",
        # log files 0600 (they can hold patients' words), and every process's files too
        "umask=077",
        f"logfile={_value(str(logs / 'supervisord.log'))}",
        f"logfile_maxbytes={LOG_MAXBYTES}",
        "logfile_backups=3",
        "loglevel=info",
        f"pidfile={_value(str(run / 'supervisord.pid'))}",
        f"childlogdir={_value(str(logs))}",
        "identifier=achilles",
        "",
        "[unix_http_server]",
        f"file={_value(str(socket))}",
        "chmod=0700",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_value(str(socket))}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        # echoes every process's output to the terminal with a name prefix
        f"[eventlistener:{LISTENER}]",
        "command="
        + _argv(
            [python, str(Path(__file__).resolve()), "--echo-output", "--width", str(width)]
            + (["--color"] if color else [])
        ),
        "events=PROCESS_LOG",
        "buffer_size=10000",
        "priority=1",
        "autorestart=true",
        "startsecs=1",
        "stdout_logfile=NONE",
        "stderr_logfile=/dev/stdout",
        "stderr_logfile_maxbytes=0",
        "",
    ]
    for index, process in enumerate(processes):
        settings = {**DEFAULTS, **OVERRIDES.get(process.name, {})}
        lines += [
            f"[program:{process.name}]",
            "command=" + _argv(shell_command(process.command)),
            f"directory={_value(str(PROJECT_ROOT))}",
            'environment=PYTHONUNBUFFERED="1"',
            f"priority={10 + index}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={settings['startsecs']}",
            f"startretries={settings['startretries']}",
            "stopsignal=TERM",
            f"stopwaitsecs={settings['stopwaitsecs']}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_value(str(logs / (process.name + '.log')))}",
            f"stdout_logfile_maxbytes={LOG_MAXBYTES}",
            f"stdout_logfile_backups={LOG_BACKUPS}",
            "stdout_events_enabled=true",
            "",
        ]
    return "\n".join(lines)


# ------------------------------------------------------------------ main --


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--print-config", action="store_true", help="print the supervisord configuration and exit"
    )
    parser.add_argument(
        "--run", metavar="NAME", help="exec one Procfile process in the foreground (systemd units)"
    )
    parser.add_argument("--echo-output", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--color", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_output:
        echo_output(args.width, args.color)
        return 0
    if args.run:
        processes = {p.name: p for p in read_procfile()}
        if args.run not in processes:
            parser.error(f"no process {args.run!r} in the Procfile ({', '.join(processes)})")
        command = shell_command(processes[args.run].command)
        os.chdir(PROJECT_ROOT)
        sys.stdout.flush()
        os.execv(command[0], command)
    var = var_dir()
    config = render_config(read_procfile(), var, color=sys.stdout.isatty())
    if args.print_config:
        sys.stdout.write(config)
        return 0
    private_logs(var / "logs")
    (var / "supervisor").mkdir(parents=True, exist_ok=True, mode=0o700)
    path = config_path()
    path.write_text(config, encoding="utf-8")
    sys.stdout.flush()
    return run_supervisord(path)


def private_logs(folder: Path) -> None:
    """The log folder 0700 and every log already in it 0600 (logs of an older run were
    0644); new ones are created 0600 by supervisord's umask=077."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    for path in folder.iterdir():
        if path.is_file():
            os.chmod(path, 0o600)


def _stop_with_parent() -> None:  # in the child, before exec
    """supervisord gets SIGTERM if this script dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def run_supervisord(config: Path) -> int:
    """supervisord as a child in its own session, its output through this
    script. The terminal's signals reach this script only: Ctrl-C, SIGTERM and
    SIGHUP (terminal closed; supervisord itself would reload and carry on) all
    become SIGTERM to supervisord, which stops every process and exits. Output
    that can no longer be shown (terminal gone) is dropped, so supervisord never
    fails on a write; its error messages (stderr) are kept in a file and shown
    if it exits with an error."""
    errors = config.with_name("supervisord.stderr")
    with open(errors, "wb") as err:
        child = subprocess.Popen(
            [str(SUPERVISORD), "--nodaemon", "--configuration", str(config)],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            preexec_fn=_stop_with_parent,
        )

    def stop(signum, frame) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)

    def pump() -> None:
        shown = True
        for chunk in iter(lambda: os.read(child.stdout.fileno(), 65536), b""):
            if shown:
                try:
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.buffer.flush()
                except OSError:  # the terminal is gone: keep draining
                    shown = False

    pumping = threading.Thread(target=pump, daemon=True)
    pumping.start()
    code = child.wait()
    pumping.join(timeout=5)
    if code:
        with contextlib.suppress(OSError):
            sys.stderr.write(errors.read_text(errors="replace"))
            sys.stderr.write(f"supervisord exited with code {code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
