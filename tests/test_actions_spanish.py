"""Answers in Spanish (issue 19): when the conversation's `language` slot is `es`,
the answering actions speak from content/achilles_content.es.yml, with Spanish
buttons, safety lines and hand-offs, and show the disclaimer once in Spanish."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from actions.answers import (
    ActionAnswerTopic,
    ActionClarifyOrHandoff,
    ActionDefaultFallback,
    ActionHandoff,
    ActionOutOfScope,
)
from actions.appointment_store import appointment_requests, engine_for
from actions.appointments import (
    ActionAskContactConsent,
    ActionSubmitAppointment,
    ValidateAppointmentForm,
)
from actions.config import DEFAULT_OFFICE_PHONE
from actions.content import get_content
from actions.replies import cancel_hint, language_of
from trackers import make_tracker, run_action

ES = get_content("es")
EN = get_content()
SPANISH = {"language": "es", "disclaimer_language": "es"}  # disclaimer already shown


def answer_messages(dispatcher):
    return [m for m in dispatcher.messages if m.get("response") != "utter_disclaimer"]


@pytest.mark.parametrize("topic_key", sorted(ES.topics))
@pytest.mark.asyncio
async def test_topic_answers_come_from_the_spanish_file(topic_key, dispatcher):
    topic = ES.topics[topic_key]
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("pregunta", topic.intent, slots=SPANISH)
    )
    [message] = dispatcher.messages
    expected = topic.answer + (f"\n\n{ES.safety.safety_line}" if topic.safety_line else "")
    assert message["text"] == expected
    titles = [b["title"] for b in message["buttons"]]
    assert titles[: len(topic.related)] == [ES.topics[k].title for k in topic.related]
    assert titles[-2:] == ["Pedir una cita", "Llamar a la oficina"]
    assert message["buttons"][-1]["payload"] == "/request_human"


@pytest.mark.asyncio
async def test_spanish_on_sms_uses_the_spanish_short_variant(dispatcher):
    topic = ES.topics["recovery"]
    tracker = make_tracker("cuanto tarda", topic.intent, slots=SPANISH, channel="twilio")
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    assert dispatcher.messages[0]["text"].startswith(topic.short)


@pytest.mark.asyncio
async def test_first_spanish_answer_of_a_session_repeats_the_disclaimer_in_spanish(dispatcher):
    tracker = make_tracker("que es", "ask_what_is_rupture", slots={"language": "es"})
    events = await run_action(ActionAnswerTopic(), dispatcher, tracker)
    assert dispatcher.messages[0]["response"] == "utter_disclaimer"
    assert dispatcher.messages[1]["text"] == ES.topics["what_is_rupture"].answer
    assert events == [
        {"event": "slot", "timestamp": None, "name": "disclaimer_language", "value": "es"}
    ]


@pytest.mark.asyncio
async def test_english_conversations_get_no_second_disclaimer(dispatcher):
    tracker = make_tracker("what is it", "ask_what_is_rupture", slots={"language": "en"})
    assert await run_action(ActionAnswerTopic(), dispatcher, tracker) == []
    [message] = dispatcher.messages
    assert message["text"] == EN.topics["what_is_rupture"].answer


@pytest.mark.parametrize("key", sorted(ES.uncovered))
@pytest.mark.asyncio
async def test_spanish_hand_offs_name_the_topic_in_spanish(key, dispatcher):
    entry = ES.uncovered[key]
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("q", entry.intent, slots=SPANISH)
    )
    [message] = dispatcher.messages
    text = message["text"]
    assert f"Nuestra página no habla de {entry.topic}." in text
    assert DEFAULT_OFFICE_PHONE in text
    assert entry.lead in text
    if entry.closest:
        closest = ES.topics[entry.closest]
        assert closest.short in text
        assert {"title": closest.title, "payload": f"/{closest.intent}"} in message["buttons"]
    assert "Our page" not in text


@pytest.mark.asyncio
async def test_warning_signs_question_gets_the_spanish_list(dispatcher):
    await run_action(
        ActionAnswerTopic(),
        dispatcher,
        make_tracker("como se siente un coagulo", "ask_warning_signs", slots=SPANISH),
    )
    message = dispatcher.messages[0]
    assert message["text"] == ES.safety.warning_signs and "911" in message["text"]
    assert [b["title"] for b in message["buttons"]] == ["Llamar a la oficina", "Pedir una cita"]


@pytest.mark.asyncio
async def test_a_pending_sign_is_named_in_spanish(dispatcher):
    tracker = make_tracker("tengo la pantorrilla hinchada", "ask_symptoms", slots=SPANISH)
    tracker.latest_message["triage"] = {"pending": ["calf"], "safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "Si le operaron o usa yeso o bota, la hinchazón" in text


@pytest.mark.asyncio
async def test_unsure_spanish_answer_says_so_in_spanish(dispatcher):
    ranking = [
        {"name": "ask_recovery", "confidence": 0.5},
        {"name": "ask_physical_therapy", "confidence": 0.3},
    ]
    tracker = make_tracker("y luego", "ask_recovery", 0.5, ranking, slots=SPANISH)
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert message["text"].startswith("Esto es lo que dice nuestra página sobre recuperación:")
    assert message["buttons"][0] == {"title": "Terapia física", "payload": "/ask_physical_therapy"}


@pytest.mark.asyncio
async def test_did_you_mean_and_the_second_miss_are_in_spanish(dispatcher):
    ranking = [
        {"name": "ask_recovery", "confidence": 0.2},
        {"name": "ask_pars", "confidence": 0.19},
    ]
    tracker = make_tracker("eso", "nlu_fallback", 0.2, ranking, slots=SPANISH)
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert message["text"].startswith("Perdón, no estoy seguro de haberle entendido.")
    assert ES.safety.safety_line in message["text"]
    assert [b["title"] for b in message["buttons"]] == [
        "Recuperación",
        "Reparación mínimamente invasiva (PARS)",
        "Ninguna de estas",
    ]


@pytest.mark.parametrize(
    "action, lead",
    [
        (ActionHandoff(), "Nuestro personal con gusto le ayudará."),
        (ActionOutOfScope(), "Solo puedo responder preguntas sobre la ruptura del tendón"),
        (ActionDefaultFallback(), "Perdón, perdí el hilo de nuestra conversación."),
    ],
)
@pytest.mark.asyncio
async def test_hand_offs_are_in_spanish(action, lead, dispatcher):
    await run_action(action, dispatcher, make_tracker("x", "request_human", slots=SPANISH))
    [message] = dispatcher.messages
    assert message["text"].startswith(lead)
    assert ES.contact.answer in message["text"] and ES.safety.safety_line in message["text"]
    for button in message.get("buttons") or []:
        assert button == {"title": "Pedir una cita", "payload": "/request_appointment"}


@pytest.mark.asyncio
async def test_the_fallback_that_reverts_the_turn_shows_no_disclaimer(dispatcher):
    tracker = make_tracker("x", "nlu_fallback", slots={"language": "es"})
    events = await run_action(ActionDefaultFallback(), dispatcher, tracker)
    assert [m.get("response") for m in dispatcher.messages] == [None]
    assert [e["event"] for e in events] == ["rewind"]


@pytest.mark.parametrize(
    "slot, expected", [("es", "es"), ("en", "en"), (None, "en"), ("fr", "en"), ("zh", "en")]
)
def test_languages_without_their_own_content_are_answered_in_english(slot, expected):
    assert language_of(make_tracker("x", "greet", slots={"language": slot})) == expected
    content = get_content(expected)
    assert content.language == expected


def test_the_form_says_how_to_cancel_in_spanish():
    web = make_tracker("x", "greet", slots=SPANISH)
    sms = make_tracker("x", "greet", slots=SPANISH, channel="twilio")
    assert cancel_hint(web) == 'escriba "cancelar"'
    # CANCELAR alone is an opt-out keyword on SMS (channels/sms/keywords.py)
    assert cancel_hint(sms) == 'responda "cancelar mi solicitud"'


@pytest.mark.asyncio
async def test_a_question_inside_the_form_is_answered_in_spanish(dispatcher):
    tracker = make_tracker(
        "cuanto tiempo con muletas?",
        "ask_recovery",
        slots={**SPANISH, "requested_slot": "patient_name"},
        active_loop="appointment_form",
    )
    result = ValidateAppointmentForm().validate_patient_name(
        "cuanto tiempo con muletas?", dispatcher, tracker, {}
    )
    assert result == {"patient_name": None}
    assert dispatcher.messages[0]["text"] == ES.topics["recovery"].answer + (
        f"\n\n{ES.safety.safety_line}"
    )
    assert dispatcher.messages[1]["text"] == "Ahora, volvamos a su solicitud de cita."


FILLED = {
    "patient_name": "Maria Lopez",
    "patient_phone": "(310) 555-0123",
    "preferred_time": "en las mañanas",
    "visit_reason": "posible desgarro",
}


@pytest.mark.asyncio
async def test_the_consent_question_is_in_spanish(dispatcher):
    await run_action(
        ActionAskContactConsent(), dispatcher, make_tracker(slots={**SPANISH, **FILLED})
    )
    [message] = dispatcher.messages
    assert message["text"].startswith("Esta es su solicitud:\n- Nombre: Maria Lopez\n")
    assert "(sí / no)" in message["text"] and "(310) 555-0123" in message["text"]
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("Sí, envíela", "/affirm"),
        ("No, no la envíe", "/deny"),
    ]
    assert message["private"] is True


@pytest.mark.asyncio
async def test_the_form_answers_in_spanish(dispatcher, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    tracker = make_tracker("si", "affirm", slots={**SPANISH, **FILLED, "contact_consent": True})
    await run_action(ActionSubmitAppointment(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert text.startswith("Gracias, Maria. Su solicitud fue enviada")
    assert "911" in text and DEFAULT_OFFICE_PHONE in text
    with engine_for(f"sqlite:///{tmp_path / 'c.db'}").connect() as conn:
        [row] = conn.execute(sa.select(appointment_requests)).mappings().all()
    assert row["language"] == "es"  # staff call back in Spanish (migration 0005)
    declined = make_tracker("no", "deny", slots={**SPANISH, **FILLED, "contact_consent": False})
    await run_action(ActionSubmitAppointment(), dispatcher, declined)
    assert dispatcher.messages[1]["text"].startswith("Muy bien, no he enviado nada.")


def test_form_validation_messages_are_in_spanish(dispatcher):
    tracker = make_tracker(
        "12", "out_of_scope", slots=SPANISH, channel="twilio", active_loop="appointment_form"
    )
    assert ValidateAppointmentForm().validate_patient_phone("12", dispatcher, tracker, {}) == {
        "patient_phone": None
    }
    text = dispatcher.messages[0]["text"]
    assert text.startswith("Eso no parece un número de teléfono")
    assert 'responda "cancelar mi solicitud" para detenerse' in text


@pytest.mark.asyncio
async def test_a_sign_the_reader_is_unsure_of_gets_its_spanish_line(dispatcher):
    tracker = make_tracker("me duele el pecho un poco", "ask_symptoms", slots=SPANISH)
    tracker.latest_message["triage"] = {"unsure": ["chest"], "safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "Si se presenta el dolor o la presión en el pecho ahora, llame al 911" in text
