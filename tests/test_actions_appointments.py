"""The appointment form's actions (actions/appointments.py): phone numbers, the
form's validation, the consent question, the stored request, pause and cancel;
run with a CollectingDispatcher and a Tracker (tests/trackers.py). The answering
actions: tests/test_actions_answers.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from actions.appointment_store import appointment_requests, engine_for
from actions.appointments import (
    ActionAskContactConsent,
    ActionSubmitAppointment,
    ValidateAppointmentForm,
    normalise_us_phone,
)
from actions.config import DEFAULT_OFFICE_PHONE
from actions.content import get_content
from trackers import make_tracker, run_action

CONTENT = get_content()


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
    await run_action(ActionAskContactConsent(), dispatcher, make_tracker(slots=FILLED))
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
    events = await run_action(ActionSubmitAppointment(), dispatcher, tracker)
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
    await run_action(ActionSubmitAppointment(), dispatcher, tracker)
    assert stored_rows(database) == []
    assert "not sent anything" in dispatcher.messages[0]["text"]


@pytest.mark.asyncio
async def test_submit_tells_the_patient_to_call_when_storage_fails(dispatcher, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////proc/forbidden/db.sqlite")
    tracker = make_tracker("yes", "affirm", slots=dict(FILLED, contact_consent=True))
    await run_action(ActionSubmitAppointment(), dispatcher, tracker)
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
    events = await run_action(ActionPauseAppointment(), dispatcher, tracker)
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
    events = await run_action(ActionCancelAppointment(), dispatcher, tracker)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == FORGOTTEN
    assert dispatcher.messages[0]["response"] == "utter_appointment_cancelled"
