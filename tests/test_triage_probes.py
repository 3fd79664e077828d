"""Safety triage as patients write it: every probe, through the real servers.

The probe sets (tests/triage/) were written fresh, in everyday words, SMS
style, with typos, multi-turn context, Spanish and other LA languages; see
their headers.
- every urgent probe of the team's own sets escalates, to the right tier, at
  its last turn;
- the blind set (probes_blind.yml, written by someone who never saw the rules;
  its first run is in its header) holds the issue's targets as rates: at least
  95% right tier at the last turn, at most 3% of its look-alikes escalated;
- at most 3% of all look-alikes escalate at all.
`python eval/triage_probes.py` prints the same figures per category.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from actions.config import load_settings
from servers import running_assistant

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
from triage_probes import load_probes, run_probes, summarise  # noqa: E402

PROBES = load_probes()
MAX_LOOKALIKE_ESCALATION_RATE = 0.03
BLIND = "probes_blind"
MIN_BLIND_RIGHT_TIER = 0.95


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    with running_assistant(tmp_path_factory.mktemp("triage-probes")) as server:
        results = run_probes(server.texts, PROBES, load_settings().office_phone)
    print("\n" + summarise(results))
    return {(o.probe.source, o.probe.id): o for o in results}


@pytest.mark.parametrize(
    "probe",
    [p for p in PROBES if p.tier != "none" and p.source != BLIND],
    ids=lambda p: f"{p.source}-{p.id}",
)
def test_urgent_probe_escalates_to_its_tier(outcomes, probe):
    outcome = outcomes[(probe.source, probe.id)]
    assert outcome.tiers[-1] == probe.tier, (probe.turns, outcome.tiers)


def test_look_alikes_rarely_escalate(outcomes):
    alikes = [o for o in outcomes.values() if o.probe.tier == "none"]
    escalated = [(o.probe.id, o.probe.turns, o.tiers) for o in alikes if o.escalated]
    assert len(alikes) >= 60
    assert len(escalated) / len(alikes) <= MAX_LOOKALIKE_ESCALATION_RATE, escalated


def test_blind_set_meets_the_targets(outcomes):
    blind = [o for o in outcomes.values() if o.probe.source == BLIND]
    urgent = [o for o in blind if o.probe.tier != "none"]
    alikes = [o for o in blind if o.probe.tier == "none"]
    assert len(urgent) >= 120 and len(alikes) >= 120
    right = [o for o in urgent if o.passed]
    assert len(right) / len(urgent) >= MIN_BLIND_RIGHT_TIER, [
        (o.probe.id, o.tiers) for o in urgent if not o.passed
    ]
    escalated = [(o.probe.id, o.tiers) for o in alikes if o.escalated]
    assert len(escalated) / len(alikes) <= MAX_LOOKALIKE_ESCALATION_RATE, escalated


def test_blind_set_covers_every_la_language_and_category():
    blind = [p for p in PROBES if p.source == BLIND]
    languages = {p.lang for p in blind if p.tier != "none"}
    assert {
        "es",
        "zh",
        "ko",
        "tl",
        "hy",
        "hy-Latn",
        "fa",
        "fa-Latn",
        "ru",
        "vi",
        "ja",
        "ar",
    } <= languages
    categories = {p.category for p in blind if p.tier != "none"}
    assert "uncontrolled_pain" in categories and len(categories) == 10


def test_probe_sets_are_big_enough():
    urgent = [p for p in PROBES if p.tier != "none"]
    assert len(urgent) >= 80
    assert len([p for p in urgent if p.lang == "es"]) >= 15
    assert len([p for p in urgent if len(p.turns) > 1]) >= 15
