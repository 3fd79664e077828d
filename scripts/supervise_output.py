"""supervisord's event listener for `make run` (scripts/supervise.py --echo-output):
every process's output echoed to the terminal as `HH:MM:SS name | line`, like
honcho. supervisord sends PROCESS_LOG events on the listener's stdin and waits
for READY / RESULT on its stdout; the echo goes to stderr, which supervisord
passes to the terminal."""

from __future__ import annotations

import io
import sys
import time
from typing import Dict, TextIO

COLORS = ["36", "33", "32", "35", "34", "31", "96", "93"]


class OutputEcho:
    """supervisord event listener: PROCESS_LOG events -> `HH:MM:SS name | line`."""

    def __init__(self, out: TextIO, width: int, color: bool) -> None:
        self.out, self.width, self.color = out, width, color
        self.partial: Dict[str, str] = {}
        self.colors: Dict[str, str] = {}

    def prefix(self, name: str) -> str:
        label = f"{time.strftime('%H:%M:%S')} {name.ljust(self.width)} |"
        if not self.color:
            return label
        code = self.colors.setdefault(name, COLORS[len(self.colors) % len(COLORS)])
        return f"\033[{code}m{label}\033[0m"

    def feed(self, name: str, data: str) -> None:
        text = self.partial.pop(name, "") + data
        *complete, rest = text.split("\n")
        if len(rest) > 8192:  # a very long line without a newline: show it anyway
            complete.append(rest)
            rest = ""
        if rest:
            self.partial[name] = rest
        for line in complete:
            self.out.write(f"{self.prefix(name)} {line.rstrip(chr(13))}\n")
        self.out.flush()


def echo_output(width: int, color: bool) -> None:
    # supervisord counts the payload length in characters, sends it as UTF-8
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
    stdout = sys.stdout
    echo = OutputEcho(sys.stderr, width, color)
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header = stdin.readline()
        if not header:
            return  # supervisord went away
        headers = dict(part.split(":", 1) for part in header.split())
        payload = stdin.read(int(headers["len"]))
        if headers.get("eventname", "").startswith("PROCESS_LOG"):
            info, _, data = payload.partition("\n")
            fields = dict(part.split(":", 1) for part in info.split())
            echo.feed(fields.get("processname", "?"), data)
        stdout.write("RESULT 2\nOK")
        stdout.flush()
