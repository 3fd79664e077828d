"""The learned red-flag reader: trained, stored in the model, combined with the rules.

Uses the real MiniLM encoder and a small reader trained here, so each test
checks the combination logic of nlu_components/triage.py and the policy, not
the figures (those are in eval/triage_ablation.py and eval/RESULTS.md).
"""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.red_flag_reader import NO_SIGN, RedFlagReader, load_clauses
from nlu_components.triage import TriageClassifier, load_saved_reader
from nlu_components.triage_rules import load_rules
from policies.triage_policy import TriagePolicy, reader_findings

BREATHLESS = [
    "I have to stop halfway through a sentence to get air",
    "he is puffing like he ran a marathon while lying in bed",
    "every few words I need to pause and suck in air",
    "she can't finish a sentence without gulping for air",
    "I'm panting just sitting on the sofa",
    "tengo que parar de hablar para agarrar aire",
]
CALF = [
    "one leg looks way fatter than the other",
    "my left calf is rock hard and warm to the touch",
    "the calf under the boot is tight, hot and red",
    "his lower leg puffed up twice the size of the other one",
    "mi chamorro esta durisimo y calientito",
]
NONE = [
    "how long until I can walk in normal shoes",
    "what does the doctor do at the first visit",
    "can I take the boot off to shower",
    "when does physical therapy start",
    "is the office open on saturdays",
    "how much does the surgery cost with insurance",
    "my boot strap snapped this morning",
    "I took a breather on the porch",
]


@pytest.fixture(scope="module")
def reader():
    texts = BREATHLESS + CALF + NONE
    labels = ["breathing"] * len(BREATHLESS) + ["calf"] * len(CALF) + [NO_SIGN] * len(NONE)
    return RedFlagReader.train(texts, labels)


def message(text, intent="ask_recovery"):
    m = Message(data={"text": text})
    m.set("intent", {"name": intent, "confidence": 0.9})
    m.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
    return m


def component(reader, **config):
    storage = LocalModelStorage.create(__import__("tempfile").mkdtemp())
    return TriageClassifier(config, load_rules(), storage, Resource("triage"), reader)


def test_reader_ranks_the_category_it_was_taught(reader):
    hits = reader.hits(["I need to stop mid sentence to breathe in air", "when can I drive"])
    assert hits[0].category == "breathing"
    assert hits[0].part.startswith("I need to stop")
    assert all(h.category != NO_SIGN for h in hits)


def test_sure_reader_finding_escalates_what_the_rules_miss(reader):
    text = "I keep having to stop halfway through a sentence to get air"
    assert load_rules().read(text).tier(load_rules().ranks) is None  # the rules miss it
    m = message(text)
    component(reader, reader_sure=0.5, reader_unsure=0.3).process([m])
    assert m.get("intent")["name"] == "emergency"
    assert m.get("triage")["decided_by"] == "reader"
    assert m.get("triage")["reader"] == ["breathing"]


def test_reader_never_escalates_a_part_the_rules_read_as_negated_or_asked(reader):
    for text in (
        "I don't have to stop halfway through a sentence to get air",
        "what if I have to stop halfway through a sentence to get air?",
    ):
        m = message(text)
        component(reader, reader_sure=0.5, reader_unsure=0.3).process([m])
        assert m.get("intent")["name"] == "ask_recovery", text
        assert m.get("triage")["tier"] is None
        assert m.get("triage")["unsure"] == ["breathing"] and m.get("triage")["safety_line"]


def test_unsure_reader_finding_adds_the_safety_line_only(reader):
    m = message("I have to stop halfway through a sentence to get air")
    component(reader, reader_sure=0.999, reader_unsure=0.3).process([m])
    assert m.get("triage")["tier"] is None
    assert m.get("triage")["unsure"] == ["breathing"]
    assert m.get("triage")["safety_line"] is True


def test_reader_is_trained_and_stored_with_the_model(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("triage_trained")
    data = tmp_path / "clauses.yml"
    data.write_text(
        "version: 1\nclauses:\n"
        + "".join(f'  - text: "{t}"\n    label: breathing\n' for t in BREATHLESS)
        + "".join(f'  - text: "{t}"\n    label: none\n' for t in NONE),
        encoding="utf-8",
    )
    trained = TriageClassifier.create(
        {"reader_data": str(data)}, storage, resource, ExecutionContext(None)
    )
    trained.train(TrainingData())
    loaded = load_saved_reader(storage, resource)
    assert loaded is not None
    assert loaded.hits(["I am panting for air on the couch"])[0].category == "breathing"


def test_project_training_data_covers_every_category_and_look_alikes():
    texts, labels = load_clauses()
    rules = load_rules()
    assert len(texts) >= 2000
    for category in rules.categories:
        assert labels.count(category.name) >= 60, category.name
    assert labels.count(NO_SIGN) >= len(texts) // 3


# ------------------------------------------------------------ the policy ----


def test_policy_uses_the_readers_finding_when_context_comes_later(reader):
    """A calf sign the reader found, then "I had the repair last week": urgent."""
    domain = Domain.load("domain.yml")
    policy = TriagePolicy({}, None, Resource("p"), ExecutionContext(None), rules=load_rules())
    first = "the back of my leg looks like a watermelon"
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered(
            first,
            {"name": "ask_symptoms", "confidence": 0.9},
            parse_data={"triage": {"reader": ["calf"], "post_op_context": False}},
        ),
        ActionExecuted("action_answer_topic"),
        ActionExecuted("action_listen"),
        UserUttered(
            "oh and I had the repair last week",
            {"name": "ask_recovery", "confidence": 0.9},
            parse_data={"triage": {"reader": [], "post_op_context": True}},
        ),
    ]
    tracker = DialogueStateTracker.from_events("patient", events, domain.slots)
    assert reader_findings(tracker) == {first: ["calf"]}
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == "utter_urgent_problem"
    # without the reader's finding in the parse data, the rules alone see nothing
    events[2] = UserUttered(first, {"name": "ask_symptoms", "confidence": 0.9}, parse_data={})
    tracker = DialogueStateTracker.from_events("patient", events, domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert max(prediction.probabilities) == 0
