"""The stack's own Redis: loopback port, nothing saved to disk (lock store, rate
limits and SMS marks only need to outlive a replica, not the stack).

Not named redis.py: `python cluster/run.py` puts cluster/ on sys.path, where it
would hide the redis client package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cluster.processes import Proc


def redis_proc(root: Path, logs: Path, port: int) -> Proc:
    data = root / "redis"
    data.mkdir(exist_ok=True)
    return Proc(
        "redis",
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
        {"PATH": os.environ.get("PATH", "")},
        logs / "redis.log",
        cwd=data,
    )
