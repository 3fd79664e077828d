"""Checks that the Rasa server's measured settings change nothing but speed.

    .venv/bin/python bench/verify_speedups.py [--model models/achilles.tar.gz] [--sample N]

Loads the model twice, in two fresh processes: as plain Rasa runs
(RASA_SPEEDUPS=off, BLAS's default threads), and as our Rasa server runs
(perf/rasa_speedups.py installed, one BLAS/OpenMP thread: perf/blas_threads.py).
Each process reports
- every weight of any TensorFlow model in the pipeline (SHA-256 of the values),
- the NLU result (intent ranking with confidences) for every held-out message,
  or for N of them spread evenly over the file (--sample N),
- TED's action probabilities at every step of every story in
  tests/test_stories.yml (when the policies include TED),
- what Rasa's check of action-server responses says about valid and malformed
  responses (ACTION_RESPONSES),
- how long loading took.
Exits 1 if anything differs (confidences compared to 1e-6); the full run takes
~2 minutes. `make test` runs a trimmed version in a few seconds
(tests/test_speedups.py: verify_in_process, one process, 40 messages).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")
DEFAULT_MODEL = PROJECT_ROOT / "models" / "achilles.tar.gz"
HELD_OUT = "eval/heldout_nlu.yml"
STORIES = "tests/test_stories.yml"

# What an action server may answer (rasa-sdk's shapes), and what it must not.
ACTION_RESPONSES: List[Any] = [
    {},
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "timestamp": None, "name": "triage_level", "value": "urgent"}],
        "responses": [
            {
                "text": "Call the office now.",
                "buttons": [{"title": "Book", "payload": "/request_appointment"}],
                "elements": [],
                "custom": {},
                "template": None,
                "response": None,
                "image": None,
                "attachment": None,
            }
        ],
    },
    {
        "events": [
            {"event": "followup", "name": "action_listen"},
            {"event": "active_loop", "name": None},
        ]
    },
    {"events": {"event": "slot"}},
    {"events": [{"name": "no_event_type"}]},
    {"events": [{"event": "not_an_event"}]},
    {"events": [{"event": "slot", "name": 5, "value": 1}]},
    {"responses": ["a bare string"]},
    {"events": None},
    "not an object",
    [],
]


def validation_outcomes() -> List[List[Any]]:
    """Rasa's verdict on each of ACTION_RESPONSES: accepted, or the error it raises."""
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("action_verify_speedups", None)
    outcomes = []
    for response in ACTION_RESPONSES:
        try:
            outcomes.append(["accepted", action._validate_action_result(copy.deepcopy(response))])
        except Exception as error:  # the verdict itself is what is compared
            outcomes.append([type(error).__name__, str(error)])
    return outcomes


def sample_evenly(items: List[Any], sample: Optional[int]) -> List[Any]:
    if not sample or sample >= len(items):
        return items
    step = len(items) / sample
    return [items[int(i * step)] for i in range(sample)]


