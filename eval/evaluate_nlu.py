"""Held-out NLU evaluation: prints per-intent precision/recall/F1 and confusions.

eval/heldout_nlu.yml is never used for training (tests/test_nlu_data.py checks
that none of its messages appear in data/nlu). Each message goes through the
channel sanitiser and the trained model's full NLU pipeline, including the
red-flag rules and the FallbackClassifier, exactly as in production.
This is a benchmark that prints figures, not a pass/fail test.

Usage: python eval/evaluate_nlu.py --model models/achilles.tar.gz \
           --data eval/heldout_nlu.yml [--json results/nlu_eval.json]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402

from rasa.core.agent import load_agent  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from sklearn.metrics import precision_recall_fscore_support  # noqa: E402

from channels.sanitize import sanitize_user_text  # noqa: E402

EMERGENCY = "emergency"
FALLBACK = "nlu_fallback"


async def predict(model: str, texts):
    agent = await load_agent(model_path=model)
    predictions = []
    for text in texts:
        parsed = await agent.parse_message(sanitize_user_text(text))
        predictions.append((parsed.get("intent") or {}).get("name") or FALLBACK)
    return predictions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="models/achilles.tar.gz")
    parser.add_argument("--data", default="eval/heldout_nlu.yml")
    parser.add_argument("--json", default="results/nlu_eval.json")
    args = parser.parse_args()
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    examples = load_data(args.data).intent_examples
    texts = [e.get("text") for e in examples]
    truth = [e.get("intent") for e in examples]
    predicted = asyncio.run(predict(args.model, texts))

    labels = sorted(set(truth))
    p, r, f, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0)
    print(f"{'intent':32} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}")
    for label, pi, ri, fi, n in zip(labels, p, r, f, support):
        print(f"{label:32} {pi:6.2f} {ri:6.2f} {fi:6.2f} {n:4d}")

    accuracy = sum(t == q for t, q in zip(truth, predicted)) / len(truth)
    macro_f1 = float(f.mean())
    emergencies = [q for t, q in zip(truth, predicted) if t == EMERGENCY]
    emergency_recall = sum(q == EMERGENCY for q in emergencies) / max(len(emergencies), 1)
    false_emergencies = [(x, t) for x, t, q in zip(texts, truth, predicted)
                         if q == EMERGENCY and t != EMERGENCY]
    fallbacks = sum(q == FALLBACK for q in predicted)
    print(f"\nmessages: {len(truth)}  accuracy: {accuracy:.3f}  macro-F1: {macro_f1:.3f}")
    print(f"emergency recall: {emergency_recall:.3f} ({len(emergencies)} red-flag messages)")
    print(f"false emergencies: {len(false_emergencies)}")
    for text, t in false_emergencies:
        print(f"  [{t}] {text}")
    print(f"fell back (nlu_fallback): {fallbacks}")

    confusions = collections.Counter(
        (t, q) for t, q in zip(truth, predicted) if t != q)
    print("\nmost frequent confusions (true -> predicted):")
    for (t, q), n in confusions.most_common(15):
        print(f"  {n:3d}  {t} -> {q}")
    missed = [(x, q) for x, t, q in zip(texts, truth, predicted)
              if t == EMERGENCY and q != EMERGENCY]
    if missed:
        print("\nmissed emergencies:")
        for text, q in missed:
            print(f"  [{q}] {text}")

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({
        "messages": len(truth), "accuracy": accuracy, "macro_f1": macro_f1,
        "emergency_recall": emergency_recall, "false_emergencies": len(false_emergencies),
        "fallbacks": fallbacks,
        "per_intent": {l: {"precision": float(a), "recall": float(b), "f1": float(c),
                           "support": int(n)}
                       for l, a, b, c, n in zip(labels, p, r, f, support)},
    }, indent=2))


if __name__ == "__main__":
    main()
