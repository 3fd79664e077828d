"""Where personal data is stored (issue #10), the tracker store: the appointment
form's name and phone are redacted to tokens before they are written
(stores/tracker_store.py), the form gets its answers back until it ends, an
abandoned form's answers expire, and a failed write logs no message text.

No Rasa server here: the tracker store is used directly, as the Rasa server
does (tests/test_rest_e2e.py runs the same through the real servers). Owner-only
files, the other stores' logs and retention: tests/test_privacy_storage.py.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
import sqlalchemy as sa

from servers import PROJECT_ROOT

NAME = "Jamie Rivera"
RAW_PHONE = "213 555 0188"
PHONE = "(213) 555-0188"
SECRETS = ("Jamie", "Rivera", "555 0188", "555-0188", "5550188", "555 01 88")


def form_turns():
    """A form run as Rasa 3.6 records it: extraction sets the raw text, validation
    the cleaned value; a rejected phone first, then a good one; the consent summary."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActiveLoop,
        BotUttered,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    def user(text, intent="nlu_fallback"):
        return UserUttered(
            text,
            {"name": intent, "confidence": 0.5},
            parse_data={
                "text": text,
                "intent": {"name": intent, "confidence": 0.5},
                "entities": [],
            },
        )

    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        user("I want an appointment", "request_appointment"),
        ActionExecuted("appointment_form"),
        ActiveLoop("appointment_form"),
        SlotSet("requested_slot", "patient_name"),
        BotUttered("What is your full name?"),
        ActionExecuted("action_listen"),
        user(NAME),
        SlotSet("patient_name", NAME),
        ActionExecuted("appointment_form"),
        SlotSet("patient_name", NAME),
        SlotSet("requested_slot", "patient_phone"),
        BotUttered("What phone number should the office call?"),
        ActionExecuted("action_listen"),
        user("555 01 88"),
        SlotSet("patient_phone", "555 01 88"),
        ActionExecuted("appointment_form"),
        BotUttered("That doesn't look like a 10-digit US phone number."),
        SlotSet("patient_phone", None),
        ActionExecuted("action_listen"),
        user(RAW_PHONE),
        SlotSet("patient_phone", RAW_PHONE),
        ActionExecuted("appointment_form"),
        SlotSet("patient_phone", PHONE),
        SlotSet("requested_slot", "contact_consent"),
        ActionExecuted("action_ask_contact_consent"),
        BotUttered(
            f"Here is your request:\n- Name: {NAME}\n- Phone: {PHONE}\n"
            "- Best time: mornings\nDo you agree? (yes / no)",
            data={"buttons": [{"title": "Yes, send it", "payload": "/affirm"}]},
        ),
        ActionExecuted("action_listen"),
    ]


def test_form_answers_are_redacted_before_they_are_written():
    from stores.tracker_store import redacted_event_dicts

    events = form_turns()
    rows, answers = redacted_event_dicts(events, 0)
    stored = json.dumps(rows)
    for secret in SECRETS:
        assert secret not in stored, secret
    texts = [r.get("text") for r in rows if r["event"] == "user"]
    assert texts == ["I want an appointment", "<name>", "<phone>", "<phone>"]
    assert "- Name: <name>\\n- Phone: <phone>" in stored
    assert answers[-1] == ("patient_phone", PHONE) and ("patient_name", NAME) in answers
    # written in several saves, the result is the same
    rows_split = redacted_event_dicts(events, 0)[0][:12] + redacted_event_dicts(events, 12)[0]
    assert json.dumps(rows_split) == stored


def test_an_escalation_typed_instead_of_the_name_is_kept_for_staff_and_triage():
    from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered

    from stores.tracker_store import redacted_event_dicts

    text = "my calf is hot and swollen since the surgery"
    events = [
        ActiveLoop("appointment_form"),
        SlotSet("requested_slot", "patient_name"),
        UserUttered(text, {"name": "urgent_problem", "confidence": 1.0}, parse_data={"text": text}),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        SlotSet("patient_name", None),
    ]
    rows, answers = redacted_event_dicts(events, 0)
    assert rows[2]["text"] == text and rows[2]["parse_data"]["text"] == text
    assert answers == [("patient_name", None)]


