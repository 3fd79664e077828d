"""The assistants measured side by side (bench/README.md, "What is measured": variants): each one
a Rasa server (or a group of replicas behind nginx) plus what runs with it.

A variant is a dict: name, rasa (Server or Group: url, cpu(), rss_mb()),
extra (its action servers), needs_real_answer (False: silence is not an
error), and for the cluster variants infra (PostgreSQL, Redis, nginx),
managed (started by cluster/stack.py) and transports ({"rest"})."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from proc_stats import cpu_seconds, proc_status, tree_cpu
from servers import MODEL_PATH as MODEL
from servers import (
    ONE_ADDRESS_MANY_PATIENTS,
    PROJECT_ROOT,
    VENV_BIN,
    free_port,
    makefile_default,
    stop_process,
)

RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")


class Server:
    """One `rasa run` / `python -m actions.server` process on a free loopback port."""

    def __init__(
        self, name: str, args: List[str], cwd: Path, env: Dict[str, str], log: Path, port: int
    ) -> None:
        self.name, self.args, self.cwd, self.env, self.log, self.port = (
            name,
            args,
            cwd,
            env,
            log,
            port,
        )
        self.proc: Optional[subprocess.Popen] = None
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def rss_mb(self) -> Dict[str, float]:
        s = proc_status(self.proc.pid) if self.proc else {}
        return {
            "rss_mb": round(s.get("VmRSS", 0) / 1024, 1),
            "peak_rss_mb": round(s.get("VmHWM", 0) / 1024, 1),
        }

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0


class Group:
    """Processes measured as one "server" by load_run (CPU summed; RSS per process)."""

    def __init__(self, name: str, url: str, procs: List, tree: bool = False) -> None:
        self.name, self.url, self.procs, self.tree = name, url, procs, tree

    def cpu(self) -> float:
        return sum((tree_cpu if self.tree else cpu_seconds)(p.pid) for p in self.procs)

    def rss_mb(self) -> Dict[str, float]:
        """The largest replica (each replica is a process of its own)."""
        stats = [proc_status(p.pid) for p in self.procs]
        return {
            "rss_mb": round(max(s.get("VmRSS", 0) for s in stats) / 1024, 1),
            "peak_rss_mb": round(max(s.get("VmHWM", 0) for s in stats) / 1024, 1),
        }


def our_credentials(tmp: Path) -> Path:
    """credentials.yml plus the socket.io channel if it exists (channels/socketio.py)."""
    creds = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text()) or {}
    if has_socketio() and not any("socketio" in k.lower() for k in creds):
        creds["channels.socketio.SafeSocketIOInput"] = None
    path = tmp / "credentials-ours.yml"
    path.write_text(yaml.safe_dump(creds))
    return path


def has_socketio() -> bool:
    return (PROJECT_ROOT / "channels" / "socketio.py").exists()


# What the Procfile runs: environment assignments at the start of a process's
# line (e.g. `rasa: OMP_NUM_THREADS=1 .venv/bin/rasa run ...`) apply to it.
def procfile_env(process: str) -> Dict[str, str]:
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() != process:
            continue
        env = {}
        for token in command.split():
            key, eq, value = token.partition("=")
            if not eq or not key.isidentifier():
                break
            if value.startswith("$") and value[1:] not in ("HOST", "RASA_PORT", "ACTION_PORT"):
                # e.g. SANIC_REQUEST_MAX_SIZE=$ACTION_REQUEST_MAX_SIZE: what `make run` gives
                value = os.environ.get(value[1:]) or makefile_default(value[1:]) or ""
            if value and "$" not in value:  # $HOST etc. are set by the benchmark itself
                env[key] = value
        return env
    return {}


# --ab-fixes: the same assistant without the fixes found by profiling
# (bench/README.md), to measure what they bring: perf/rasa_speedups.py switched
# off, and these variables left out.
WITHOUT_FIXES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "SANIC_KEEP_ALIVE_TIMEOUT")


def start_ours(
    name: str, tmp: Path, env: Dict[str, str], credentials: Path, without_fixes: bool = False
) -> Dict:
    action_port, rasa_port = free_port(), free_port()
    folder = tmp / name
    folder.mkdir()
    our_env = dict(
        env,
        DATABASE_URL=f"sqlite:///{folder / 'conversations.db'}",
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ACTION_PORT=str(action_port),
        RASA_PORT=str(rasa_port),
    )
    action_env = dict(our_env, **procfile_env("actions"))
    rasa_env = dict(our_env, **procfile_env("rasa"))
    if without_fixes:
        for key in WITHOUT_FIXES:
            action_env.pop(key, None)
            rasa_env.pop(key, None)
        rasa_env["RASA_SPEEDUPS"] = "off"
    actions = Server(
        f"action server ({name})",
        [PYTHON, "-m", "actions.server", "--port", str(action_port)],
        PROJECT_ROOT,
        action_env,
        folder / "actions.log",
        action_port,
    )
    rasa = Server(
        f"rasa ({name})",
        [
            RASA,
            "run",
            "--model",
            str(MODEL),
            "--interface",
            "127.0.0.1",
            "--port",
            str(rasa_port),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            str(credentials),
        ],
        PROJECT_ROOT,
        rasa_env,
        folder / "rasa.log",
        rasa_port,
    )
    return {"name": name, "rasa": rasa, "extra": [actions], "needs_real_answer": True}


def baseline_variant(baseline: Dict, env: Dict[str, str], tmp: Path) -> Dict:
    """The `rasa init` bot (costs.build_baseline) as Rasa serves it: no action server."""
    base_port = free_port()
    return {
        "name": "baseline",
        "extra": [],
        "needs_real_answer": False,
        "rasa": Server(
            "rasa (baseline)",
            [
                RASA,
                "run",
                "--model",
                str(baseline["model"]),
                "--interface",
                "127.0.0.1",
                "--port",
                str(base_port),
                "--credentials",
                "bench-credentials.yml",
            ],
            baseline["folder"],
            env,
            tmp / "rasa-baseline.log",
            base_port,
        ),
    }


def descriptions(ab_fixes: bool, cluster: bool) -> Dict[str, str]:
    """What each variant is, for RESULTS.md."""
    described = {
        "ours": "the repository as `make run` runs it (Makefile environment; the Procfile's "
        "environment for each process, e.g. one BLAS thread for Rasa)",
        **(
            {
                "ours-without-fixes": "ours without the profiling fixes (bench/README.md): "
                "no perf/rasa_speedups.py, BLAS's default threads, "
                "Sanic's default 5 s keep-alive"
            }
            if ab_fixes
            else {}
        ),
        "baseline": "`rasa init --no-prompt` (default config, in-memory tracker store, "
        "no action server)",
    }
    if cluster:
        described.update(
            {
                "pg-1-replica": "ours on PostgreSQL (tracker store, appointments, opt-outs) "
                "and Redis (lock store, rate limits, SMS state), REST through "
                "nginx to one Rasa replica; two action servers behind nginx",
                "pg-2-replicas": "the same, nginx round-robin over two Rasa replicas",
            }
        )
    return described


def start_cluster(tmp: Path) -> Dict:
    """PostgreSQL, Redis, nginx, 2 Rasa replicas, 2 action servers (cluster/stack.py);
    nginx also has a port that reaches replica 1 only, through the same proxy."""
    from cluster.stack import Stack

    # its own folder: PostgreSQL runs as the postgres user, who cannot enter `tmp` (0700)
    root = Path(tempfile.mkdtemp(prefix="achilles-bench-cluster-"))
    stack = Stack(
        root,
        replicas=2,
        action_servers=2,
        with_widget=False,
        with_console=False,
        single_replica_port=True,
        # the load generator is 127.0.0.1 behind nginx, playing many patients
        extra_env=ONE_ADDRESS_MANY_PATIENTS,
        log=lambda line: print(f"  {line}", flush=True),
    )
    started = time.perf_counter()
    stack.start()
    actions = [Group(p.name, "", [p]) for p in stack.actions]
    infra = [
        Group("postgres", "", [stack.pg], tree=True),
        Group("redis", "", [stack.redis]),
        Group("nginx", "", [stack.nginx], tree=True),
    ]
    common = {
        "extra": actions,
        "infra": infra,
        "needs_real_answer": True,
        "managed": True,
        "transports": {"rest"},
    }
    return {
        "stack": stack,
        "start_s": round(time.perf_counter() - started, 1),
        "variants": [
            dict(
                common,
                name="pg-1-replica",
                rasa=Group("rasa (1 replica)", stack.single_url, stack.rasa[:1]),
            ),
            dict(
                common, name="pg-2-replicas", rasa=Group("rasa (2 replicas)", stack.url, stack.rasa)
            ),
        ],
    }
