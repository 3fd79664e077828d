"""Trains each NLU configuration of eval/ablation/ (and config.yml) and evaluates it.

    .venv/bin/python eval/ablation.py [--only 3,4] [--out results/ablation]

Every configuration is trained from scratch (NLU only, empty cache) on
data/nlu and measured with eval/evaluate_nlu.py on the held-out and realistic
development sets; the table printed at the end is the one in eval/RESULTS.md.
The DIET configurations take 5-15 minutes each on a 2-core machine
(`make ablation` runs them all: about 40 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))

from evaluate_nlu import main as evaluate  # noqa: E402

RASA = str(ROOT / ".venv" / "bin" / "rasa")


def configurations():
    found = sorted((ROOT / "eval" / "ablation").glob("*.yml"))
    return [(p.stem, p) for p in found] + [("6_final_config", ROOT / "config.yml")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated numbers, e.g. 3,4")
    parser.add_argument("--out", default=str(ROOT / "results" / "ablation"))
    args = parser.parse_args()
    wanted = {x.strip() for x in args.only.split(",")} if args.only else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, config in configurations():
        if wanted and name.split("_")[0] not in wanted:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(
                os.environ,
                RASA_TELEMETRY_ENABLED="false",
                RASA_CACHE_DIRECTORY=str(Path(tmp) / "cache"),
            )
            started = time.perf_counter()
            subprocess.run(
                [
                    RASA,
                    "train",
                    "nlu",
                    "--config",
                    str(config),
                    "--nlu",
                    "data/nlu",
                    "--out",
                    tmp,
                    "--fixed-model-name",
                    name,
                ],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            print(f"\n##### {name}: trained in {seconds:.0f} s", flush=True)
            figures = evaluate(
                [
                    "--model",
                    str(Path(tmp) / f"{name}.tar.gz"),
                    "--quiet",
                    "--json",
                    str(out / f"{name}.json"),
                ]
            )
        rows.append((name, seconds, figures))
    print(
        "\n| configuration | train s | set | accuracy | macro-F1 | fallback | safety recall "
        "| false escalations |\n|---|---|---|---|---|---|---|---|"
    )
    for name, seconds, figures in rows:
        for set_name, f in figures.items():
            print(
                f"| {name} | {seconds:.0f} | {set_name} | {f['accuracy']:.3f} | "
                f"{f['macro_f1']:.3f} | {f['fallback_rate']:.3f} | {f['safety_recall']:.3f} | "
                f"{f['false_escalations']} |"
            )
    (out / "summary.json").write_text(
        json.dumps([{"name": n, "train_s": s, "figures": f} for n, s, f in rows], indent=2)
    )


if __name__ == "__main__":
    main()
