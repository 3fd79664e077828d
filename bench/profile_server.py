"""Where does a turn's time go? py-spy profiles of the Rasa server under load.

    .venv/bin/pip install py-spy      # a profiling tool, not a project dependency
    .venv/bin/python bench/profile_server.py [--concurrency 10] [--conversations 40]
    .venv/bin/python bench/profile_server.py --startup     # profile start-up instead
    .venv/bin/python bench/profile_server.py --postgres    # one replica on PostgreSQL + Redis

Starts the real action server and Rasa server (tests/servers.py, fresh SQLite
DB in a temp folder), drives REST conversations (bench/loadgen.py) while
`py-spy record` samples the Rasa server (and the action server), then prints
the functions with the largest inclusive share of samples, grouped by what
they are (NLU featurizers, DIET/TED, tracker store, action server calls ...).
Extra environment for the servers: --env KEY=VALUE (repeatable), e.g.
--env TF_INTRA_OP_PARALLELISM_THREADS=1. Collapsed stacks are kept in --out.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Dict, List

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(BENCH_DIR))

import servers  # noqa: E402
from conversations import conversations  # noqa: E402
from loadgen import rest_load  # noqa: E402
from proc_stats import cpu_seconds  # noqa: E402
from servers import MODEL_PATH, VENV_BIN, base_env, free_port, rasa_run_args, running_assistant  # noqa: E402

PY_SPY = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")

# substring of a frame -> the bucket it is reported under (first match wins,
# searched from the innermost frame outwards)
BUCKETS = [
    ("stores/tracker_store.py", "tracker store (SQL)"),
    ("tracker_store.py", "tracker store (SQL)"),
    ("psycopg2", "tracker store (SQL)"),
    ("redis/", "lock store"),
    ("sentence_classifier", "intent classifier (TF-IDF + MiniLM regression)"),
    ("sentence_embeddings", "intent classifier (TF-IDF + MiniLM regression)"),
    ("triage", "safety triage"),
    ("sqlalchemy", "tracker store (SQL)"),
    ("sqlite3", "tracker store (SQL)"),
    ("lock_store.py", "lock store"),
    ("action.py:run (rasa/core/actions", "custom action HTTP call"),
    ("aiohttp", "HTTP client/server (aiohttp)"),
    ("spacy", "spaCy (SpacyNLP/tokenizer)"),
    ("count_vectors_featurizer", "CountVectorsFeaturizer"),
    ("diet_classifier", "DIETClassifier"),
    ("ted_policy", "TEDPolicy"),
    ("unexpected_intent", "UnexpecTED"),
    ("memoization", "MemoizationPolicy"),
    ("rule_policy", "RulePolicy"),
    ("tensorflow", "TensorFlow (other)"),
    ("keras", "TensorFlow (other)"),
    ("featurizers/tracker_featurizers", "tracker featurization"),
    ("single_state_featurizer", "tracker featurization"),
    ("trackers.py", "tracker (DialogueStateTracker)"),
    ("domain.py", "domain (states)"),
    ("events", "events (de)serialisation"),
    ("json", "JSON"),
    ("sanic", "Sanic"),
    ("red_flags", "red-flag rules"),
]


def bucket_of(stack: List[str]) -> str:
    for frame in reversed(stack):
        for needle, name in BUCKETS:
            if needle in frame:
                return name
    return "other"


def summarise(collapsed: Path, top: int = 25) -> str:
    inclusive: Dict[str, int] = collections.Counter()
    buckets: Dict[str, int] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        count = int(count_text)
        stack = stack_text.split(";")
        total += count
        buckets[bucket_of(stack)] += count
        for frame in set(stack):
            inclusive[frame] += count
    lines = [
        f"samples: {total} (py-spy leaves out idle threads)",
        "",
        "by component (innermost matching frame):",
    ]
    for name, count in buckets.most_common():
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {name}")
    lines += ["", f"top {top} frames by inclusive share of all samples:"]
    for frame, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame[:150]}")
    return "\n".join(lines)


def record(
    pid: int, out: Path, duration: int, rate: int, subprocesses: bool = False
) -> subprocess.Popen:
    args = [
        PY_SPY,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--output",
        str(out),
        "--duration",
        str(duration),
        "--rate",
        str(rate),
        "--nonblocking",
    ]
    if subprocesses:
        args.append("--subprocesses")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextlib.contextmanager
def on_postgres(extra_env: Dict[str, str]):
    """One Rasa replica and one action server on PostgreSQL + Redis (cluster/stack.py),
    shaped like running_assistant's result."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from cluster.stack import Stack

    root = Path(tempfile.mkdtemp(prefix="achilles-profile-pg-"))
    stack = Stack(
        root,
        replicas=1,
        action_servers=1,
        with_widget=False,
        with_console=False,
        extra_env=extra_env,
    )
    try:
        stack.start()
        yield types.SimpleNamespace(
            url=stack.replica_url(0),
            proc=stack.rasa[0].proc,
            action_server=types.SimpleNamespace(proc=stack.actions[0].proc),
        )
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


