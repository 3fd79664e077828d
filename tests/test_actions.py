"""Every custom action, run with a CollectingDispatcher and a Tracker."""

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
    normalise_us_phone,
)
from actions.config import DEFAULT_OFFICE_PHONE
from actions.content import get_content
from actions.session import ActionSessionStart
from trackers import make_tracker

CONTENT = get_content()


async def run(action, dispatcher, tracker, domain=None):
    return await action.run(dispatcher, tracker, domain or {})


@pytest.mark.parametrize("topic_key", sorted(CONTENT.topics))
@pytest.mark.asyncio
async def test_answer_topic_sends_that_topics_answer_with_follow_ups(topic_key, dispatcher):
    topic = CONTENT.topics[topic_key]
    events = await run(ActionAnswerTopic(), dispatcher, make_tracker("q", topic.intent))
    assert events == []
    [message] = dispatcher.messages
    # topics patients ask about when worried also carry the reviewed safety line
    expected = topic.answer + (f"\n\n{CONTENT.safety.safety_line}" if topic.safety_line else "")
    assert message["text"] == expected
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads[: len(topic.related)] == [f"/{CONTENT.topics[k].intent}" for k in topic.related]
    assert payloads[-2:] == ["/request_appointment", "/request_human"]


@pytest.mark.asyncio
async def test_answer_topic_uses_the_short_variant_on_sms(dispatcher):
    topic = CONTENT.topics["recovery"]
    await run(ActionAnswerTopic(), dispatcher, make_tracker("q", topic.intent, channel="twilio"))
    assert dispatcher.messages[0]["text"].startswith(topic.short)


@pytest.mark.asyncio
async def test_moderately_sure_answer_says_so_and_offers_the_runner_up(dispatcher):
    ranking = [
        {"name": "ask_recovery", "confidence": 0.55},
        {"name": "ask_physical_therapy", "confidence": 0.3},
    ]
    await run(ActionAnswerTopic(), dispatcher, make_tracker("q", "ask_recovery", 0.55, ranking))
    [message] = dispatcher.messages
    assert message["text"].startswith("Here is what our page says about recovery:")
    assert message["buttons"][0]["payload"] == "/ask_physical_therapy"


