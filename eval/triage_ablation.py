"""Safety triage without servers: the rules alone, the learned reader alone, both.

The escalation decision depends only on the red-flag rules, the learned
red-flag reader and the conversation logic (nlu_components/triage.py,
nlu_components/triage_rules/conversation.py, policies/triage_policy.py), so it
can be replayed in process, fast, for each variant:

- rules:    content/red_flags.yml and content/languages.yml, as reviewed;
- reader:   the reader's sure findings only (the rules keep only their
            reading of context: post-op words, negation, questions, the past);
- combined: what the assistant does.

For every probe set it prints urgent recall (the conversation escalated by its
last turn), right tier (the most severe tier reached), the look-alike false rate
(escalated at any turn; in brackets, at the last turn: a look-alike explained
only in a later message was escalated on its first), and over-escalation on the realistic
non-emergency messages (eval/dev_realistic.yml and any --realistic files), and
the time the reader adds per message (the MiniLM embeddings of the parts are
already computed by the intent classifier, so this is the regression and the
rules' reading of the parts; the cold figure includes encoding).

    python eval/triage_ablation.py [--model models/achilles.tar.gz] [probe files...]
    python eval/triage_ablation.py --sweep     # reader thresholds, for calibration

`python eval/triage_probes.py` runs the same probes through the real servers.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from triage_probes import PROBE_FILES, Probe, load_probes  # noqa: E402

from nlu_components.red_flag_reader import RedFlagReader  # noqa: E402
from nlu_components.triage import TriageClassifier, message_parts, reader_findings  # noqa: E402
from nlu_components.triage_rules import TriageRules, decide_conversation  # noqa: E402
from nlu_components.triage_rules.conversation import CONVERSATION_WINDOW  # noqa: E402
from nlu_components.triage_rules.rules import read_spec  # noqa: E402

MODEL = ROOT / "models" / "achilles.tar.gz"
REALISTIC = [ROOT / "eval" / "dev_realistic.yml"]
SAFETY_INTENTS = {"emergency", "urgent_problem"}


def load_reader(model: Path) -> RedFlagReader:
    import joblib

    with tarfile.open(model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("red_flag_reader.joblib"))
        return RedFlagReader(joblib.load(archive.extractfile(member)))


def thresholds() -> Tuple[float, float, int]:
    """reader_sure, reader_unsure and reader_min_words as config.yml sets them (or the defaults)."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    settings = {**TriageClassifier.get_default_config()}
    for component in config["pipeline"]:
        if component["name"].endswith("TriageClassifier"):
            settings.update(component)
    return (
        float(settings["reader_sure"]),
        float(settings["reader_unsure"]),
        int(settings["reader_min_words"]),
    )


def without_sign_rules(rules: TriageRules) -> TriageRules:
    """The same reading of context, but no category rule and no other-language phrase."""
    spec = copy.deepcopy(rules.spec)
    for category in spec["categories"].values():
        category["rules"] = []
    spec["other_languages"] = {}
    return TriageRules(spec, rules.common_words)


@dataclass
class Variant:
    name: str
    rules: TriageRules
    reader: Optional[RedFlagReader]
    sure: float
    unsure: float
    min_words: int = 5

    def learned(self, text: str) -> List[str]:
        if self.reader is None:
            return []
        found, _ = reader_findings(
            self.reader,
            self.rules,
            text,
            self.rules.read(text),
            self.sure,
            self.unsure,
            self.min_words,
        )
        return [f.category for f in found]

    def tiers(self, turns: Sequence[str]) -> List[Optional[str]]:
        """The tier each turn gets, as the triage policy decides it."""
        learned: Dict[str, List[str]] = {}
        tiers: List[Optional[str]] = []
        since_escalation: List[str] = []
        post_op = False
        for turn in turns:
            learned[turn] = self.learned(turn)
            decision = decide_conversation(
                self.rules, since_escalation[-CONVERSATION_WINDOW:], turn, post_op, learned
            )
            tiers.append(decision.tier)
            post_op = post_op or self.rules.read(turn).post_op_context
            since_escalation = [] if decision.tier else since_escalation + [turn]
        return tiers


def most_severe(tiers: Sequence[Optional[str]]) -> Optional[str]:
    for tier in ("emergency", "urgent_problem"):
        if tier in tiers:
            return tier
    return None


def realistic_messages(files: Sequence[Path]) -> List[str]:
    texts = []
    for path in files:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        for item in data.get("messages") or []:
            if item.get("intent") not in SAFETY_INTENTS:
                texts.append(str(item["text"]))
    return texts


