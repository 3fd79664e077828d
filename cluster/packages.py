"""PostgreSQL, Redis and nginx from Debian's packages: found, or installed with
apt-get when missing and we are root. The stack runs its own instances of them
(cluster/stack.py), never the system services."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, List, Optional

DEBIAN_PACKAGES = ("postgresql", "redis-server", "nginx")


class Unavailable(RuntimeError):
    """A system package is missing and cannot be installed here."""


def postgres_bin() -> Optional[Path]:
    """The newest installed PostgreSQL's bin folder (Debian keeps one per version)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    return Path(found[-1]).parent if found else None


def missing_packages() -> List[str]:
    missing = []
    if postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx")
    return missing


def ensure_packages(log: Callable[[str], None] = print) -> None:
    """Installs PostgreSQL, Redis and nginx from Debian's packages if missing.

    The services are not started by the packages on this kind of machine
    (policy-rc.d) and never by us: we run our own instances. Raises Unavailable
    with the reason when they are missing and cannot be installed."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(
            f"missing {', '.join(missing)} and not root with apt-get to "
            f"install them (apt-get install {' '.join(DEBIAN_PACKAGES)})"
        )
    log(f"installing {', '.join(missing)} (apt-get) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in range(3):  # another apt run may hold the lock for a while
        update = subprocess.run(
            ["apt-get", "update", "-qq"], env=env, capture_output=True, text=True
        )
        install = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *missing], env=env, capture_output=True, text=True
        )
        if install.returncode == 0 and not missing_packages():
            return
        time.sleep(10 * (attempt + 1))
    raise Unavailable(
        f"apt-get install {' '.join(missing)} failed: "
        f"{(install.stderr or update.stderr).strip()[-500:]}"
    )
