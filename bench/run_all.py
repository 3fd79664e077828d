"""Benchmarks: latency/throughput under load, cost, accuracy; ours vs a `rasa init` baseline.

    .venv/bin/python bench/run_all.py            # everything (~45 min on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # smaller load, no training runs

Prints the figures and writes bench/results.json and bench/RESULTS.md
(see bench/README.md for what is measured and how to read it).

Everything runs on loopback on free ports, in a temporary folder that is
removed at the end; servers are stopped by this script. models/achilles.tar.gz
is used as it is (run `make train` first); training-time figures train into the
temporary folder with an empty Rasa cache (RASA_CACHE_DIRECTORY), never into
models/.

Variants, running side by side: "ours" (the repository as `make run` runs it),
"baseline" (`rasa init --no-prompt`), with --ab-fixes "ours-without-fixes"
(no perf/rasa_speedups.py, Sanic's default keep-alive; see bench/README.md), and
with --cluster "pg-1-replica" and "pg-2-replicas": the same assistant on
PostgreSQL + Redis behind nginx (cluster/stack.py, two action servers), REST
sent through nginx to one replica or round-robin to two. Each load level runs on every variant back to back, so
background load from other work on the machine hits them alike. The 1-minute load average
before each run and the server CPU time per message are recorded with every
figure.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import requests
import yaml

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(PROJECT_ROOT))

from conversations import conversations  # noqa: E402
from loadgen import TROUBLE, rest_load, socketio_load  # noqa: E402
from servers import VENV_BIN, base_env, free_port, makefile_default, stop_process  # noqa: E402

MODEL = PROJECT_ROOT / "models" / "achilles.tar.gz"
RASA = str(VENV_BIN / "rasa")
PYTHON = str(VENV_BIN / "python")

TARGETS = {
    "p95_ms_at_10": 100.0,
    "msgs_per_s_at_50": 50.0,
    "start_to_first_answer_s": 30.0,
    "rasa_rss_mb": 1536.0,
}


# ---------------------------------------------------------------- processes --

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


class Server:
    """One `rasa run` / `python -m actions.server` process on a free loopback port."""

    def __init__(self, name: str, args: List[str], cwd: Path, env: Dict[str, str],
                 log: Path, port: int) -> None:
        self.name, self.args, self.cwd, self.env, self.log, self.port = (
            name, args, cwd, env, log, port)
        self.proc: Optional[subprocess.Popen] = None
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env, stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self) -> None:
        stop_process(self.proc)

    def rss_mb(self) -> Dict[str, float]:
        s = proc_status(self.proc.pid) if self.proc else {}
        return {"rss_mb": round(s.get("VmRSS", 0) / 1024, 1),
                "peak_rss_mb": round(s.get("VmHWM", 0) / 1024, 1)}

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc else 0.0


def wait_first_answer(rasa: Server, timeout: float, needs_real_answer: bool) -> Dict:
    """Seconds from process start until the webhook answers a patient message."""
    deadline = time.monotonic() + timeout
    probe = 0
    port_open_s = None
    while time.monotonic() < deadline:
        if rasa.proc.poll() is not None:
            raise RuntimeError(f"{rasa.name} exited with code {rasa.proc.returncode}; "
                               f"see {rasa.log}")
        probe += 1
        try:
            r = requests.post(f"{rasa.url}/webhooks/rest/webhook", timeout=30,
                              json={"sender": f"startup-probe-{probe}",
                                    "message": "what are the symptoms of a torn achilles?"})
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if port_open_s is None:
            port_open_s = time.perf_counter() - rasa.started_at
        texts = " ".join(m.get("text") or "" for m in r.json()) if r.ok else ""
        if r.ok and texts and not (needs_real_answer and TROUBLE in texts):
            return {"start_to_first_answer_s": round(time.perf_counter() - rasa.started_at, 2),
                    "start_to_port_open_s": round(port_open_s, 2), "probes": probe}
        time.sleep(0.2)
    raise TimeoutError(f"{rasa.name}: no answer after {timeout:.0f}s; see {rasa.log}")


def run_timed(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path) -> float:
    start = time.perf_counter()
    with open(log, "ab") as out:
        result = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({result.returncode}); see {log}")
    return round(time.perf_counter() - start, 1)


# ---------------------------------------------------------------- assistants --

def build_baseline(tmp: Path, env: Dict[str, str], reuse: Optional[Path] = None) -> Dict:
    """`rasa init --no-prompt` in a temp folder: scaffold + train the default bot.

    `reuse` (--baseline-dir, for working on the benchmark itself): a folder kept
    from an earlier run; it is built there once and reused afterwards."""
    folder = reuse or tmp / "baseline"
    record = folder / "bench-train.json"
    if reuse and record.exists():
        seconds = json.loads(record.read_text())["train_s"]
    else:
        folder.mkdir(parents=True, exist_ok=True)
        seconds = run_timed(
            [RASA, "init", "--no-prompt", "--init-dir", str(folder)], folder,
            dict(env, RASA_CACHE_DIRECTORY=str(tmp / "cache-baseline")),
            tmp / "baseline-train.log")
        record.write_text(json.dumps({"train_s": seconds}))
    model = max((folder / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    (folder / "bench-credentials.yml").write_text(
        "rest:\nsocketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n"
        "  session_persistence: false\n")
    return {"folder": folder, "model": model, "train_s": seconds,
            "model_mb": round(model.stat().st_size / 2**20, 1)}


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


def training_costs(tmp: Path, env: Dict[str, str]) -> Dict:
    """Cold training (empty cache) and incremental training (one NLU example changed)."""
    cache = tmp / "cache-ours"
    out = tmp / "models"
    env = dict(env, RASA_CACHE_DIRECTORY=str(cache))
    log = tmp / "train-ours.log"
    common = [RASA, "train", "--config", "config.yml", "--domain", "domain.yml", "--out", str(out)]
    cold = run_timed(common + ["--data", "data", "--fixed-model-name", "cold"],
                     PROJECT_ROOT, env, log)
    data = tmp / "data-incremental"
    shutil.copytree(PROJECT_ROOT / "data", data)
    nlu = data / "nlu" / "treatment.yml"
    text = nlu.read_text()
    marker = "    - can a torn achilles heal without surgery\n"
    if marker not in text:
        raise RuntimeError(f"incremental training: example to change not found in {nlu}")
    nlu.write_text(text.replace(marker, "    - can a torn achilles tendon heal without any surgery\n", 1))
    incremental = run_timed(common + ["--data", str(data), "--fixed-model-name", "incremental"],
                            PROJECT_ROOT, env, log)
    return {"cold_train_s": cold, "incremental_train_s": incremental,
            "cold_model_mb": round((out / "cold.tar.gz").stat().st_size / 2**20, 1)}


def nlu_accuracy(tmp: Path, env: Dict[str, str]) -> Dict:
    path = tmp / "nlu_eval.json"
    seconds = run_timed([PYTHON, "eval/evaluate_nlu.py", "--model", str(MODEL), "--quiet",
                         "--json", str(path)], PROJECT_ROOT, env, tmp / "eval.log")
    result = {name: {k: v for k, v in figures.items() if k != "per_intent"}
              for name, figures in json.loads(path.read_text()).items()}
    result["eval_s"] = seconds
    return result


def accuracy_line(name: str, acc: Dict) -> str:
    return (f"{name}: {acc['messages']} messages, accuracy {acc['accuracy']:.3f}, macro-F1 "
            f"{acc['macro_f1']:.3f}, fallback rate {acc['fallback_rate']:.3f}, safety recall "
            f"{acc['safety_recall']:.3f} (right tier {acc['right_tier']:.3f}), false "
            f"escalations {acc['false_escalations']}")


# ---------------------------------------------------------------------- load --

def load_run(transport: str, server: Server, extra: List[Server], level: int,
             n_convs: int, prefix: str, think_s=None, rest_p99_ms=None,
             silence_ok: bool = False, infra: Optional[List] = None) -> Dict:
    convs = conversations(n_convs, seed=level)
    before_cpu = server.cpu() + sum(s.cpu() for s in extra)
    before_infra = sum(s.cpu() for s in infra or [])
    load_before = loadavg()
    if transport == "rest":
        stats = asyncio.run(rest_load(server.url, convs, level, prefix, think_s=think_s))
    else:
        # a socket.io turn with no message within 3x the REST p99 (at least 5 s) has no reply
        wait = max(5.0, 3 * (rest_p99_ms or 20_000) / 1000)
        stats = asyncio.run(socketio_load(server.url, convs, level, reply_timeout=wait,
                                          silence_ok=silence_ok))
    cpu = server.cpu() + sum(s.cpu() for s in extra) - before_cpu
    summary = stats.summary()
    summary["server_cpu_ms_per_msg"] = round(1000 * cpu / max(summary["messages"], 1), 1)
    if infra:  # PostgreSQL, Redis, nginx (SQLite's work is inside the Rasa process)
        summary["infra_cpu_ms_per_msg"] = round(
            1000 * (sum(s.cpu() for s in infra) - before_infra) / max(summary["messages"], 1), 1)
    summary["loadavg_1m_before"] = load_before
    summary["loadavg_1m_after"] = loadavg()
    return summary


def print_run(who: str, s: Dict) -> None:
    extra = (f" last-reply p95 {s['last_reply_p95_ms']}ms" if "last_reply_p95_ms" in s else "")
    paced = " paced" if s.get("think_s") else ""
    print(f"  {who:11} {s['transport']:8} c={s['concurrency']:<3}{paced} msgs={s['messages']:<5} "
          f"p50={s['p50_ms']}ms p95={s['p95_ms']}ms p99={s['p99_ms']}ms "
          f"{s['messages_per_s']} msg/s errors={s['errors']} empty={s['empty_replies']} "
          f"cpu/msg={s['server_cpu_ms_per_msg']}ms"
          + (f" (+{s['infra_cpu_ms_per_msg']}ms PG/Redis/nginx)" if "infra_cpu_ms_per_msg" in s
             else "")
          + f" load={s['loadavg_1m_before']}->{s.get('loadavg_1m_after')}{extra}",
          flush=True)
    for example in s.get("error_examples", [])[:2]:
        print(f"              e.g. {example}")


def conversations_for(level: int, quick: bool) -> int:
    """Enough conversations for stable percentiles; at least one per worker."""
    if quick:
        return max(level, 4)
    return max(level, {1: 10, 10: 20, 50: 50}.get(level, level))


# ------------------------------------------------------------------ machine --

def machine() -> Dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    others = subprocess.run(["pgrep", "-fc", "rasa (run|train)"], capture_output=True,
                            text=True).stdout.strip()
    import rasa
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "rasa": rasa.__version__, "loadavg_at_start": os.getloadavg(),
            "other_rasa_processes_at_start": int(others or 0)}


# ------------------------------------------------------------------ variants --

# What the Procfile runs: environment assignments at the start of a process's
# line (e.g. `rasa: PYTHONPATH=perf/site .venv/bin/rasa run ...`) apply to it.
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
                env[key] = str(PROJECT_ROOT / value) if key == "PYTHONPATH" else value
        return env
    return {}


# --ab-fixes: the same assistant without the fixes found by profiling
# (bench/README.md), to measure what they bring.
WITHOUT_FIXES = ("PYTHONPATH", "SANIC_KEEP_ALIVE_TIMEOUT")


def start_ours(name: str, tmp: Path, env: Dict[str, str], credentials: Path,
               without_fixes: bool = False) -> Dict:
    action_port, rasa_port = free_port(), free_port()
    folder = tmp / name
    folder.mkdir()
    our_env = dict(env, DATABASE_URL=f"sqlite:///{folder / 'conversations.db'}",
                   ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
                   ACTION_PORT=str(action_port), RASA_PORT=str(rasa_port))
    action_env = dict(our_env, **procfile_env("actions"))
    rasa_env = dict(our_env, **procfile_env("rasa"))
    if without_fixes:
        for key in WITHOUT_FIXES:
            action_env.pop(key, None)
            rasa_env.pop(key, None)
    actions = Server(f"action server ({name})", [PYTHON, "-m", "actions.server",
                                                 "--port", str(action_port)],
                     PROJECT_ROOT, action_env, folder / "actions.log", action_port)
    rasa = Server(f"rasa ({name})", [RASA, "run", "--model", str(MODEL), "--interface",
                                     "127.0.0.1", "--port", str(rasa_port), "--endpoints",
                                     "endpoints.yml", "--credentials", str(credentials)],
                  PROJECT_ROOT, rasa_env, folder / "rasa.log", rasa_port)
    return {"name": name, "rasa": rasa, "extra": [actions], "needs_real_answer": True}


# ------------------------------------------------------------------ cluster --

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


class Group:
    """Processes measured as one "server" by load_run (CPU summed; RSS per process)."""

    def __init__(self, name: str, url: str, procs: List, tree: bool = False) -> None:
        self.name, self.url, self.procs, self.tree = name, url, procs, tree

    def cpu(self) -> float:
        return sum((tree_cpu if self.tree else cpu_seconds)(p.pid) for p in self.procs)

    def rss_mb(self) -> Dict[str, float]:
        """The largest replica (each replica is a process of its own)."""
        stats = [proc_status(p.pid) for p in self.procs]
        return {"rss_mb": round(max(s.get("VmRSS", 0) for s in stats) / 1024, 1),
                "peak_rss_mb": round(max(s.get("VmHWM", 0) for s in stats) / 1024, 1)}


def start_cluster(tmp: Path) -> Dict:
    """PostgreSQL, Redis, nginx, 2 Rasa replicas, 2 action servers (cluster/stack.py);
    nginx also has a port that reaches replica 1 only, through the same proxy."""
    from cluster.stack import Stack

    # its own folder: PostgreSQL runs as the postgres user, who cannot enter `tmp` (0700)
    root = Path(tempfile.mkdtemp(prefix="achilles-bench-cluster-"))
    stack = Stack(root, replicas=2, action_servers=2, with_widget=False,
                  with_console=False, single_replica_port=True,
                  log=lambda line: print(f"  {line}", flush=True))
    started = time.perf_counter()
    stack.start()
    actions = [Group(p.name, "", [p]) for p in stack.actions]
    infra = [Group("postgres", "", [stack.pg], tree=True), Group("redis", "", [stack.redis]),
             Group("nginx", "", [stack.nginx], tree=True)]
    common = {"extra": actions, "infra": infra, "needs_real_answer": True, "managed": True,
              "transports": {"rest"}}
    return {"stack": stack, "start_s": round(time.perf_counter() - started, 1), "variants": [
        dict(common, name="pg-1-replica",
             rasa=Group("rasa (1 replica)", stack.single_url, stack.rasa[:1])),
        dict(common, name="pg-2-replicas",
             rasa=Group("rasa (2 replicas)", stack.url, stack.rasa)),
    ]}


# --------------------------------------------------------------------- main --

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,10,50,200",
                        help="concurrent conversations per load run (default 1,10,50,200)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer conversations per level; skip the training-time runs")
    parser.add_argument("--skip-training", action="store_true",
                        help="skip cold/incremental training of our model")
    parser.add_argument("--skip-socketio", action="store_true")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--ab-fixes", action="store_true",
                        help="also measure 'ours-without-fixes' (no perf/rasa_speedups.py, "
                             "Sanic's default keep-alive)")
    parser.add_argument("--json", default=str(BENCH_DIR / "results.json"))
    parser.add_argument("--markdown", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument("--baseline-dir", help="build the baseline here once and reuse it")
    parser.add_argument("--cluster", action="store_true",
                        help="also one vs two Rasa replicas on PostgreSQL + Redis behind nginx "
                             "(cluster/stack.py; REST only)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep logs and models")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing: run `make train` first")

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="achilles-bench-"))
    env = base_env()
    for key in ("RASA_CACHE_DIRECTORY", "PYTHONPATH"):
        env.pop(key, None)  # the servers get the Makefile's and Procfile's configuration
    results: Dict = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                     "machine": machine(), "targets": TARGETS,
                     "model": {"path": str(MODEL.relative_to(PROJECT_ROOT)),
                               "size_mb": round(MODEL.stat().st_size / 2**20, 1)}}
    print(f"machine: {results['machine']}\ntemp folder: {tmp}", flush=True)
    started_servers: List[Server] = []
    cluster = None
    try:
        print("\n== baseline: rasa init --no-prompt (scaffold + train) ==", flush=True)
        baseline = build_baseline(tmp, env, Path(args.baseline_dir) if args.baseline_dir else None)
        results["baseline"] = {k: v for k, v in baseline.items() if k not in ("folder", "model")}
        print(f"  trained in {baseline['train_s']}s, model {baseline['model_mb']} MB", flush=True)

        if not (args.quick or args.skip_training):
            print("\n== cost: training our model (temp out dir, empty cache) ==", flush=True)
            results["training"] = training_costs(tmp, env)
            print(f"  {results['training']}", flush=True)

        if not args.skip_eval:
            print("\n== accuracy: eval/evaluate_nlu.py on the held-out and dev sets ==",
                  flush=True)
            results["accuracy"] = nlu_accuracy(tmp, env)
            for name in ("heldout", "dev"):
                print("  " + accuracy_line(name, results["accuracy"][name]), flush=True)

        credentials = our_credentials(tmp)
        variants = [start_ours("ours", tmp, env, credentials)]
        if args.ab_fixes:
            variants.append(start_ours("ours-without-fixes", tmp, env, credentials,
                                       without_fixes=True))
        base_port = free_port()
        variants.append({"name": "baseline", "extra": [], "needs_real_answer": False,
                         "rasa": Server("rasa (baseline)", [
                             RASA, "run", "--model", str(baseline["model"]), "--interface",
                             "127.0.0.1", "--port", str(base_port),
                             "--credentials", "bench-credentials.yml"],
                             baseline["folder"], env, tmp / "rasa-baseline.log", base_port)})
        results["variants"] = {
            "ours": "the repository as `make run` runs it (Makefile environment; the Procfile's "
                    "environment for each process, e.g. PYTHONPATH=perf/site for Rasa)",
            **({"ours-without-fixes": "ours without the profiling fixes (bench/README.md): "
                                      "no perf/rasa_speedups.py, Sanic's default 5 s "
                                      "keep-alive"} if args.ab_fixes else {}),
            "baseline": "`rasa init --no-prompt` (default config, in-memory tracker store, "
                        "no action server)"}
        if args.cluster:
            results["variants"].update({
                "pg-1-replica": "ours on PostgreSQL (tracker store, appointments, opt-outs) "
                                "and Redis (lock store, rate limits, SMS state), REST through "
                                "nginx to one Rasa replica; two action servers behind nginx",
                "pg-2-replicas": "the same, nginx round-robin over two Rasa replicas"})

        print("\n== start-up: process start to first answer (one at a time) ==", flush=True)
        results["startup"] = {}
        for v in variants:
            for server in v["extra"] + [v["rasa"]]:
                started_servers.append(server.start())  # action server with Rasa, as honcho
            results["startup"][v["name"]] = wait_first_answer(v["rasa"], 400,
                                                              v["needs_real_answer"])
            print(f"  {v['name']:11} {results['startup'][v['name']]}", flush=True)
        if args.cluster:
            print("\n== cluster: PostgreSQL, Redis, nginx, 2 Rasa + 2 action servers ==",
                  flush=True)
            cluster = start_cluster(tmp)
            variants[-1:-1] = cluster["variants"]  # before the baseline
            results["cluster"] = {"start_s": cluster["start_s"],
                                  "note": "all services and both replicas started in parallel"}
        results["memory_idle"] = {v["name"]: v["rasa"].rss_mb() for v in variants}
        results["memory_idle"]["action_server"] = variants[0]["extra"][0].rss_mb()

        for v in variants:  # warm-up (first predictions build TF functions), not measured
            n = 4 if v.get("managed") else 2  # round-robin: warm both replicas
            asyncio.run(rest_load(v["rasa"].url, conversations(n, seed=99), n, "warmup"))

        transports = ["rest"] + ([] if args.skip_socketio or not has_socketio() else ["socketio"])
        results["socketio_channel"] = ("channels/socketio.py (SafeSocketIOInput)"
                                       if has_socketio() else "not present: not measured")
        results["load"] = {v["name"]: [] for v in variants}
        runs = [(t, level, None) for t in transports for level in levels]
        runs.insert(len(levels), ("rest", 10, (1.0, 3.0)))  # 10 patients reading and typing
        stamp = int(time.time())
        for transport, level, think in runs:
            title = f"{transport}, {level} concurrent" + (f", think time {think} s" if think else "")
            print(f"\n== load: {title} ==", flush=True)
            for v in variants:
                if transport not in v.get("transports", {"rest", "socketio"}):
                    continue
                n = conversations_for(level, args.quick)
                rest = find(results, v["name"], "rest", level)
                try:
                    summary = load_run(transport, v["rasa"], v["extra"], level, n,
                                   f"{transport}-{v['name'].replace('+', '-')}-{level}-{stamp}",
                                       think_s=think, rest_p99_ms=rest and rest["p99_ms"],
                                       silence_ok=not v["needs_real_answer"],
                                       infra=v.get("infra"))
                except Exception as error:  # keep the other figures
                    print(f"  {v['name']}: {transport} c={level} failed: {error!r}", flush=True)
                    results.setdefault("failed_runs", []).append(
                        f"{v['name']} {transport} c={level}: {error!r}")
                    continue
                results["load"][v["name"]].append(summary)
                print_run(v["name"], summary)

        results["memory_after_load"] = {v["name"]: v["rasa"].rss_mb() for v in variants}
        results["memory_after_load"]["action_server"] = variants[0]["extra"][0].rss_mb()
        print(f"\n== memory (MB) ==\n  idle: {results['memory_idle']}\n"
              f"  after load: {results['memory_after_load']}", flush=True)
    finally:
        if cluster:
            cluster["stack"].stop()
            if not args.keep_tmp:
                shutil.rmtree(cluster["stack"].root, ignore_errors=True)
        for server in reversed(started_servers):
            server.stop()
        if args.keep_tmp:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    results["ratios"] = ratios(results)
    results["verdict"] = verdict(results)
    results["total_bench_s"] = round(time.perf_counter() - started, 1)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    Path(args.markdown).write_text(markdown(results))
    print("\n== ratios to the baseline ==")
    for key, value in results["ratios"].items():
        print(f"  {key}: {value}")
    print("\n== targets ==")
    for row in results["verdict"]:
        print(f"  {'PASS' if row['met'] else 'MISS'}  [{row['who']}] {row['target']}: "
              f"{row['measured']}")
    print(f"\nwrote {args.json} and {args.markdown} ({results['total_bench_s']}s)")


def find(results: Dict, who: str, transport: str, level: int, paced: bool = False
         ) -> Optional[Dict]:
    for s in results.get("load", {}).get(who, []):
        if (s["transport"] == transport and s["concurrency"] == level
                and bool(s.get("think_s")) == paced):
            return s
    return None


def ratio(a, b) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def ours_names(results: Dict) -> List[str]:
    return [name for name in results.get("load", {}) if name != "baseline"]


def ratios(results: Dict) -> Dict:
    out: Dict = {}
    for who in ours_names(results):
        for s in results["load"][who]:
            paced = bool(s.get("think_s"))
            b = find(results, "baseline", s["transport"], s["concurrency"], paced)
            if b:
                key = f"{who}: {s['transport']}@{s['concurrency']}{' paced' if paced else ''}"
                out[f"{key} p95 latency"] = ratio(s["p95_ms"], b["p95_ms"])
                out[f"{key} messages/s"] = ratio(s["messages_per_s"], b["messages_per_s"])
                out[f"{key} server CPU/msg"] = ratio(s["server_cpu_ms_per_msg"],
                                                     b["server_cpu_ms_per_msg"])
        st = results.get("startup", {})
        if who in st and "baseline" in st:
            out[f"{who}: start to first answer"] = ratio(
                st[who]["start_to_first_answer_s"], st["baseline"]["start_to_first_answer_s"])
        mem = results.get("memory_after_load", {})
        if who in mem and "baseline" in mem:
            out[f"{who}: Rasa peak RSS"] = ratio(mem[who]["peak_rss_mb"],
                                                 mem["baseline"]["peak_rss_mb"])
    for s in results.get("load", {}).get("pg-2-replicas", []):
        one = find(results, "pg-1-replica", s["transport"], s["concurrency"], bool(s.get("think_s")))
        if one:
            key = f"pg-2-replicas / pg-1-replica: {s['transport']}@{s['concurrency']}" + (
                " paced" if s.get("think_s") else "")
            out[f"{key} messages/s"] = ratio(s["messages_per_s"], one["messages_per_s"])
    if "training" in results:
        out["cold training time"] = ratio(results["training"]["cold_train_s"],
                                          results["baseline"]["train_s"])
    out["model size"] = ratio(results["model"]["size_mb"], results["baseline"]["model_mb"])
    return out


def verdict(results: Dict) -> List[Dict]:
    rows = []
    for who in ours_names(results):
        s10 = find(results, who, "rest", 10)
        if s10:
            rows.append({"who": who, "target": "p95 <= 100 ms at 10 concurrent (REST)",
                         "measured": f"{s10['p95_ms']} ms", "met": (s10["p95_ms"] or 1e9) <= 100})
        p10 = find(results, who, "rest", 10, paced=True)
        if p10:
            rows.append({"who": who, "target": "(same, patients pausing 1-3 s between messages)",
                         "measured": f"{p10['p95_ms']} ms", "met": (p10["p95_ms"] or 1e9) <= 100})
        s50 = find(results, who, "rest", 50)
        if s50:
            rows.append({"who": who,
                         "target": ">= 50 msg/s at 50 concurrent with zero errors (REST)",
                         "measured": f"{s50['messages_per_s']} msg/s, {s50['errors']} errors",
                         "met": s50["messages_per_s"] >= 50 and s50["errors"] == 0})
        b50 = find(results, "baseline", "rest", 50)
        if s50 and b50:
            rows.append({"who": who, "target": "server CPU per message <= 0.8x the baseline's "
                                               "(REST, 50 concurrent)",
                         "measured": f"{s50['server_cpu_ms_per_msg']} vs "
                                     f"{b50['server_cpu_ms_per_msg']} ms: "
                                     f"{ratio(s50['server_cpu_ms_per_msg'], b50['server_cpu_ms_per_msg'])}x",
                         "met": s50["server_cpu_ms_per_msg"] <= 0.8 * b50["server_cpu_ms_per_msg"]})
        st = results.get("startup", {}).get(who)
        if st:
            rows.append({"who": who, "target": "start to first answer <= 30 s",
                         "measured": f"{st['start_to_first_answer_s']} s",
                         "met": st["start_to_first_answer_s"] <= 30})
        mem = results.get("memory_after_load", {}).get(who)
        if mem:
            rows.append({"who": who, "target": "Rasa server RSS <= 1.5 GB (peak)",
                         "measured": f"{mem['peak_rss_mb']} MB",
                         "met": mem["peak_rss_mb"] <= 1536})
    two, one = find(results, "pg-2-replicas", "rest", 50), find(results, "pg-1-replica", "rest", 50)
    if two and one:
        rows.append({"who": "pg-2-replicas", "target": ">= 1.6x pg-1-replica's msg/s at 50 "
                                                       "concurrent (REST), 0 errors",
                     "measured": f"{two['messages_per_s']} vs {one['messages_per_s']} msg/s: "
                                 f"{ratio(two['messages_per_s'], one['messages_per_s'])}x, "
                                 f"{two['errors']} errors",
                     "met": two["messages_per_s"] >= 1.6 * one["messages_per_s"]
                     and two["errors"] == 0})
    return rows


def markdown(r: Dict) -> str:
    m = r["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `.venv/bin/python bench/run_all.py` on {r['date']}; method, "
        "profiles and proposed fixes in bench/README.md.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}, Rasa {m['rasa']}. Load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}; "
        f"{m['other_rasa_processes_at_start']} other Rasa processes were running. Other "
        "engineers' tests share the 2 cores, so latency and start-up figures are pessimistic; "
        "server CPU time per message is the steadier figure.",
        "",
    ]
    for name, description in r.get("variants", {}).items():
        lines.append(f"- **{name}**: {description}")
    if "cluster" in r:
        lines += ["", f"Cluster start (PostgreSQL, Redis, nginx, 2 Rasa and 2 action servers, "
                      f"all in parallel): {r['cluster']['start_s']} s. Its server CPU is the "
                      "Rasa replicas' plus the action servers'; PostgreSQL, Redis and nginx are "
                      "shown apart (ours does its SQLite work inside the Rasa process)."]
    lines += ["", "## Targets", "", "| variant | target | measured | |", "|---|---|---|---|"]
    for row in r.get("verdict", []):
        lines.append(f"| {row['who']} | {row['target']} | {row['measured']} | "
                     f"{'met' if row['met'] else 'MISSED'} |")
    lines += ["", "## Load (closed-loop multi-turn conversations)", "",
              "| transport | conc. | variant | msgs | p50 ms | p95 ms | p99 ms | msg/s | errors "
              "| server CPU ms/msg | PG+Redis+nginx CPU ms/msg | load avg before / after |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    names = list(r.get("load", {}))
    seen = []
    for s in (x for who in names for x in r["load"][who]):
        paced = bool(s.get("think_s"))
        if (s["transport"], s["concurrency"], paced) in seen:
            continue
        seen.append((s["transport"], s["concurrency"], paced))
        for who in names:
            x = find(r, who, s["transport"], s["concurrency"], paced)
            if x:
                conc = f"{x['concurrency']}{' (1-3 s pauses)' if paced else ''}"
                lines.append(
                    f"| {x['transport']} | {conc} | {who} | {x['messages']} | "
                    f"{x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {x['messages_per_s']} | "
                    f"{x['errors']} | {x['server_cpu_ms_per_msg']} | "
                    f"{x.get('infra_cpu_ms_per_msg', '')} | {x['loadavg_1m_before']} / "
                    f"{x.get('loadavg_1m_after', '')} |")
    lines += ["", f"socket.io: {r.get('socketio_channel')}. Its latency is the time to the "
              "first `bot_uttered` of a turn; its msg/s includes a 0.3 s end-of-turn silence "
              "wait per turn, so compare socket.io rows only with each other. Errors are "
              "transport errors, non-200s and technical-trouble replies; the baseline's empty "
              "replies (it has nothing to say to some questions) are not errors.", ""]
    lines += ["## Cost", "", "| figure | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    st, tr, bl = r.get("startup", {}), r.get("training", {}), r.get("baseline", {})

    def row(label, values):
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    if tr:
        row("cold training (empty cache)", [f"{tr['cold_train_s']} s" if n == "ours"
                                            else f"{bl.get('train_s')} s (incl. scaffold)"
                                            if n == "baseline" else "(same model)"
                                            for n in names])
        row("incremental training (1 NLU example changed)",
            [f"{tr['incremental_train_s']} s" if n == "ours" else "" for n in names])
    if st:
        row("process start to first answer", [f"{st[n]['start_to_first_answer_s']} s"
                                              if n in st else "" for n in names])
    mi, ma = r.get("memory_idle", {}), r.get("memory_after_load", {})
    if ma:
        row("Rasa server RSS idle / peak (per replica)",
            [f"{mi[n]['rss_mb']} / {ma[n]['peak_rss_mb']} MB" for n in names])
        row("action server RSS idle / peak",
            [f"{mi['action_server']['rss_mb']} / {ma['action_server']['peak_rss_mb']} MB"
             if n != "baseline" else "(none)" for n in names])
    row("model size", [f"{r['model']['size_mb']} MB" if n != "baseline"
                       else f"{bl.get('model_mb')} MB" for n in names])
    acc = r.get("accuracy")
    if acc and "heldout" in acc:
        lines += ["", "## Accuracy (eval/evaluate_nlu.py)", ""] + [
            "- " + accuracy_line(name, acc[name]) for name in ("heldout", "dev") if name in acc]
    lines += ["", "## Ratios to the baseline", "", "| figure | ratio |", "|---|---|"]
    for key, value in r.get("ratios", {}).items():
        lines.append(f"| {key} | {value} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
