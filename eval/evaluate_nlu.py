"""NLU evaluation on the held-out and realistic development sets (never trained on).

Every message goes through the channel sanitiser and the trained model's full
NLU pipeline (DIET, language detection, FallbackClassifier, safety triage),
exactly as in production, and the final intent is compared with the label:
the reply the message deserves (INTENTS.md). "Did you mean...?"
(nlu_fallback) counts as an error.

Sets:
- eval/heldout_nlu.yml: Rasa NLU format, one label per message;
- eval/dev_realistic.yml: long posts, timelines, jargon, relatives, typos, SMS
  style, questions the page does not answer; `intent` is the main question,
  `also` other questions asked (reported as "lenient" accuracy, and how often
  the second question is found as the `secondary_intent` button);
- eval/heldout_nlu.es.yml (`--set es`): the Spanish held-out set, Rasa NLU
  format like the English one (issue 19);
- eval/dev_realistic.es.yml (`--set es_dev`): the Spanish realistic set,
  written blind (informal LA Spanish, Spanglish, relatives, SMS), in the dev
  set's format;
- eval/faq_headings.yml (`--set faq`): FAQ-style headings ("What causes an
  Achilles tendon rupture?"), which must all be right (tests/test_faq_headings.py);
- eval/dev_posts.yml (`--set posts`): real-post style messages written blind,
  in the dev set's format (`not_covered_other`: a question for the general
  hand-off, counted as an error).

Prints per-intent precision/recall/F1, accuracy, macro-F1, fallback rate, the
"Did you mean...?" rate and how many of those lack the phone and form (bare),
hand-off recall and precision on questions the page does not cover,
safety recall (both tiers) and false escalations, and the main confusions.
A benchmark that prints figures, not a pass/fail test.

Usage: python eval/evaluate_nlu.py [--model models/achilles.tar.gz]
           [--set heldout|dev|es|es_dev|es_dev2|faq|posts|posts2|posts3|all] [--file SET.yml ...]
       [--json results/nlu_eval.json] [--quiet]
       (all: every set; with --file, only the files unless --set names one)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from rasa.core.agent import load_agent  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402
from sklearn.metrics import precision_recall_fscore_support  # noqa: E402

from channels.sanitize import sanitize_user_text  # noqa: E402

FALLBACK = "nlu_fallback"
SAFETY = ("emergency", "urgent_problem")
SETS = {
    "heldout": ROOT / "eval" / "heldout_nlu.yml",
    "dev": ROOT / "eval" / "dev_realistic.yml",
    "es": ROOT / "eval" / "heldout_nlu.es.yml",
    # the blind Spanish set (issue 19): realistic, Spanglish, relatives, SMS
    "es_dev": ROOT / "eval" / "dev_realistic.es.yml",
    "faq": ROOT / "eval" / "faq_headings.yml",
    # the blind real-post set (issue 18): long stories, relatives, uncovered questions
    "posts": ROOT / "eval" / "dev_posts.yml",
    # the second blind real-post set (its first run in its header)
    "posts2": ROOT / "eval" / "dev_posts2.yml",
    # the third blind real-post set and the second blind Spanish set (first runs in their headers)
    "posts3": ROOT / "eval" / "dev_posts3.yml",
    "es_dev2": ROOT / "eval" / "dev_realistic2.es.yml",
}
NLU_FORMAT_SETS = ("heldout", "es")


def load_set(name: str, path: Optional[Path] = None) -> List[Dict]:
    path = path or SETS[name]
    if name in NLU_FORMAT_SETS:
        return [
            {"text": e.get("text"), "intent": e.get("intent"), "also": []}
            for e in load_data(str(path)).intent_examples
        ]
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if name == "faq":
        return [
            {"text": q["text"], "intent": q["intent"], "also": [], "style": ["faq"]}
            for q in raw["questions"]
        ]
    return [
        {
            "text": m["text"],
            "intent": m["intent"],
            "also": m.get("also") or [],
            "style": m.get("style") or [],
        }
        for m in raw["messages"]
    ]


async def predict(agent, texts: List[str]) -> List[Dict]:
    results = []
    for text in texts:
        parsed = await agent.parse_message(sanitize_user_text(text))
        results.append(parsed)
    return results


def confidence_bands(examples: List[Dict], parsed: List[Dict]) -> Dict[str, Dict]:
    """How often an answered intent is right, by its confidence (README: thresholds)."""
    bands = {"<0.5": (0.0, 0.5), "0.5-0.7": (0.5, 0.7), ">=0.7": (0.7, 1.01)}
    out = {}
    for label, (low, high) in bands.items():
        rows = [
            (e, p)
            for e, p in zip(examples, parsed)
            if (p.get("intent") or {}).get("name") not in (None, FALLBACK)
            and low <= float((p.get("intent") or {}).get("confidence") or 0) < high
        ]
        right = sum((p["intent"]["name"] == e["intent"]) for e, p in rows)
        out[label] = {"answered": len(rows), "right": right}
    return out


def unsure_replies(parsed: List[Dict]) -> Dict[str, float]:
    """What the assistant says to the messages that end in nlu_fallback: the
    action server's first reply (actions/answers.py clarify_reply), from the
    parse data. "Bare": a "Did you mean...?" without the office's phone and
    online form in its text."""
    from rasa_sdk import Tracker

    from actions.answers import clarify_reply
    from actions.config import load_settings
    from actions.content import get_content

    content, settings = get_content(), load_settings()
    did_you_mean = bare = 0
    for p in parsed:
        if (p.get("intent") or {}).get("name") != FALLBACK:
            continue
        tracker = Tracker("eval", {}, p, [{"event": "user", "parse_data": p}], False, None, {}, "")
        text, _ = clarify_reply(content, tracker)
        if "Did you mean" in text:
            did_you_mean += 1
            if settings.office_phone not in text or settings.appointment_form_url not in text:
                bare += 1
    n = max(len(parsed), 1)
    return {"did_you_mean_rate": did_you_mean / n, "bare_did_you_mean_rate": bare / n}


def second_questions(examples: List[Dict], parsed: List[Dict]) -> Dict[str, float]:
    """Messages with further questions (`also`): how often `secondary_intent` is one
    of the labelled questions other than the one answered."""
    multi = [(e, p) for e, p in zip(examples, parsed) if e.get("also")]
    found = 0
    for e, p in multi:
        answered = (p.get("intent") or {}).get("name")
        second = p.get("secondary_intent")
        found += second is not None and second != answered and second in {e["intent"], *e["also"]}
    return {"multi_question_messages": len(multi), "second_found": found / max(len(multi), 1)}


def hand_offs(truth: List[str], predicted: List[str]) -> Dict[str, float]:
    """Questions the page does not cover (content/achilles_content.yml `not_covered`):
    recall (handed off at all: a named hand-off, out of scope, a person, or
    "Did you mean" which names the phone), named exactly, precision of the named
    hand-offs, and covered questions wrongly handed off."""
    from actions.content import get_content

    uncovered = {u.intent for u in get_content().uncovered.values()}
    handing = uncovered | {"out_of_scope"}
    pairs = list(zip(truth, predicted))
    asked = [(t, q) for t, q in pairs if t in uncovered]
    covered = [(t, q) for t, q in pairs if t not in uncovered and t not in SAFETY]
    named = [(t, q) for t, q in pairs if q in handing]
    return {
        "uncovered_messages": len(asked),
        "uncovered_handed_off": sum(q in handing | {FALLBACK, "request_human"} for _, q in asked)
        / max(len(asked), 1),
        "uncovered_named_exactly": sum(q == t for t, q in asked) / max(len(asked), 1),
        "hand_off_precision": sum(t in uncovered for t, _ in named) / max(len(named), 1),
        "covered_wrongly_handed_off": sum(
            q in handing and t not in {"out_of_scope", "other_language"} for t, q in covered
        )
        / max(len(covered), 1),
    }


def report(name: str, examples: List[Dict], parsed: List[Dict], quiet: bool) -> Dict:
    truth = [e["intent"] for e in examples]
    predicted = [(p.get("intent") or {}).get("name") or FALLBACK for p in parsed]
    labels = sorted(set(truth))
    p, r, f, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    n = len(truth)
    accuracy = sum(t == q for t, q in zip(truth, predicted)) / n
    lenient = sum(q == e["intent"] or q in e["also"] for e, q in zip(examples, predicted)) / n
    safety_truth = [(t, q) for t, q in zip(truth, predicted) if t in SAFETY]
    safety_recall = sum(q in SAFETY for _, q in safety_truth) / max(len(safety_truth), 1)
    right_tier = sum(q == t for t, q in safety_truth) / max(len(safety_truth), 1)
    false_escalations = [
        (e["text"], t, q)
        for e, t, q in zip(examples, truth, predicted)
        if q in SAFETY and t not in SAFETY
    ]
    fallbacks = sum(q == FALLBACK for q in predicted)
    summary = {
        "set": name,
        "messages": n,
        "accuracy": accuracy,
        "lenient_accuracy": lenient,
        "macro_f1": float(f.mean()),
        "fallback_rate": fallbacks / n,
        "safety_messages": len(safety_truth),
        "safety_recall": safety_recall,
        "right_tier": right_tier,
        "false_escalations": len(false_escalations),
        "per_intent": {
            label: {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(s)}
            for label, a, b, c, s in zip(labels, p, r, f, support)
        },
        "confidence_bands": confidence_bands(examples, parsed),
        **unsure_replies(parsed),
        **second_questions(examples, parsed),
        **hand_offs(truth, predicted),
    }
    source = SETS[name].relative_to(ROOT) if name in SETS else name
    print(f"\n=== {name}: {source} ===")
    if not quiet:
        print(f"{'intent':28} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>4}")
        for label, a, b, c, s in zip(labels, p, r, f, support):
            print(f"{label:28} {a:6.2f} {b:6.2f} {c:6.2f} {s:4d}")
    print(
        f"messages {n}  accuracy {accuracy:.3f}  lenient {lenient:.3f}  "
        f"macro-F1 {summary['macro_f1']:.3f}  fallback rate {fallbacks / n:.3f}"
    )
    print(
        f"'Did you mean' rate {summary['did_you_mean_rate']:.3f} (bare, without phone and "
        f"form in the text: {summary['bare_did_you_mean_rate']:.3f})"
    )
    if summary["multi_question_messages"]:
        print(
            f"second question found as the button: {summary['second_found']:.3f} of "
            f"{summary['multi_question_messages']} messages with `also`"
        )
    if summary["uncovered_messages"]:
        print(
            f"uncovered questions {summary['uncovered_messages']}: handed off "
            f"{summary['uncovered_handed_off']:.3f}, named exactly "
            f"{summary['uncovered_named_exactly']:.3f}; hand-off precision "
            f"{summary['hand_off_precision']:.3f}; covered questions wrongly handed off "
            f"{summary['covered_wrongly_handed_off']:.3f}"
        )
    bands = ", ".join(
        f"{k}: {v['right']}/{v['answered']} right" for k, v in summary["confidence_bands"].items()
    )
    print(f"answers by confidence: {bands}")
    print(
        f"safety recall {safety_recall:.3f} (right tier {right_tier:.3f}, "
        f"{len(safety_truth)} red-flag messages)  false escalations "
        f"{len(false_escalations)}"
    )
    if not quiet:
        for text, t, q in false_escalations:
            print(f"  false escalation [{t} -> {q}] {text[:100]}")
        for (t, q), count in collections.Counter(
            (t, q) for t, q in zip(truth, predicted) if t != q
        ).most_common(12):
            print(f"  {count:3d}  {t} -> {q}")
        for e, q in zip(examples, predicted):
            if e["intent"] in SAFETY and q not in SAFETY:
                print(f"  MISSED red flag [{e['intent']} -> {q}] {e['text'][:100]}")
    return summary


def simulate_fallback(parsed: Dict, threshold: float, ambiguity: float) -> str:
    """The intent the message would get with other FallbackClassifier thresholds.

    Decisions at confidence 1.0 (triage, language, buttons) stand; otherwise the
    ranking below the fallback decides.
    """
    intent = parsed.get("intent") or {}
    if intent.get("name") != FALLBACK and float(intent.get("confidence") or 0) >= 1.0:
        return intent["name"]
    ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    if not ranking:
        return FALLBACK
    top = float(ranking[0]["confidence"])
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return FALLBACK
    return ranking[0]["name"]


def sweep(name: str, examples: List[Dict], parsed: List[Dict]) -> None:
    """Accuracy and fallback rate over a grid of fallback thresholds (README: NLU)."""
    print(f"\nfallback thresholds on {name}: threshold / ambiguity -> accuracy, fallback rate")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        cells = []
        for ambiguity in (0.0, 0.02, 0.05, 0.1):
            predicted = [simulate_fallback(p, threshold, ambiguity) for p in parsed]
            accuracy = sum(q == e["intent"] for e, q in zip(examples, predicted)) / len(examples)
            fallback = sum(q == FALLBACK for q in predicted) / len(examples)
            cells.append(f"{ambiguity:.2f}: {accuracy:.3f}/{fallback:.3f}")
        print(f"  {threshold:.2f}  " + "   ".join(cells))


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "achilles.tar.gz"))
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--json", default=str(ROOT / "results" / "nlu_eval.json"))
    parser.add_argument("--quiet", action="store_true", help="summary lines only")
    parser.add_argument(
        "--file",
        type=Path,
        action="append",
        default=[],
        help="also a set in the dev set's format (messages: text, intent, also), e.g. a new blind set",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also print accuracy over a grid of fallback thresholds",
    )
    args = parser.parse_args(argv)
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    names = list(SETS) if args.set == "all" else [args.set]
    if args.file:
        names = [] if args.set == "all" else names
    sets = [(name, None) for name in names] + [(f.stem, f) for f in args.file]
    agent = asyncio.run(load_agent(model_path=args.model))
    results = {}
    for name, path in sets:
        examples = load_set(name, path)
        parsed = asyncio.run(predict(agent, [e["text"] for e in examples]))
        results[name] = report(name, examples, parsed, args.quiet)
        if args.sweep:
            sweep(name, examples, parsed)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
