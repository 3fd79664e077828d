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
(no perf/rasa_speedups.py, BLAS's default threads, Sanic's default keep-alive; see
bench/README.md), and
with --cluster "pg-1-replica" and "pg-2-replicas": the same assistant on
PostgreSQL + Redis behind nginx (cluster/stack.py, two action servers), REST
sent through nginx to one replica or round-robin to two. Each load level runs on every variant back to back, so
background load from other work on the machine hits them alike. The 1-minute load average
before each run and the server CPU time per message are recorded with every
figure.
"""

# The parts: variants.py (what runs), measure.py (start-up and load runs),
# costs.py (training and accuracy), proc_stats.py (/proc), report.py (verdict,
# ratios, RESULTS.md); loadgen.py and conversations.py drive the load.
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT / "tests"))
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(PROJECT_ROOT))

from conversations import conversations  # noqa: E402
from costs import accuracy_line, build_baseline, nlu_accuracy, training_costs  # noqa: E402
from loadgen import rest_load  # noqa: E402
from measure import conversations_for, load_run, print_run, wait_first_answer  # noqa: E402
from proc_stats import machine  # noqa: E402
from report import TARGETS, find, markdown, ratios, verdict  # noqa: E402
from servers import MODEL_PATH as MODEL  # noqa: E402
from servers import base_env  # noqa: E402
from variants import (  # noqa: E402
    Server,
    baseline_variant,
    descriptions,
    has_socketio,
    our_credentials,
    start_cluster,
    start_ours,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--levels",
        default="1,10,50,200",
        help="concurrent conversations per load run (default 1,10,50,200)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer conversations per level; skip the training-time runs",
    )
    parser.add_argument(
        "--skip-training", action="store_true", help="skip cold/incremental training of our model"
    )
    parser.add_argument("--skip-socketio", action="store_true")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument(
        "--ab-fixes",
        action="store_true",
        help="also measure 'ours-without-fixes' (no perf/rasa_speedups.py, "
        "BLAS's default threads, Sanic's default keep-alive)",
    )
    parser.add_argument("--json", default=str(BENCH_DIR / "results.json"))
    parser.add_argument("--markdown", default=str(BENCH_DIR / "RESULTS.md"))
    parser.add_argument("--baseline-dir", help="build the baseline here once and reuse it")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="also one vs two Rasa replicas on PostgreSQL + Redis behind nginx "
        "(cluster/stack.py; REST only)",
    )
    parser.add_argument("--keep-tmp", action="store_true", help="keep logs and models")
    return parser.parse_args()


def costs_and_accuracy(
    args: argparse.Namespace, tmp: Path, env: Dict[str, str], results: Dict
) -> Dict:
    """Builds the baseline (its training time is a cost), then our training times and
    the NLU evaluation unless skipped; returns the baseline (costs.build_baseline)."""
    print("\n== baseline: rasa init --no-prompt (scaffold + train) ==", flush=True)
    baseline = build_baseline(tmp, env, Path(args.baseline_dir) if args.baseline_dir else None)
    results["baseline"] = {k: v for k, v in baseline.items() if k not in ("folder", "model")}
    print(f"  trained in {baseline['train_s']}s, model {baseline['model_mb']} MB", flush=True)

    if not (args.quick or args.skip_training):
        print("\n== cost: training our model (temp out dir, empty cache) ==", flush=True)
        results["training"] = training_costs(tmp, env)
        print(f"  {results['training']}", flush=True)

    if not args.skip_eval:
        print("\n== accuracy: eval/evaluate_nlu.py on the held-out and dev sets ==", flush=True)
        results["accuracy"] = nlu_accuracy(tmp, env)
        for name in ("heldout", "dev"):
            print("  " + accuracy_line(name, results["accuracy"][name]), flush=True)
    return baseline


def declare_variants(
    args: argparse.Namespace, tmp: Path, env: Dict[str, str], baseline: Dict, results: Dict
) -> List[Dict]:
    """ours (and ours-without-fixes), then the baseline, not started yet; the cluster
    variants join once the others' start-up has been measured."""
    credentials = our_credentials(tmp)
    variants = [start_ours("ours", tmp, env, credentials)]
    if args.ab_fixes:
        variants.append(start_ours("ours-without-fixes", tmp, env, credentials, without_fixes=True))
    variants.append(baseline_variant(baseline, env, tmp))
    results["variants"] = descriptions(args.ab_fixes, args.cluster)
    return variants


