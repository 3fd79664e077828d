"""Issue 21, low: logs were 0644 (readable by every local user) although process output
can hold patients' words. `make run`'s supervisord runs with umask 077 and fixes older
logs; the cluster runner creates its logs 0600."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys

from servers import PROJECT_ROOT


def load_supervise():
    scripts = str(PROJECT_ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)  # supervise.py imports its neighbour supervise_output
    spec = importlib.util.spec_from_file_location(
        "supervise_script", PROJECT_ROOT / "scripts" / "supervise.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_supervisord_creates_private_logs_and_fixes_old_ones(tmp_path):
    supervise = load_supervise()
    config = supervise.render_config(supervise.read_procfile(), tmp_path, color=False)
    section = config.split("[supervisord]", 1)[1].split("\n[", 1)[0]
    assert "umask=077" in section.splitlines()
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    old = logs / "rasa.log"
    old.write_text("an older run's output\n")
    os.chmod(old, 0o644)
    supervise.private_logs(logs)
    assert mode(old) == 0o600 and mode(logs) == 0o700


def test_the_cluster_runner_creates_its_logs_0600(tmp_path):
    from cluster.processes import Proc

    proc = Proc("echo", [sys.executable, "-c", "print('hi')"], dict(os.environ), tmp_path / "x.log")
    proc.start()
    proc.proc.wait(timeout=30)
    proc.stop()
    assert mode(tmp_path / "x.log") == 0o600
