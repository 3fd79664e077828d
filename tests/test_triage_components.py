"""The triage NLU component, the language detector and the triage policy, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.language import LanguageDetector
from nlu_components.triage import TriageClassifier, load_saved_rules
from nlu_components.triage_rules import load_rules
from policies.triage_policy import TriagePolicy

ROOT = Path(__file__).resolve().parent.parent


def message(text, ranking):
    m = Message(data={"text": text})
    m.set("intent", ranking[0])
    m.set("intent_ranking", ranking)
    return m


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


@pytest.fixture
def triage(storage):
    component = TriageClassifier({}, load_rules(), storage, Resource("triage"))
    return component


def test_rule_decision_is_final_even_over_a_fallback(triage):
    # DIET was sure of something else, FallbackClassifier made it a fallback:
    # the red flag still wins, at 1.0, and the tier is recorded.
    m = message(
        "calf pain and swelling after surgery",
        [
            {"name": "nlu_fallback", "confidence": 0.95},
            {"name": "ask_surgery_pain", "confidence": 0.93},
            {"name": "ask_recovery", "confidence": 0.05},
        ],
    )
    triage.process([m])
    assert m.get("intent") == {"name": "urgent_problem", "confidence": 1.0}
    assert m.get("triage")["tier"] == "urgent_problem"
    assert m.get("triage")["decided_by"] == "rules"


def test_unsure_learned_guess_is_demoted_but_keeps_the_safety_line(triage):
    m = message(
        "yep go ahead",
        [{"name": "emergency", "confidence": 0.6}, {"name": "affirm", "confidence": 0.3}],
    )
    triage.process([m])
    assert m.get("intent")["name"] == "affirm"
    assert m.get("triage")["safety_line"] is True


def test_intent_classifier_safety_guess_alone_never_escalates(triage):
    # Escalation is the rules' and the red-flag reader's job; the intent
    # classifier's guess (pulled by a story's words) only adds the safety line.
    triage.config["use_reader"] = False
    m = message(
        "we sat in the ER for six hours the night it happened, how long is recovery",
        [
            {"name": "emergency", "confidence": 0.97},
            {"name": "ask_recovery", "confidence": 0.02},
        ],
    )
    triage.process([m])
    assert m.get("intent")["name"] == "ask_recovery"
    assert m.get("triage")["tier"] is None
    assert m.get("triage")["safety_line"] is True


def test_learned_guess_on_a_question_about_signs_becomes_the_warning_signs_answer(triage):
    m = message(
        "what does a blood clot feel like",
        [
            {"name": "urgent_problem", "confidence": 0.95},
            {"name": "ask_surgery_risks", "confidence": 0.03},
        ],
    )
    triage.process([m])
    assert m.get("intent")["name"] == "ask_warning_signs"


def test_learned_guess_waits_for_context_the_rules_say_a_sign_needs(triage):
    m = message(
        "the back of my knee is swollen and tender",
        [
            {"name": "urgent_problem", "confidence": 0.95},
            {"name": "ask_symptoms", "confidence": 0.03},
        ],
    )
    triage.process([m])
    assert m.get("intent")["name"] == "ask_symptoms"
    assert m.get("triage")["pending"] == ["calf"] and m.get("triage")["safety_line"]


def test_pending_sign_asks_for_the_safety_line(triage):
    m = message("my calf is swollen and warm", [{"name": "ask_symptoms", "confidence": 0.8}])
    triage.process([m])
    assert m.get("intent")["name"] == "ask_symptoms"
    assert m.get("triage")["pending"] == ["calf"] and m.get("triage")["safety_line"]


def test_trained_component_stores_its_rules_in_the_model(storage):
    resource = Resource("triage_trained")
    component = TriageClassifier.create({}, storage, resource, ExecutionContext(None))
    component.train(TrainingData())
    rules = load_saved_rules(storage, resource)
    assert rules is not None and rules.read("I have chest pain").tier(rules.ranks) == "emergency"


@pytest.mark.parametrize(
    "text, language, intent",
    [
        ("tengo una pregunta sobre la recuperacion", "es", "ask_recovery"),  # answered in Spanish
        ("how long will I be on crutches after the repair", "en", "ask_recovery"),
        ("ok", None, "ask_recovery"),  # too short to tell: nothing changes
    ],
)
def test_language_detector(text, language, intent):
    m = message(text, [{"name": "ask_recovery", "confidence": 0.9}])
    LanguageDetector({}).process([m])
    found = [e["value"] for e in m.get("entities") or [] if e["entity"] == "language"]
    assert found == ([language] if language else [])
    assert m.get("intent")["name"] == intent


def test_confident_english_is_not_left_as_other_language():
    m = message(
        "Hi, I have a question about my recovery",
        [{"name": "other_language", "confidence": 0.6}, {"name": "greet", "confidence": 0.3}],
    )
    LanguageDetector({}).process([m])
    assert m.get("intent")["name"] == "greet"


# ---------------------------------------------------------------- policy ----


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def policy(storage):
    return TriagePolicy({}, storage, Resource("policy"), ExecutionContext(None), rules=load_rules())


def user(text, intent="ask_recovery", post_op=False):
    return UserUttered(
        text,
        {"name": intent, "confidence": 0.9},
        parse_data={"triage": {"post_op_context": post_op}},
    )


def predicted(policy, domain, events):
    tracker = DialogueStateTracker.from_events("patient", events, domain.slots)
    prediction = policy.predict_action_probabilities(tracker, domain)
    if max(prediction.probabilities) == 0:
        return None
    assert prediction.is_no_user_prediction  # wins over the form's loop prediction
    return domain.action_names_or_texts[prediction.max_confidence_index]


def test_policy_escalates_with_context_from_an_earlier_message(policy, domain):
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("had my repair 10 days ago", post_op=True),
        ActionExecuted("action_answer_topic"),
        ActionExecuted("action_listen"),
        user("now my calf is swollen and hot", intent="ask_symptoms"),
    ]
    assert predicted(policy, domain, events) == "utter_urgent_problem"
    events += [ActionExecuted("utter_urgent_problem")]
    assert predicted(policy, domain, events) == "action_listen"


def test_policy_abstains_on_ordinary_conversation(policy, domain):
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("how long will I be on crutches"),
    ]
    assert predicted(policy, domain, events) is None


def test_policy_pauses_the_form_after_an_escalation(policy, domain):
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("book me an appointment", intent="request_appointment"),
        ActionExecuted("appointment_form"),
        ActiveLoop("appointment_form"),
        SlotSet("requested_slot", "patient_phone"),
        ActionExecuted("action_listen"),
        user("I have chest pain", intent="emergency"),
    ]
    assert predicted(policy, domain, events) == "utter_emergency"
    events += [ActionExecuted("utter_emergency")]
    assert predicted(policy, domain, events) == "action_pause_appointment"
    events += [ActionExecuted("action_pause_appointment"), ActiveLoop(None)]
    assert predicted(policy, domain, events) == "action_listen"


def test_policy_does_not_escalate_the_same_sign_twice(policy, domain):
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("my calf is really swollen and warm", intent="ask_symptoms"),
        ActionExecuted("action_answer_topic"),
        ActionExecuted("action_listen"),
        user("oh I had the repair 2 weeks ago", post_op=True),
        ActionExecuted("utter_urgent_problem"),
        ActionExecuted("action_listen"),
        user("when can I start PT after the repair", post_op=True),
    ]
    assert predicted(policy, domain, events) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hi, I have a question", None),  # n-grams say Portuguese; function words say no
        ("do you treat plantar fasciitis?", None),
        ("gotta run, ttyl", None),
        ("me duele el pecho", "es"),
        ("mi papá no puede respirar bien", "es"),
        ("bonjour j'ai mal au talon", "fr"),
        ("can I drive with the boot on my left foot", "en"),
    ],
)
def test_detect_language_needs_function_words_too(text, expected):
    from nlu_components.language import detect_language

    languages = tuple(LanguageDetector.get_default_config()["languages"])
    found = detect_language(text, languages, 3, 0.9)
    assert found == expected or (expected is None and found in (None, "en"))
