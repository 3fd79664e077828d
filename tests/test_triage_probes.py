"""Safety triage as patients write it: every probe, through the real servers.

The probe sets (tests/triage/) were written fresh, in everyday words, SMS
style, with typos, multi-turn context and Spanish; see their headers.
- every urgent probe escalates, to the right tier, at its last turn;
- at most 3% of the look-alikes escalate at all.
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


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    with running_assistant(tmp_path_factory.mktemp("triage-probes")) as server:
        results = run_probes(server.texts, PROBES, load_settings().office_phone)
    print("\n" + summarise(results))
    return {(o.probe.source, o.probe.id): o for o in results}


@pytest.mark.parametrize(
    "probe", [p for p in PROBES if p.tier != "none"], ids=lambda p: f"{p.source}-{p.id}"
)
def test_urgent_probe_escalates_to_its_tier(outcomes, probe):
    outcome = outcomes[(probe.source, probe.id)]
    assert outcome.tiers[-1] == probe.tier, (probe.turns, outcome.tiers)


def test_look_alikes_rarely_escalate(outcomes):
    alikes = [o for o in outcomes.values() if o.probe.tier == "none"]
    escalated = [(o.probe.id, o.probe.turns, o.tiers) for o in alikes if o.escalated]
    assert len(alikes) >= 60
    assert len(escalated) / len(alikes) <= MAX_LOOKALIKE_ESCALATION_RATE, escalated


def test_probe_sets_are_big_enough():
    urgent = [p for p in PROBES if p.tier != "none"]
    assert len(urgent) >= 80
    assert len([p for p in urgent if p.lang == "es"]) >= 15
    assert len([p for p in urgent if len(p.turns) > 1]) >= 15
