"""What /proc says about the benchmark's processes and the machine: memory, CPU
time (of a process, or of a process tree such as PostgreSQL's backends), the
load average. No psutil needed."""

from __future__ import annotations

import collections
import os
import platform
import subprocess
from pathlib import Path
from typing import Dict, List


def proc_status(pid: int) -> Dict[str, int]:
    """VmRSS / VmHWM in kB from /proc (no psutil needed)."""
    out: Dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """user+system CPU time of a process (and its waited-for children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (PostgreSQL's backends),
    including what its reaped children used."""
    children: Dict[int, List[int]] = collections.defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(children.get(current, []))
    return total


def machine() -> Dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    others = subprocess.run(
        ["pgrep", "-fc", "rasa (run|train)"], capture_output=True, text=True
    ).stdout.strip()
    import rasa

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "loadavg_at_start": os.getloadavg(),
        "other_rasa_processes_at_start": int(others or 0),
    }
