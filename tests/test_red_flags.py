"""Deterministic red-flag rules: what escalates and, as important, what does not."""
from __future__ import annotations

import pytest

from nlu_components.red_flags import RedFlagDetector

DETECTOR = RedFlagDetector()


@pytest.mark.parametrize("text, category", [
    ("my calf is hot and swollen 10 days after my surgery", "blood_clot"),
    ("Leg really red and throbbing, I'm in a cast since Monday", "blood_clot"),
    ("i think i have a blood clot", "blood_clot"),
    ("I have chest pain", "chest_or_breathing"),
    ("cant breathe well since this morning", "chest_or_breathing"),
    ("I'm short of breath and my leg hurts", "chest_or_breathing"),
    ("coughing up blood today", "chest_or_breathing"),
    ("pus coming from my incision", "wound_infection"),
    ("I have a fever of 102, surgery was last week", "wound_infection"),
    ("the wound is red and hot", "wound_infection"),
    ("my foot feels numb and cold", "circulation"),
    ("my toes are blue in the cast", "circulation"),
    ("I heard a pop in my heel, had surgery 3 weeks ago", "new_injury_after_repair"),
    ("I slipped in the shower with my boot on after the repair", "new_injury_after_repair"),
    ("MY CALF IS SWOLLEN AND HOT AFTER THE OPERATION", "blood_clot"),
])
def test_red_flags_escalate(text, category):
    found = DETECTOR.detect(text)
    assert found is not None and found.name == category


@pytest.mark.parametrize("text", [
    "is swelling normal after the injury?",
    "how much bruising is normal when it tears",
    "will my leg swell after surgery",
    "what is the re-rupture rate after surgery",
    "heard a pop playing basketball, did I tear it?",
    "can surgery cause a blood clot?",
    "how long until I can walk after surgery",
    "does the surgery hurt",
    "how long will I be in a cast",
    "what are the symptoms",
    "",
])
def test_ordinary_questions_do_not_escalate(text):
    assert DETECTOR.detect(text) is None


def test_component_overrides_intent_and_demotes_unsure_learned_emergencies():
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.red_flags import RedFlagClassifier

    def message(text, ranking):
        m = Message(data={"text": text})
        m.set("intent", ranking[0])
        m.set("intent_ranking", ranking)
        return m

    rule_hit = message("pus from my incision", [{"name": "ask_recovery", "confidence": 0.9},
                                                {"name": "emergency", "confidence": 0.1}])
    unsure = message("yep go ahead", [{"name": "emergency", "confidence": 0.68},
                                      {"name": "affirm", "confidence": 0.3}])
    sure = message("my leg is twice the size", [{"name": "emergency", "confidence": 0.97},
                                                {"name": "ask_recovery", "confidence": 0.02}])
    RedFlagClassifier({"min_learned_confidence": 0.8}).process([rule_hit, unsure, sure])
    assert rule_hit.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert rule_hit.get("red_flag") == "wound_infection"
    assert [r["name"] for r in rule_hit.get("intent_ranking")] == ["emergency", "ask_recovery"]
    assert unsure.get("intent")["name"] == "affirm"
    assert "emergency" not in [r["name"] for r in unsure.get("intent_ranking")]
    assert sure.get("intent")["name"] == "emergency" and sure.get("red_flag") is None
