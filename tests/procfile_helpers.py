"""The Procfile's processes as `make run` starts them (honcho, one shell per line),
and the addresses a port listens on: for the security tests of the action server,
its token and the bind addresses (tests/test_action_server_security.py,
tests/test_action_server_token.py, tests/test_bind_addresses.py)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Dict, List

from servers import PROJECT_ROOT, makefile_default


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