@pytest.mark.asyncio
async def test_second_question_of_a_long_message_is_offered_first(dispatcher):
    tracker = make_tracker("long post", "ask_conservative_treatment")
    tracker.latest_message["secondary_intent"] = "ask_driving"
    await run(ActionAnswerTopic(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert message["text"].startswith(CONTENT.topics["conservative_treatment"].answer)
    assert message["buttons"][0] == {"title": "Driving", "payload": "/ask_driving"}


@pytest.mark.parametrize("key", sorted(CONTENT.uncovered))
@pytest.mark.asyncio
async def test_questions_the_page_does_not_answer_are_handed_off_by_name(key, dispatcher):
    entry = CONTENT.uncovered[key]
    await run(ActionAnswerTopic(), dispatcher, make_tracker("q", entry.intent))
    [message] = dispatcher.messages
    text = message["text"]
    assert f"Our page doesn't cover {entry.topic}." in text and DEFAULT_OFFICE_PHONE in text
    assert entry.lead in text
    payloads = [b["payload"] for b in message["buttons"]]
    if entry.closest:  # the closest general answer the page has, and its button
        closest = CONTENT.topics[entry.closest]
        assert closest.short in text and f"/{closest.intent}" in payloads
    assert "/request_appointment" in payloads


@pytest.mark.asyncio
async def test_medicine_and_risk_questions_get_the_reviewed_lead(dispatcher):
    await run(
        ActionAnswerTopic(), dispatcher, make_tracker("can i take ibuprofen", "ask_medication")
    )
    assert "ask your doctor before taking" in dispatcher.messages[0]["text"]
    await run(
        ActionAnswerTopic(), dispatcher, make_tracker("what can go wrong", "ask_surgery_risks")
    )
    assert "Every surgery has risks" in dispatcher.messages[1]["text"]


@pytest.mark.asyncio
async def test_questions_about_warning_signs_get_the_reviewed_list(dispatcher):
    await run(
        ActionAnswerTopic(),
        dispatcher,
        make_tracker("what does a clot feel like", "ask_warning_signs"),
    )
    text = dispatcher.messages[0]["text"]
    assert text == CONTENT.safety.warning_signs
    assert "Call 911" in text and DEFAULT_OFFICE_PHONE in text


@pytest.mark.asyncio
async def test_a_sign_waiting_for_post_op_context_adds_the_named_line(dispatcher):
    tracker = make_tracker("my calf is swollen", "ask_symptoms")
    tracker.latest_message["triage"] = {"pending": ["calf"], "safety_line": True}
    await run(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "If you've had surgery or are in a cast or boot, calf swelling" in text
    assert "call to the office now" in text


@pytest.mark.asyncio
async def test_an_unsure_safety_guess_adds_the_safety_line(dispatcher):
    tracker = make_tracker("hmm my leg", "ask_symptoms")
    tracker.latest_message["triage"] = {"safety_line": True}
    await run(ActionAnswerTopic(), dispatcher, tracker)
    assert dispatcher.messages[0]["text"].endswith(CONTENT.safety.safety_line)


@pytest.mark.asyncio
async def test_answer_topic_hands_off_for_an_intent_without_content(dispatcher):
    await run(ActionAnswerTopic(), dispatcher, make_tracker("q", "ask_insurance"))
    text = dispatcher.messages[0]["text"]
    assert DEFAULT_OFFICE_PHONE in text and "don't have information" in text


RANKING = [
    {"name": "nlu_fallback", "confidence": 0.5},
    {"name": "ask_recovery", "confidence": 0.41},
    {"name": "out_of_scope", "confidence": 0.3},
    {"name": "ask_physical_therapy", "confidence": 0.2},
    {"name": "ask_orthotics", "confidence": 0.05},
    {"name": "ask_pars", "confidence": 0.01},
]


@pytest.mark.asyncio
async def test_first_fallback_asks_did_you_mean_with_top_topics(dispatcher):
    tracker = make_tracker("walk when", "nlu_fallback", 0.5, ranking=RANKING)
    await run(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" in message["text"]
    assert CONTENT.safety.safety_line in message["text"]  # never a bare "Did you mean"
    assert [b["payload"] for b in message["buttons"]] == [
        "/ask_recovery",
        "/ask_physical_therapy",
        "/ask_orthotics",
        "/request_human",
    ]


@pytest.mark.asyncio
async def test_second_fallback_in_a_row_hands_off(dispatcher):
    earlier = [
        {"event": "user", "text": "walk when"},
        {"event": "action", "name": "action_clarify_or_handoff"},
        {"event": "bot", "text": "Did you mean"},
        {"event": "action", "name": "action_listen"},
    ]
    tracker = make_tracker("still unclear", "nlu_fallback", 0.5, ranking=RANKING, events=earlier)
    await run(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" not in message["text"]
    assert DEFAULT_OFFICE_PHONE in message["text"]
    assert CONTENT.contact.answer in message["text"]


@pytest.mark.asyncio
async def test_fallback_without_topic_candidates_hands_off(dispatcher):
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "greet", "confidence": 0.4}]
    await run(
        ActionClarifyOrHandoff(), dispatcher, make_tracker("zzz", "nlu_fallback", 0.5, ranking)
    )
    assert DEFAULT_OFFICE_PHONE in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(
    "action, phrase",
    [
        (ActionHandoff(), "Our staff"),
        (ActionOutOfScope(), "only answer questions about Achilles tendon rupture"),
        (ActionDefaultFallback(), "lost track"),
    ],
)
@pytest.mark.asyncio
async def test_handoff_style_actions_give_phone_and_form(action, phrase, dispatcher):
    events = await run(action, dispatcher, make_tracker("x", "out_of_scope"))
    text = dispatcher.messages[0]["text"]
    assert phrase in text and DEFAULT_OFFICE_PHONE in text
    assert get_content().contact.answer in text
    assert CONTENT.safety.safety_line in text
    assert ", For" not in text  # the lead is a whole sentence
    if isinstance(action, ActionDefaultFallback):
        assert events == [{"event": "rewind", "timestamp": None}]


@pytest.mark.asyncio
async def test_session_start_sends_disclaimer_and_sets_configured_contacts(dispatcher, monkeypatch):
    monkeypatch.setenv("OFFICE_PHONE", "555.000.1111")
    events = await run(ActionSessionStart(), dispatcher, make_tracker())
    assert dispatcher.messages[0]["response"] == "utter_disclaimer"
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert events[1]["name"] == "office_phone" and events[1]["value"] == "555.000.1111"
    assert events[-1]["name"] == "action_listen"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("310 555 0123", "(310) 555-0123"),
        ("+1 (310) 555-0123", "(310) 555-0123"),
        ("3105550123", "(310) 555-0123"),
        ("555-0123", None),
        ("011 555 0123", None),
        ("call me maybe", None),
        ("1234567890123", None),
    ],
)
def test_us_phone_normalisation(raw, expected):
    assert normalise_us_phone(raw) == expected


def validate(slot, value, tracker, dispatcher):
    form = ValidateAppointmentForm()
    method = getattr(form, f"validate_{slot}")
    return method(value, dispatcher, tracker, {})


def test_form_accepts_a_name_and_a_phone(dispatcher):
    tracker = make_tracker("Maria  Lopez", "greet", 0.4)
    assert validate("patient_name", "Maria  Lopez", tracker, dispatcher) == {
        "patient_name": "Maria Lopez"
    }
    tracker = make_tracker("310.555.0123", "out_of_scope", 0.4)
    assert validate("patient_phone", "310.555.0123", tracker, dispatcher) == {
        "patient_phone": "(310) 555-0123"
    }
    assert dispatcher.messages == []


def test_form_rejects_a_bad_phone_and_explains(dispatcher):
    tracker = make_tracker("12", "out_of_scope", 0.4)
    assert validate("patient_phone", "12", tracker, dispatcher) == {"patient_phone": None}
    assert "10-digit" in dispatcher.messages[0]["text"]


def test_form_rejects_a_sentence_as_a_name(dispatcher):
    text = "I hurt my leg playing tennis 3 days ago and it is bad"
    assert validate("patient_name", text, make_tracker(text, "ask_symptoms", 0.3), dispatcher) == {
        "patient_name": None
    }
    assert "your name" in dispatcher.messages[0]["text"]


def test_a_topic_question_inside_the_form_is_answered_then_re_asked(dispatcher):
    tracker = make_tracker("how long is recovery?", "ask_recovery", 0.97)
    assert validate("patient_phone", "how long is recovery?", tracker, dispatcher) == {
        "patient_phone": None
    }
    assert dispatcher.messages[0]["text"].startswith(CONTENT.topics["recovery"].answer)
    assert "back to your appointment" in dispatcher.messages[1]["text"]


def test_a_question_the_page_does_not_answer_inside_the_form_is_handed_off_then_re_asked(
    dispatcher,
):
    tracker = make_tracker("can I drive in the boot?", "ask_driving", 0.9)
    assert validate("preferred_time", "can I drive in the boot?", tracker, dispatcher) == {
        "preferred_time": None
    }
    assert "doesn't cover driving" in dispatcher.messages[0]["text"]


FILLED = {
    "patient_name": "Maria Lopez",
    "patient_phone": "(310) 555-0123",
    "preferred_time": "weekday mornings",
    "visit_reason": "possible tear last week",
}


@pytest.mark.asyncio
async def test_consent_question_shows_the_request(dispatcher):
    await run(ActionAskContactConsent(), dispatcher, make_tracker(slots=FILLED))
    message = dispatcher.messages[0]
    for value in FILLED.values():
        assert value in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    # the widget must keep neither this summary nor the answer in the browser
    assert message["private"] is True and message["private_reply"] is True


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def stored_rows(url):
    with engine_for(url).connect() as conn:
        return conn.execute(sa.select(appointment_requests)).mappings().all()


@pytest.mark.asyncio
async def test_submit_with_consent_stores_the_request_for_staff(dispatcher, database):
    tracker = make_tracker(
        "yes",
        "affirm",
        slots=dict(FILLED, contact_consent=True),
        sender_id="conv-42",
        channel="socketio",
    )
    events = await run(ActionSubmitAppointment(), dispatcher, tracker)
    [row] = stored_rows(database)
    assert row["conversation_id"] == "conv-42" and row["channel"] == "socketio"
    assert row["patient_name"] == "Maria Lopez" and row["phone"] == "(310) 555-0123"
    assert row["reason"] == "possible tear last week" and row["consent"] is True
    assert row["status"] == "new" and row["created_at"] is not None
    assert "Thank you, Maria" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["private"] is True  # name and phone: not kept by the widget
    assert {e["name"]: e["value"] for e in events} == {
        s: None
        for s in (
            "patient_name",
            "patient_phone",
            "preferred_time",
            "visit_reason",
            "contact_consent",
        )
    }


@pytest.mark.asyncio
async def test_submit_without_consent_stores_nothing(dispatcher, database):
    tracker = make_tracker("no", "deny", slots=dict(FILLED, contact_consent=False))
    await run(ActionSubmitAppointment(), dispatcher, tracker)
    assert stored_rows(database) == []
    assert "not sent anything" in dispatcher.messages[0]["text"]


@pytest.mark.asyncio
async def test_submit_tells_the_patient_to_call_when_storage_fails(dispatcher, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////proc/forbidden/db.sqlite")
    tracker = make_tracker("yes", "affirm", slots=dict(FILLED, contact_consent=True))
    await run(ActionSubmitAppointment(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "could not send" in text and DEFAULT_OFFICE_PHONE in text


FORGOTTEN = {
    "requested_slot": None,
    "patient_name": None,
    "patient_phone": None,
    "preferred_time": None,
    "visit_reason": None,
    "contact_consent": None,
}


@pytest.mark.asyncio
async def test_pause_after_an_escalation_forgets_every_answer(dispatcher):
    from actions.appointments import ActionPauseAppointment

    tracker = make_tracker(
        "my chest hurts",
        "emergency",
        active_loop="appointment_form",
        slots={
            "patient_name": "Maria Lopez",
            "requested_slot": "patient_phone",
            "patient_phone": "my chest hurts",
        },
    )
    events = await run(ActionPauseAppointment(), dispatcher, tracker)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == FORGOTTEN  # issue #10: the name is not kept either
    assert dispatcher.messages[0]["response"] == "utter_appointment_paused"


@pytest.mark.asyncio
async def test_cancel_leaves_the_form_and_forgets_every_answer(dispatcher):
    from actions.appointments import ActionCancelAppointment

    tracker = make_tracker(
        "cancel",
        "cancel",
        active_loop="appointment_form",
        slots={
            "patient_name": "Maria Lopez",
            "patient_phone": "(310) 555-0123",
            "requested_slot": "preferred_time",
        },
    )
    events = await run(ActionCancelAppointment(), dispatcher, tracker)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == FORGOTTEN
    assert dispatcher.messages[0]["response"] == "utter_appointment_cancelled"