def report(agent: Any, sample: Optional[int] = None) -> dict:
    """What the loaded agent predicts, and Rasa's verdicts on ACTION_RESPONSES."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.training_data.loading import load_data

    from channels.sanitize import sanitize_user_text
    from perf import rasa_speedups

    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[attr-defined]
    weights, ted = {}, None
    for name, node in sorted(nodes.items()):
        component = getattr(node, "_component", None)
        model = getattr(component, "model", None)
        if model is None or not hasattr(model, "weights"):
            continue
        weights[name] = {
            w.name: hashlib.sha256(w.numpy().tobytes()).hexdigest()[:16] for w in model.weights
        }
        if type(component).__name__ == "TEDPolicy":
            ted = component

    texts = sample_evenly(
        [e.get("text") for e in load_data(str(PROJECT_ROOT / HELD_OUT)).intent_examples], sample
    )

    async def parse_all():
        return [await agent.parse_message(sanitize_user_text(t)) for t in texts]

    nlu = [
        [(r["name"], round(float(r["confidence"]), 6)) for r in p.get("intent_ranking", [])]
        or [((p.get("intent") or {}).get("name"), None)]
        for p in asyncio.run(parse_all())
    ]

    core = []
    if ted is not None:
        from rasa.core.test import _create_data_generator

        domain = agent.domain
        trackers = _create_data_generator(
            str(PROJECT_ROOT / STORIES), agent
        ).generate_story_trackers()
        for tracker in trackers:
            events = list(tracker.events)
            for i, event in enumerate(events):
                if isinstance(event, ActionExecuted) and i > 0:
                    prefix = DialogueStateTracker.from_events(
                        tracker.sender_id, events[:i], domain.slots
                    )
                    prediction = ted.predict_action_probabilities(prefix, domain)
                    core.append([round(float(p), 6) for p in prediction.probabilities])
    return {
        "weights": weights,
        "nlu": nlu,
        "core": core,
        "validation": validation_outcomes(),
        "speedups_installed": rasa_speedups.is_installed(),
    }


def dump(model_path: str, out: Path, speedups: bool, sample: Optional[int]) -> None:
    """Runs inside one fresh process: load, predict, write JSON."""
    sys.path.insert(0, str(PROJECT_ROOT))
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.ERROR)
    configure_structlog(logging.ERROR)
    from rasa.core.agent import Agent

    from perf import rasa_speedups

    if speedups:
        rasa_speedups.install()  # as channels/__init__.py does in the Rasa server
    start = time.perf_counter()
    agent = Agent.load(model_path)
    load_s = time.perf_counter() - start
    out.write_text(json.dumps({"load_s": load_s, **report(agent, sample)}))


def run(model: str, speedups: bool, out: Path, sample: Optional[int] = None) -> dict:
    from perf.blas_threads import ONE_BLAS_THREAD
    from perf.rasa_speedups import SWITCH_ENV

    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    for key in ("PYTHONPATH", SWITCH_ENV, *ONE_BLAS_THREAD):
        env.pop(key, None)
    if speedups:
        env.update(ONE_BLAS_THREAD)
    else:  # nothing may install it behind our back (channels/__init__.py)
        env[SWITCH_ENV] = "off"
    command = [PYTHON, __file__, "--dump", str(out), "--model", model]
    if speedups:
        command.append("--with-speedups")
    if sample:
        command += ["--sample", str(sample)]
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True)
    return json.loads(out.read_text())


def compare(a: dict, b: dict) -> list:
    """Differences between `a` (as plain Rasa) and `b` (as our server)."""
    problems = []
    if a["speedups_installed"] or not b["speedups_installed"]:
        problems.append(
            f"perf/rasa_speedups.py installed: {a['speedups_installed']} "
            f"as plain Rasa, {b['speedups_installed']} as our server"
        )
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
            for (_, p), (_, q) in zip(x, y)
        ):
            problems.append(f"NLU message {i}: {x[:2]} vs {y[:2]}")
    if len(a["nlu"]) != len(b["nlu"]):
        problems.append("different number of NLU results")
    if len(a["core"]) != len(b["core"]) or any(
        abs(p - q) > 1e-6 for x, y in zip(a["core"], b["core"]) for p, q in zip(x, y)
    ):
        problems.append("TED action probabilities differ")
    for i, (x, y) in enumerate(zip(a["validation"], b["validation"])):
        if x != y:
            problems.append(f"action response {i} {ACTION_RESPONSES[i]!r}: {x} vs {y}")
    return problems


def verify(
    model: str = str(DEFAULT_MODEL), sample: Optional[int] = None
) -> Tuple[dict, dict, List[str]]:
    """(as plain Rasa, as our server, differences): both runs in fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = run(model, False, Path(tmp) / "plain.json", sample)
        fast = run(model, True, Path(tmp) / "fast.json", sample)
    return plain, fast, compare(plain, fast)


def verify_in_process(
    model: str = str(DEFAULT_MODEL), sample: Optional[int] = 40
) -> Tuple[dict, dict, List[str]]:
    """The same comparison in this process, for the tests: one agent, read first
    as plain Rasa, then with perf/rasa_speedups.py installed and BLAS limited to
    one thread at run time (threadpoolctl, which scikit-learn brings) instead of
    at start-up. Leaves the speed-up installed or not, as it found it."""
    from rasa.core.agent import Agent
    from threadpoolctl import threadpool_limits

    from perf import rasa_speedups

    agent = Agent.load(model)
    was_installed = rasa_speedups.is_installed()
    rasa_speedups.uninstall()
    try:
        plain = report(agent, sample)
        with threadpool_limits(limits=1):
            rasa_speedups.install()
            fast = report(agent, sample)
    finally:
        if not was_installed:
            rasa_speedups.uninstall()
    return plain, fast, compare(plain, fast)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--sample", type=int, help="only N held-out messages, spread evenly")
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--with-speedups", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        dump(args.model, Path(args.dump), args.with_speedups, args.sample)
        return
    sys.path.insert(0, str(PROJECT_ROOT))
    plain, fast, problems = verify(args.model, args.sample)
    n_weights = sum(len(w) for w in plain["weights"].values())
    print(
        f"model load: {plain['load_s']:.1f}s as plain Rasa, {fast['load_s']:.1f}s as our "
        f"server (load average {os.getloadavg()[0]:.2f})"
    )
    print(
        f"compared {n_weights} weights in {len(plain['weights'])} models, "
        f"{len(plain['nlu'])} NLU results, {len(plain['core'])} TED predictions, "
        f"{len(plain['validation'])} action-server responses"
    )
    if problems:
        print("DIFFERENT:\n  " + "\n  ".join(problems[:20]))
        sys.exit(1)
    print("identical")


if __name__ == "__main__":
    main()