def profile_load(args, extra_env: Dict[str, str], out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="achilles-profile-"))
    try:
        with (
            on_postgres(extra_env) if args.postgres else running_assistant(work, **extra_env)
        ) as rasa:
            asyncio.run(rest_load(rasa.url, conversations(4, seed=99), 4, "warmup"))
            convs = conversations(args.conversations, seed=args.concurrency)
            pids = [rasa.proc.pid, rasa.action_server.proc.pid]
            spies = (
                []
                if args.no_spy
                else [
                    record(pids[0], out / "rasa.txt", args.duration, args.rate),
                    record(pids[1], out / "actions.txt", args.duration, args.rate),
                ]
            )
            time.sleep(1)
            cpu_before = [cpu_seconds(pid) for pid in pids]
            stats = asyncio.run(rest_load(rasa.url, convs, args.concurrency, "profile"))
            cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
            for spy in spies:
                spy.wait()
            summary = stats.summary()
            print(
                {
                    k: summary[k]
                    for k in (
                        "concurrency",
                        "messages",
                        "p50_ms",
                        "p95_ms",
                        "p99_ms",
                        "messages_per_s",
                        "errors",
                    )
                }
            )
            n = max(summary["messages"], 1)
            print(
                f"server CPU per message: Rasa {1000 * cpu[0] / n:.1f} ms, action server "
                f"{1000 * cpu[1] / n:.1f} ms (load average {os.getloadavg()[0]:.2f}; "
                f"extra env {extra_env or 'none'})"
            )
            if not args.no_spy:
                print(f"\n== Rasa server ==\n{summarise(out / 'rasa.txt')}")
                print(f"\n== action server ==\n{summarise(out / 'actions.txt', top=10)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def profile_startup(args, extra_env: Dict[str, str], out: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="achilles-profile-"))
    port = free_port()
    env = base_env(
        DATABASE_URL=f"sqlite:///{work / 'c.db'}",
        ACTION_SERVER_URL="http://127.0.0.1:9/webhook",
        **extra_env,
    )
    try:
        subprocess.run(
            [
                PY_SPY,
                "record",
                "--format",
                "raw",
                "--output",
                str(out / "startup.txt"),
                "--rate",
                str(args.rate),
                "--duration",
                str(args.duration),
                "--",
                *rasa_run_args(port, MODEL_PATH),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(summarise(out / "startup.txt", top=40))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--duration", type=int, default=30, help="seconds py-spy samples")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--model", help="another model than models/achilles.tar.gz")
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--no-spy", action="store_true", help="only measure, do not profile")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the Rasa server on PostgreSQL + Redis (cluster/stack.py)",
    )
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the servers")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "achilles-profile"))
    args = parser.parse_args()
    if not PY_SPY and not args.no_spy:
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    extra_env = dict(item.split("=", 1) for item in args.env)
    if args.model:
        global MODEL_PATH
        MODEL_PATH = servers.MODEL_PATH = Path(args.model).resolve()
    (profile_startup if args.startup else profile_load)(args, extra_env, out)
    print(f"\ncollapsed stacks in {out}")


if __name__ == "__main__":
    main()
