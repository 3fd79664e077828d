"""Which languages are answered in their own language (issue 19): the
LanguageDetector keeps the topic intent of a Spanish message (`answer_languages`)
and sets the `language` entity; other languages still get `other_language`;
messages too short to tell change nothing, so the slot keeps its value."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from nlu_components.language import LanguageDetector


def parse(text, ranking):
    m = Message(data={"text": text})
    m.set("intent", ranking[0])
    m.set("intent_ranking", ranking)
    LanguageDetector({}).process([m])
    found = [e["value"] for e in m.get("entities") or [] if e["entity"] == "language"]
    return (found[0] if found else None), m.get("intent")["name"]


RECOVERY = [{"name": "ask_recovery", "confidence": 0.8}, {"name": "ask_pars", "confidence": 0.1}]


@pytest.mark.parametrize(
    "text",
    [
        "cuanto tiempo voy a estar con muletas despues de la operacion",
        "mi esposo se rompio el tendon de aquiles y quiero saber cuanto tarda en sanar",
        "¿Cuánto tiempo dura la recuperación después de la cirugía?",
    ],
)
def test_spanish_keeps_its_topic_and_sets_the_language(text):
    assert parse(text, RECOVERY) == ("es", "ask_recovery")


def test_spanish_guessed_as_other_language_gets_the_runner_up():
    ranking = [
        {"name": "other_language", "confidence": 0.6},
        {"name": "ask_recovery", "confidence": 0.3},
    ]
    assert parse("cuanto tiempo tarda la recuperacion de la cirugia", ranking) == (
        "es",
        "ask_recovery",
    )


@pytest.mark.parametrize(
    "text, language",
    [
        ("combien de temps dure la convalescence après l'opération", "fr"),
        ("quanto tempo demora a recuperação depois da cirurgia do tendão", "pt"),
    ],
)
def test_languages_without_answers_still_get_other_language(text, language):
    assert parse(text, RECOVERY) == (language, "other_language")


@pytest.mark.parametrize("text", ["ok", "sí", "gracias", "/ask_recovery", "Maria Lopez"])
def test_too_short_to_tell_leaves_the_language_alone(text):
    # no entity: the `language` slot keeps the conversation's language
    assert parse(text, RECOVERY) == (None, "ask_recovery")


def test_answer_languages_are_configurable():
    m = Message(data={"text": "cuanto tiempo tarda la recuperacion de la cirugia"})
    m.set("intent", RECOVERY[0])
    m.set("intent_ranking", RECOVERY)
    LanguageDetector({"answer_languages": ["en"]}).process([m])
    assert m.get("intent")["name"] == "other_language"