def measure_startup(variants: List[Dict], results: Dict, started_servers: List[Server]) -> None:
    print("\n== start-up: process start to first answer (one at a time) ==", flush=True)
    results["startup"] = {}
    for v in variants:
        for server in v["extra"] + [v["rasa"]]:
            started_servers.append(server.start())  # action server with Rasa, as honcho
        results["startup"][v["name"]] = wait_first_answer(v["rasa"], 400, v["needs_real_answer"])
        print(f"  {v['name']:11} {results['startup'][v['name']]}", flush=True)


def measure_load(
    args: argparse.Namespace, levels: List[int], variants: List[Dict], results: Dict
) -> None:
    """Memory idle, a warm-up, every load level on every variant back to back (so
    background load hits them alike), memory after the load."""
    results["memory_idle"] = {v["name"]: v["rasa"].rss_mb() for v in variants}
    results["memory_idle"]["action_server"] = variants[0]["extra"][0].rss_mb()

    for v in variants:  # warm-up (first predictions build TF functions), not measured
        n = 4 if v.get("managed") else 2  # round-robin: warm both replicas
        asyncio.run(rest_load(v["rasa"].url, conversations(n, seed=99), n, "warmup"))

    transports = ["rest"] + ([] if args.skip_socketio or not has_socketio() else ["socketio"])
    results["socketio_channel"] = (
        "channels/socketio.py (SafeSocketIOInput)"
        if has_socketio()
        else "not present: not measured"
    )
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
                summary = load_run(
                    transport,
                    v["rasa"],
                    v["extra"],
                    level,
                    n,
                    f"{transport}-{v['name'].replace('+', '-')}-{level}-{stamp}",
                    think_s=think,
                    rest_p99_ms=rest and rest["p99_ms"],
                    silence_ok=not v["needs_real_answer"],
                    infra=v.get("infra"),
                )
            except Exception as error:  # keep the other figures
                print(f"  {v['name']}: {transport} c={level} failed: {error!r}", flush=True)
                results.setdefault("failed_runs", []).append(
                    f"{v['name']} {transport} c={level}: {error!r}"
                )
                continue
            results["load"][v["name"]].append(summary)
            print_run(v["name"], summary)

    results["memory_after_load"] = {v["name"]: v["rasa"].rss_mb() for v in variants}
    results["memory_after_load"]["action_server"] = variants[0]["extra"][0].rss_mb()
    print(
        f"\n== memory (MB) ==\n  idle: {results['memory_idle']}\n"
        f"  after load: {results['memory_after_load']}",
        flush=True,
    )


def write_results(args: argparse.Namespace, results: Dict, started: float) -> None:
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
        print(
            f"  {'PASS' if row['met'] else 'MISS'}  [{row['who']}] {row['target']}: "
            f"{row['measured']}"
        )
    print(f"\nwrote {args.json} and {args.markdown} ({results['total_bench_s']}s)")


def main() -> None:
    args = parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing: run `make train` first")

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="achilles-bench-"))
    env = base_env()
    for key in ("RASA_CACHE_DIRECTORY", "PYTHONPATH"):
        env.pop(key, None)  # the servers get the Makefile's and Procfile's configuration
    results: Dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "targets": TARGETS,
        "model": {
            "path": str(MODEL.relative_to(PROJECT_ROOT)),
            "size_mb": round(MODEL.stat().st_size / 2**20, 1),
        },
    }
    print(f"machine: {results['machine']}\ntemp folder: {tmp}", flush=True)
    started_servers: List[Server] = []
    cluster: Optional[Dict] = None
    try:
        baseline = costs_and_accuracy(args, tmp, env, results)
        variants = declare_variants(args, tmp, env, baseline, results)
        measure_startup(variants, results, started_servers)
        if args.cluster:
            print(
                "\n== cluster: PostgreSQL, Redis, nginx, 2 Rasa + 2 action servers ==", flush=True
            )
            cluster = start_cluster(tmp)
            variants[-1:-1] = cluster["variants"]  # before the baseline
            results["cluster"] = {
                "start_s": cluster["start_s"],
                "note": "all services and both replicas started in parallel",
            }
        measure_load(args, levels, variants, results)
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
    write_results(args, results, started)


if __name__ == "__main__":
    main()
