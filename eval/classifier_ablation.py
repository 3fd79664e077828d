"""The intent classifier's options, one at a time, in process (seconds, not minutes).

Trains `SentenceIntentClassifier` on a training-data directory and measures it
on the held-out, realistic dev and FAQ-heading sets for each configuration of
CONFIGS: the classifier, then the language detector, then the
FallbackClassifier's rule (below `threshold` or within `ambiguity` of the
runner-up: "Did you mean...?"), as config.yml chains them. The safety triage
is left out (its rules do not depend on the classifier; `make eval` has the
whole pipeline). For each set it prints accuracy, macro-F1 and the "Did you
mean...?" rate, and on the dev set how often a labelled second question
(`also`) is found as `secondary_intent`.

Usage: python eval/classifier_ablation.py [--data data/nlu] [--only NAME ...]
           [--sets heldout dev faq] [--errors SET] [--json results/classifier_ablation.json]
           [--sweep]  (also a grid of question/neighbour weights on the dev set)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from evaluate_nlu import load_set  # noqa: E402
from rasa.engine.graph import ExecutionContext  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from channels.sanitize import sanitize_user_text  # noqa: E402
from nlu_components.language import LanguageDetector  # noqa: E402
from nlu_components.sentence_classifier import SentenceIntentClassifier  # noqa: E402

FALLBACK = "nlu_fallback"
THRESHOLD, AMBIGUITY = 0.25, 0.02  # config.yml's FallbackClassifier
BEFORE = {"C": 30, "diet_weight": 0.0}  # config.yml before issue 18
QUESTIONS = {"question_weight": 1.0, "question_blend": "emphasis"}
NEIGHBOURS = {"knn_weight": 0.2, "knn_temperature": 0.02}
CONFIGS: Dict[str, Dict] = {
    "before": dict(BEFORE),
    "question sentences": {**BEFORE, **QUESTIONS},
    "nearest neighbours": {**BEFORE, **NEIGHBOURS},
    "both": {**BEFORE, **QUESTIONS, **NEIGHBOURS},
    "C 120": {**BEFORE, "C": 120},
    "final (C 120, both)": {**BEFORE, "C": 120, **QUESTIONS, **NEIGHBOURS},
}


CACHE = ROOT / "results" / "embedding_cache.joblib"


def persistent_embeddings() -> None:
    """Keeps this tool's MiniLM vectors on disk between runs (a development aid:
    the same texts are measured again and again)."""
    import joblib
    import numpy as np

    from nlu_components.sentence_embeddings import get_encoder

    encoder = get_encoder()
    encoder.set_cache_size(200_000)
    stored = joblib.load(CACHE) if CACHE.exists() else {}
    compute = encoder._encode_uncached

    def encode(texts, max_len):
        missing = [t for t in texts if (t, max_len) not in stored]
        if missing:
            for t, vector in zip(missing, compute(missing, max_len)):
                stored[(t, max_len)] = vector
        return np.stack([stored[(t, max_len)] for t in texts])

    encoder._encode_uncached = encode
    import atexit

    CACHE.parent.mkdir(exist_ok=True)
    atexit.register(joblib.dump, stored, CACHE)


def train(data_dir: Path, config: Dict) -> SentenceIntentClassifier:
    files = sorted(data_dir.glob("*.yml"))
    data = TrainingData().merge(*[load_data(str(f)) for f in files])
    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="classifier-ablation-")))
    resource = Resource("sentence_classifier")
    component = SentenceIntentClassifier.create(config, storage, resource, ExecutionContext(None))
    component.train(data)
    return component


def parse(component, detector, text: str, config: Dict) -> Dict:
    component.config = {**component.get_default_config(), **config}
    message = Message(data={"text": sanitize_user_text(text)})
    component.process([message])
    detector.process([message])
    ranking = [r for r in message.get("intent_ranking") or [] if r["name"] != FALLBACK]
    top = message.get("intent") or {}
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    name = top.get("name")
    confidence = float(top.get("confidence") or 0)
    if confidence < 1.0 and (confidence < THRESHOLD or confidence - second < AMBIGUITY):
        name = FALLBACK
    return {"intent": name, "secondary": message.get("secondary_intent")}


def measure(component, detector, config: Dict, sets: Dict[str, List[Dict]]) -> Dict:
    out = {}
    for name, examples in sets.items():
        parsed = [parse(component, detector, e["text"], config) for e in examples]
        truth = [e["intent"] for e in examples]
        predicted = [p["intent"] for p in parsed]
        labels = sorted(set(truth))
        row = {
            "accuracy": sum(t == q for t, q in zip(truth, predicted)) / len(truth),
            "macro_f1": f1_score(truth, predicted, labels=labels, average="macro", zero_division=0),
            "did_you_mean": sum(q == FALLBACK for q in predicted) / len(truth),
        }
        multi = [(e, p) for e, p in zip(examples, parsed) if e.get("also")]
        if multi:
            row["second_found"] = sum(
                p["secondary"] is not None
                and p["secondary"] != p["intent"]
                and p["secondary"] in set(e["also"]) | {e["intent"]}
                for e, p in multi
            ) / len(multi)
            row["multi"] = len(multi)
        row["errors"] = [
            (e["text"], e["intent"], q) for e, q in zip(examples, predicted) if q != e["intent"]
        ]
        out[name] = row
    return out


def show(label: str, result: Dict) -> None:
    cells = []
    for name, row in result.items():
        cell = f"{name} {row['accuracy']:.3f}/{row['macro_f1']:.3f}/{row['did_you_mean']:.3f}"
        if "second_found" in row:
            cell += f" 2nd {row['second_found']:.2f} of {row['multi']}"
        cells.append(cell)
    print(f"{label:28} " + "  ".join(cells), flush=True)


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT / "data" / "nlu"))
    parser.add_argument("--only", nargs="*", help="configurations of CONFIGS to run")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--sets", nargs="*", default=["heldout", "dev", "faq"])
    parser.add_argument("--errors", help="print the errors of this set for the last config")
    parser.add_argument("--json", help="write the figures (without the errors) here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    persistent_embeddings()
    sets = {name: load_set(name) for name in args.sets}
    # one training per value of C serves every configuration: the other options
    # only change reading
    components = {}
    detector = LanguageDetector.create(
        LanguageDetector.get_default_config(), None, None, ExecutionContext(None)
    )
    print("set accuracy/macro-F1/did-you-mean rate", flush=True)
    results = {}
    for label, config in CONFIGS.items():
        if args.only and label not in args.only:
            continue
        if config["C"] not in components:
            components[config["C"]] = train(Path(args.data), config)
        results[label] = measure(components[config["C"]], detector, config, sets)
        show(label, results[label])
    component = components.get(BEFORE["C"]) or train(Path(args.data), dict(BEFORE))
    if args.sweep:  # the grid the neighbours' weight and temperature were chosen on
        for k in (0.2, 0.3, 0.5):
            for t in (0.02, 0.05, 0.1):
                config = {**BEFORE, **QUESTIONS, "knn_weight": k, "knn_temperature": t}
                show(f"knn {k} temperature {t}", measure(component, detector, config, sets))
        for q in (0.3, 0.5, 0.7, 1.0):  # and the question's weight, both ways
            for blend in ("emphasis", "linear"):
                config = {**BEFORE, **NEIGHBOURS, "question_weight": q, "question_blend": blend}
                show(f"question {q} {blend}", measure(component, detector, config, sets))
    if args.json:
        import json

        figures = {
            label: {
                name: {k: v for k, v in row.items() if k != "errors"} for name, row in r.items()
            }
            for label, r in results.items()
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if args.errors and results:
        for text, truth, predicted in list(results.values())[-1][args.errors]["errors"]:
            print(f"  [{truth} -> {predicted}] {text[:160]}")
    return results


if __name__ == "__main__":
    main()
