"""The sentence-aware intent classifier: whole message, parts, the second question."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.sentence_classifier import SentenceIntentClassifier, split_parts

EXAMPLES = {
    "ask_conservative_treatment": [
        "can it heal without surgery",
        "can a torn achilles heal in a cast",
        "is a boot without an operation enough",
        "non surgical treatment for a rupture",
        "can I skip surgery and just wear a cast",
        "will it heal on its own in a boot",
    ],
    "ask_driving": [
        "when can I drive again",
        "can I drive with the boot on",
        "how long until I am allowed to drive",
        "is it safe to drive after the repair",
        "driving with a right foot injury",
        "when will I be able to drive my car",
    ],
    "ask_symptoms": [
        "what does a torn achilles feel like",
        "signs of a ruptured achilles",
        "felt a pop in my heel is that a tear",
        "symptoms of achilles rupture",
        "can't stand on my toes did I tear it",
        "it felt like being kicked in the leg",
    ],
    "greet": ["hi", "hello there", "good morning", "hey", "hi there", "hello"],
}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("sentence-classifier"))
    resource = Resource("sentence_classifier")
    component = SentenceIntentClassifier.create({}, storage, resource, ExecutionContext(None))
    examples = [Message(data={"text": t, "intent": i}) for i, ts in EXAMPLES.items() for t in ts]
    component.train(TrainingData(training_examples=examples))
    # loading from the model storage is what the server does
    return SentenceIntentClassifier.load({}, storage, resource, ExecutionContext(None))


def classify(classifier, text, diet=None):
    message = Message(data={"text": text})
    if diet:
        message.set("intent", diet[0])
        message.set("intent_ranking", diet)
    classifier.process([message])
    return message


def test_splits_sentences_and_a_second_question_joined_by_also():
    parts = split_parts("Tore it last week. Can it heal in a cast? Also, when can I drive?")
    assert parts == ["Tore it last week.", "Can it heal in a cast?", "Also, when can I drive?"]


def test_short_message_is_classified_as_a_whole(classifier):
    message = classify(classifier, "can it heal in a boot without an operation")
    assert message.get("intent")["name"] == "ask_conservative_treatment"
    assert message.get("secondary_intent") is None


def test_long_post_answers_one_question_and_keeps_the_other(classifier):
    post = (
        "I ruptured my achilles playing pickleball three weeks ago and the urgent care "
        "doctor put me in a splint. Can it heal in a cast without surgery? "
        "Also, when can I drive again?"
    )
    message = classify(classifier, post)
    names = {message.get("intent")["name"], message.get("secondary_intent")}
    assert names == {"ask_conservative_treatment", "ask_driving"}


def test_diet_ranking_is_blended_not_ignored(classifier):
    text = "hello, can I drive"
    alone = classify(classifier, text).get("intent_ranking")
    pushed = classify(classifier, text, diet=[{"name": "greet", "confidence": 1.0}])

    def greet(ranking):
        return next(r["confidence"] for r in ranking if r["name"] == "greet")

    assert greet(pushed.get("intent_ranking")) > greet(alone)
