"""Safety-triage probes through the running assistant: who gets escalated, to which tier.

Each probe (tests/triage/*.yml) is a fresh conversation over the REST webhook:
its turns are sent in order and each reply is matched against the domain's
escalation responses (utter_emergency: call 911; utter_urgent_problem: call the
office now; English or Spanish variant). A probe of tier emergency or
urgent_problem passes when its LAST turn gets that tier's reply; a look-alike
(tier none) passes when no turn is escalated.

Used by tests/test_triage_probes.py (pass/fail) and from the command line to
print figures per category:

    python eval/triage_probes.py [--url http://127.0.0.1:5005] [files...]
(without --url it starts its own servers on free loopback ports).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROBE_FILES = [
    ROOT / "tests" / "triage" / "probes.yml",
    ROOT / "tests" / "triage" / "probes_unseen.yml",
    ROOT / "tests" / "triage" / "probes_blind.yml",
]
TIER_RESPONSES = {"emergency": "utter_emergency", "urgent_problem": "utter_urgent_problem"}


@dataclass
class Probe:
    source: str
    id: str
    turns: List[str]
    tier: str
    category: str
    lang: str


@dataclass
class Outcome:
    probe: Probe
    tiers: List[Optional[str]]  # escalation tier reached at each turn

    @property
    def passed(self) -> bool:
        if self.probe.tier == "none":
            return not any(self.tiers)
        return self.tiers[-1] == self.probe.tier

    @property
    def escalated(self) -> bool:
        return any(self.tiers)


def load_probes(files: Iterable[Path] = PROBE_FILES) -> List[Probe]:
    probes = []
    for path in files:
        for p in yaml.safe_load(Path(path).read_text(encoding="utf-8"))["probes"]:
            probes.append(
                Probe(
                    Path(path).stem,
                    p["id"],
                    list(p["turns"]),
                    p["tier"],
                    p["category"],
                    p.get("lang", "en"),
                )
            )
    return probes


def escalation_texts(office_phone: str) -> Dict[str, str]:
    """Rendered text of every escalation response variant -> its tier."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    texts = {}
    for tier, response in TIER_RESPONSES.items():
        for variant in domain["responses"][response]:
            texts[variant["text"].replace("{office_phone}", office_phone)] = tier
    return texts


def run_probes(
    say: Callable[[str, str], List[str]], probes: List[Probe], office_phone: str
) -> List[Outcome]:
    """`say(sender, text)` returns the reply texts of one turn."""
    known = escalation_texts(office_phone)
    outcomes = []
    for probe in probes:
        sender = f"probe-{probe.id}-{uuid.uuid4().hex[:8]}"
        tiers = []
        for turn in probe.turns:
            replies = say(sender, turn)
            reached = {known[r] for r in replies if r in known}
            tiers.append(
                "emergency" if "emergency" in reached else "urgent_problem" if reached else None
            )
        outcomes.append(Outcome(probe, tiers))
    return outcomes


def summarise(outcomes: List[Outcome]) -> str:
    lines = []
    for source in sorted({o.probe.source for o in outcomes}):
        mine = [o for o in outcomes if o.probe.source == source]
        urgent = [o for o in mine if o.probe.tier != "none"]
        alike = [o for o in mine if o.probe.tier == "none"]
        lines.append(
            f"{source}: urgent escalated to the right tier "
            f"{sum(o.passed for o in urgent)}/{len(urgent)}; "
            f"look-alikes escalated {sum(o.escalated for o in alike)}/{len(alike)}"
        )
        by_category = collections.defaultdict(list)
        for o in mine:
            by_category[(o.probe.tier, o.probe.category)].append(o)
        for (tier, category), items in sorted(by_category.items()):
            ok = sum(o.passed for o in items)
            lines.append(f"  {tier:15} {category:22} {ok:3d}/{len(items):3d}")
        for o in mine:
            if not o.passed:
                lines.append(
                    f"  FAIL {o.probe.id} [{o.probe.tier}] got {o.tiers}: "
                    f"{' | '.join(o.probe.turns)[:140]}"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path, default=PROBE_FILES)
    parser.add_argument("--url", help="a running assistant; default: start one")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    import requests

    from actions.config import load_settings

    probes = load_probes(args.files)
    phone = load_settings().office_phone

    def run(url: str) -> None:
        def say(sender: str, text: str) -> List[str]:
            response = requests.post(
                f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
            )
            response.raise_for_status()
            return [m.get("text", "") for m in response.json()]

        print(summarise(run_probes(say, probes, phone)))

    if args.url:
        run(args.url.rstrip("/"))
        return
    from servers import running_assistant

    with tempfile.TemporaryDirectory() as workdir:
        with running_assistant(Path(workdir)) as server:
            run(server.url)


if __name__ == "__main__":
    main()
