"""Checks that perf/rasa_speedups.py changes nothing but speed.

    .venv/bin/python bench/verify_speedups.py [--model models/achilles.tar.gz]

Loads the model twice, in two fresh processes: as Rasa does, and with the
speed-ups installed (PYTHONPATH=perf/site). Each process reports
- every weight of the DIET and TED TensorFlow models (SHA-256 of the values),
- the NLU result (intent ranking with confidences) for every held-out message,
- TED's action probabilities at every step of every story in tests/test_stories.yml,
- how long loading took.
Exits 1 if anything differs (confidences compared to 1e-6).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")


def dump(model_path: str, out: Path) -> None:
    """Runs inside one process: load, predict, write JSON."""
    sys.path.insert(0, str(PROJECT_ROOT))
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    configure_logging_and_warnings(logging.ERROR)
    configure_structlog(logging.ERROR)
    from rasa.core.agent import Agent
    from rasa.core.test import _create_data_generator
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.training_data.loading import load_data

    from channels.sanitize import sanitize_user_text

    start = time.perf_counter()
    agent = Agent.load(model_path)
    load_s = time.perf_counter() - start

    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[attr-defined]
    weights, ted = {}, None
    for name, node in sorted(nodes.items()):
        component = getattr(node, "_component", None)
        model = getattr(component, "model", None)
        if model is None or not hasattr(model, "weights"):
            continue
        weights[name] = {w.name: hashlib.sha256(w.numpy().tobytes()).hexdigest()[:16]
                         for w in model.weights}
        if type(component).__name__ == "TEDPolicy":
            ted = component

    texts = [e.get("text") for e in load_data("eval/heldout_nlu.yml").intent_examples]

    async def parse_all():
        return [await agent.parse_message(sanitize_user_text(t)) for t in texts]

    nlu = [[(r["name"], round(float(r["confidence"]), 6)) for r in p.get("intent_ranking", [])]
           or [((p.get("intent") or {}).get("name"), None)] for p in asyncio.run(parse_all())]

    core = []
    if ted is not None:
        domain = agent.domain
        trackers = _create_data_generator("tests/test_stories.yml", agent).generate_story_trackers()
        for tracker in trackers:
            events = list(tracker.events)
            for i, event in enumerate(events):
                if isinstance(event, ActionExecuted) and i > 0:
                    prefix = DialogueStateTracker.from_events(
                        tracker.sender_id, events[:i], domain.slots)
                    prediction = ted.predict_action_probabilities(prefix, domain)
                    core.append([round(float(p), 6) for p in prediction.probabilities])
    out.write_text(json.dumps({"load_s": load_s, "weights": weights, "nlu": nlu,
                               "core": core}))


def run(model: str, speedups: bool, out: Path) -> dict:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    if speedups:
        env["PYTHONPATH"] = str(PROJECT_ROOT / "perf" / "site")
    subprocess.run([PYTHON, __file__, "--dump", str(out), "--model", model],
                   cwd=PROJECT_ROOT, env=env, check=True)
    return json.loads(out.read_text())


def compare(a: dict, b: dict) -> list:
    problems = []
    if a["weights"].keys() != b["weights"].keys():
        problems.append(f"models differ: {sorted(a['weights'])} vs {sorted(b['weights'])}")
    for name in a["weights"]:
        wa, wb = a["weights"][name], b["weights"].get(name, {})
        if wa != wb:
            diff = sorted(set(wa.items()) ^ set(wb.items()))
            problems.append(f"{name}: {len(diff)} weights differ, e.g. {diff[:2]}")
    for i, (x, y) in enumerate(zip(a["nlu"], b["nlu"])):
        if [n for n, _ in x] != [n for n, _ in y] or any(
                (p is None) != (q is None) or (p is not None and abs(p - q) > 1e-6)
                for (_, p), (_, q) in zip(x, y)):
            problems.append(f"NLU message {i}: {x[:2]} vs {y[:2]}")
    if len(a["nlu"]) != len(b["nlu"]):
        problems.append("different number of NLU results")
    if len(a["core"]) != len(b["core"]) or any(
            abs(p - q) > 1e-6 for x, y in zip(a["core"], b["core"]) for p, q in zip(x, y)):
        problems.append("TED action probabilities differ")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "achilles.tar.gz"))
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        dump(args.model, Path(args.dump))
        return
    with tempfile.TemporaryDirectory() as tmp:
        plain = run(args.model, False, Path(tmp) / "plain.json")
        fast = run(args.model, True, Path(tmp) / "fast.json")
    problems = compare(plain, fast)
    n_weights = sum(len(w) for w in plain["weights"].values())
    print(f"model load: {plain['load_s']:.1f}s as Rasa does it, {fast['load_s']:.1f}s with "
          f"perf/rasa_speedups.py (load average {os.getloadavg()[0]:.2f})")
    print(f"compared {n_weights} weights in {len(plain['weights'])} models, "
          f"{len(plain['nlu'])} NLU results, {len(plain['core'])} TED predictions")
    if problems:
        print("DIFFERENT:\n  " + "\n  ".join(problems[:20]))
        sys.exit(1)
    print("identical")


if __name__ == "__main__":
    main()