def evaluate(variant: Variant, probes: List[Probe], realistic: List[str]) -> Dict[str, float]:
    urgent = [p for p in probes if p.tier != "none"]
    alikes = [p for p in probes if p.tier == "none"]
    last = {p.id + p.source: variant.tiers(p.turns) for p in probes}
    # caught: escalated by the last turn (an earlier turn that already escalated
    # counts, since the patient has had the reply); right tier: the most severe
    # tier the conversation reached
    escalated = sum(any(last[p.id + p.source]) for p in urgent)
    right = sum(most_severe(last[p.id + p.source]) == p.tier for p in urgent)
    false = sum(any(last[p.id + p.source]) for p in alikes)
    # a look-alike explained only in a later message ("I can't breathe" | "the price
    # of this boot lol") was escalated on its first turn, rightly: shown apart
    false_last = sum(bool(last[p.id + p.source][-1]) for p in alikes)
    over = sum(bool(variant.tiers([t])[0]) for t in realistic)
    return {
        "urgent": len(urgent),
        "recall": escalated / max(1, len(urgent)),
        "right_tier": right / max(1, len(urgent)),
        "alikes": len(alikes),
        "false_rate": false / max(1, len(alikes)),
        "false_last_rate": false_last / max(1, len(alikes)),
        "realistic": len(realistic),
        "over_rate": over / max(1, len(realistic)),
    }


def latency(variant: Variant, texts: List[str]) -> Tuple[float, float]:
    """Mean ms per message this variant's reading takes: the rules' reading
    (uncached) plus, with the reader, its regression with the parts' embeddings
    cached (as in the pipeline, where the intent classifier encoded them), and
    the same with the encoding counted (cold)."""
    from nlu_components.sentence_embeddings import get_encoder

    encoder = get_encoder()
    cold_encode = 0.0
    if variant.reader is not None:
        start = time.perf_counter()
        for text in texts:
            encoder.encode([p + " \u200b" for p in message_parts(text)])  # new texts: no cache
        cold_encode = (time.perf_counter() - start) / len(texts)
        for text in texts:
            encoder.encode(message_parts(text))
    start = time.perf_counter()
    for text in texts:
        result = variant.rules._read(text)
        if variant.reader is not None:
            reader_findings(
                variant.reader,
                variant.rules,
                text,
                result,
                variant.sure,
                variant.unsure,
                variant.min_words,
            )
    warm = (time.perf_counter() - start) / len(texts)
    return warm * 1000, (warm + cold_encode) * 1000


def failures(variant: Variant, probes: List[Probe]) -> List[str]:
    lines = []
    for p in probes:
        tiers = variant.tiers(p.turns)
        ok = (not any(tiers)) if p.tier == "none" else most_severe(tiers) == p.tier
        if not ok:
            lines.append(
                f"  {p.source}:{p.id} [{p.tier}/{p.category}/{p.lang}] got {tiers}: "
                f"{' | '.join(p.turns)[:150]}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path, default=PROBE_FILES)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--realistic", nargs="*", type=Path, default=REALISTIC)
    parser.add_argument("--sweep", action="store_true", help="reader thresholds")
    parser.add_argument("--failures", action="store_true", help="list the combined misses")
    args = parser.parse_args()

    rules = TriageRules(read_spec())
    reader = load_reader(args.model)
    sure, unsure, min_words = thresholds()
    probes = load_probes(args.files)
    realistic = realistic_messages(args.realistic)
    sign_free = without_sign_rules(rules)
    if args.sweep:
        print("reader_sure  variant   recall  right  look-alikes  realistic-over")
        for at in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98):
            for name, r in (("reader", sign_free), ("combined", rules)):
                variant = Variant(name, r, reader, at, min(unsure, at), min_words)
                m = evaluate(variant, probes, realistic)
                print(
                    f"{at:10.2f}  {name:8} {m['recall']:7.3f} {m['right_tier']:6.3f} "
                    f"{m['false_rate']:12.3f} {m['over_rate']:14.3f}"
                )
        return
    variants = [
        Variant("rules", rules, None, sure, unsure, min_words),
        Variant("reader", sign_free, reader, sure, unsure, min_words),
        Variant("combined", rules, reader, sure, unsure, min_words),
    ]
    sample = [t for p in probes for t in p.turns][:300]
    names = ", ".join(
        str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f) for f in args.files
    )
    print(f"probes: {names}; reader_sure {sure}, reader_unsure {unsure}, min words {min_words}")
    print(
        "variant    urgent  recall  right-tier  look-alikes  false (last turn)  realistic  over   "
        "triage ms/msg (embeddings cached / cold)"
    )
    for v in variants:
        m = evaluate(v, probes, realistic)
        warm, cold = latency(v, sample)
        print(
            f"{v.name:9} {m['urgent']:7d} {m['recall']:7.3f} {m['right_tier']:11.3f} "
            f"{m['alikes']:12d} {m['false_rate']:6.3f} ({m['false_last_rate']:.3f})"
            f" {m['realistic']:10d} {m['over_rate']:6.3f}"
            f"   {warm:5.2f} / {cold:5.2f}"
        )
    if args.failures:
        print("\n".join(failures(variants[-1], probes)))


if __name__ == "__main__":
    main()