@pytest.mark.parametrize(
    "typed",
    [
        "three one zero five five five zero one eight eight",
        "tres uno cero cinco cinco cinco cero uno ocho",
        "310_555_018",
        "31O 555 O18",
        "my cell is two one three, five five five",
    ],
)
def test_a_rejected_phone_answer_is_redacted_like_an_accepted_one(typed):
    """Issue 21: the form rejected these (not 10 digits, or no digits at all), and the
    events table kept them word for word."""
    from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered

    from stores.tracker_store import redacted_event_dicts

    events = [
        ActiveLoop("appointment_form"),
        SlotSet("requested_slot", "patient_phone"),
        UserUttered(typed, {"name": "nlu_fallback", "confidence": 0.4}, parse_data={"text": typed}),
        SlotSet("patient_phone", typed),
        SlotSet("patient_phone", None),
    ]
    rows, _ = redacted_event_dicts(events, 0)
    assert rows[2]["text"] == "<phone>" and rows[2]["parse_data"]["text"] == "<phone>"
    assert typed not in json.dumps(rows)


@pytest.fixture
def store(tmp_path, monkeypatch):
    from rasa.shared.core.domain import Domain

    from stores.tracker_store import ObservedSQLTrackerStore

    monkeypatch.delenv("FORM_ANSWERS_TTL_MINUTES", raising=False)
    url = f"sqlite:///{tmp_path / 'var' / 'conversations.db'}"
    return ObservedSQLTrackerStore(domain=Domain.load(str(PROJECT_ROOT / "domain.yml")), host=url)


def tracker_of(store, sender, events):
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events(sender, events, store.domain.slots)


def stored_rows(store, sender):
    with store.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "select type_name, intent_name, action_name, data "
                "from events where sender_id = :s order by id"
            ),
            {"s": sender},
        ).all()


def pending(store, sender):
    with store.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.text("select slot, value from pending_form_answers where sender_id = :s"),
                {"s": sender},
            ).all()
        )


@pytest.mark.asyncio
async def test_tracker_store_writes_tokens_and_gives_the_form_its_answers_back(store):
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet

    sender = "form-1"
    tracker = tracker_of(store, sender, form_turns())
    await store.save(tracker)
    everything = json.dumps([tuple(r) for r in stored_rows(store, sender)])
    for secret in SECRETS:
        assert secret not in everything, secret
    assert pending(store, sender) == {"patient_name": NAME, "patient_phone": PHONE}

    again = await store.retrieve(sender)
    assert again.get_slot("patient_name") == NAME and again.get_slot("patient_phone") == PHONE
    # the form ends (submit / cancel / pause reset the slots): the answers go
    for event in [
        ActionExecuted("action_submit_appointment"),
        BotUttered(f"Thank you, Jamie. We will call you at {PHONE}."),
        ActiveLoop(None),
        SlotSet("patient_name", None),
        SlotSet("patient_phone", None),
    ]:
        again.update(event)
    await store.save(again)
    everything = json.dumps([tuple(r) for r in stored_rows(store, sender)])
    for secret in SECRETS:
        assert secret not in everything, secret
    assert "Thank you, <name>. We will call you at <phone>." in everything
    assert pending(store, sender) == {}
    final = await store.retrieve(sender)
    assert final.get_slot("patient_name") is None and final.get_slot("patient_phone") is None


@pytest.mark.asyncio
async def test_answers_of_an_abandoned_form_expire(store):
    sender = "form-abandoned"
    await store.save(tracker_of(store, sender, form_turns()))
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("update pending_form_answers set updated_at = :t"),
            {"t": time.time() - store.form_answers_ttl - 5},
        )
    tracker = await store.retrieve(sender)
    assert tracker.get_slot("patient_name") is None  # the form asks again
    from stores import form_answers

    with store.engine.begin() as conn:
        assert form_answers.purge_expired(conn, store.form_answers_ttl) == 2
    assert pending(store, sender) == {}


@pytest.mark.asyncio
async def test_a_failed_tracker_write_logs_no_message_text(store, caplog):
    from rasa.shared.core.events import UserUttered

    text = "my number is 310 555 0199 and my calf hurts"
    tracker = tracker_of(store, "fails", [UserUttered(text, {"name": "greet", "confidence": 1})])
    with store.engine.begin() as conn:  # the database refuses the write
        conn.execute(
            sa.text(
                "create trigger refuse before insert on events "
                "begin select raise(abort, 'disk says no'); end"
            )
        )
    with caplog.at_level(logging.DEBUG), pytest.raises(sa.exc.SQLAlchemyError) as failure:
        await store.save(tracker)
    assert "INSERT INTO events" in str(failure.value)
    assert "555 0199" not in str(failure.value) and "calf" not in str(failure.value)
    assert "555 0199" not in caplog.text
