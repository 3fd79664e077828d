"""The SMS channel end to end: the real action and Rasa servers (one start for
the module, tests/sms/conftest.py) with a fake Twilio REST API on loopback
capturing outbound messages. No real network call is made: the channel's API
base URL points at the fake, and webhook calls are signed with a test token."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from actions.config import load_settings
from actions.content import get_content
from sms_helpers import (
    PART_LIMIT,
    TWILIO_NUMBER,
    conversation_id,
    events,
    first_sentence,
    new_number,
    new_sid,
    opted_out,
    post_sms,
    say,
    short,
    twilio_params,
    wait_for,
    webhook_url,
)


def test_signed_question_gets_the_short_answer_as_plain_sms(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "What are the symptoms?")
    bodies = fake_twilio.wait_for_text(number, "Reply 1 for")
    reply = "\n".join(bodies)
    assert short("symptoms") in reply
    assert get_content().topics["symptoms"].answer.splitlines()[0] not in reply  # not the web text
    assert "**" not in reply and not any(line.startswith("- ") for line in reply.splitlines())
    assert f"Reply 1 for {get_content().topics['diagnosis'].title}" in reply
    assert all(m["From"] == TWILIO_NUMBER for m in fake_twilio.messages)
    assert fake_twilio.bad_requests == 0
    # recorded under the keyed hash, on the "twilio" channel, with Twilio's MessageSid
    user = events(assistant, number, "user")
    assert [e["text"] for e in user] == ["What are the symptoms?"]
    assert user[0]["input_channel"] == "twilio" and user[0]["message_id"].startswith("SM")
    assert events(assistant, number, "bot")
    # the raw number is nowhere in the tracker store
    digits = number.lstrip("+")
    with sqlite3.connect(assistant.db_path) as db:
        leaks = db.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id LIKE ? OR data LIKE ?",
            (f"%{digits[-10:]}%", f"%{digits[-10:]}%"),
        ).fetchone()[0]
    assert leaks == 0


def test_first_reply_is_split_into_ordered_parts_within_the_limit(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "What causes an Achilles rupture?")
    bodies = fake_twilio.wait_for_text(number, "Reply 1 for")
    assert len(bodies) >= 2
    assert all(len(b) <= PART_LIMIT for b in bodies)
    assert bodies[0].startswith("I'm the practice's virtual assistant")  # disclaimer first
    assert "Reply 1 for" in bodies[-1]  # menu last
    assert all(b.rstrip()[-1] in ".?!)" for b in bodies[:-1])  # cut at sentence ends
    joined = "\n".join(bodies)
    assert joined.index("virtual assistant") < joined.index(first_sentence(short("causes")))


def test_unsigned_or_wrongly_signed_requests_are_rejected(assistant, fake_twilio):
    number = new_number()
    assert post_sms(assistant, number, "STOP", signature="").status_code == 403
    assert post_sms(assistant, number, "STOP", signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    tampered = twilio_params(number, "hello", "SM" + "f" * 32)
    assert post_sms(assistant, number, "STOP", signed_params=tampered).status_code == 403
    elsewhere = "https://attacker.example/webhooks/twilio/webhook"
    assert post_sms(assistant, number, "STOP", signed_url=elsewhere).status_code == 403
    wrong_token = RequestValidator("wrong-token").compute_signature(
        webhook_url(assistant), twilio_params(number, "hi", "SM" + "e" * 32)
    )
    assert (
        post_sms(assistant, number, "hi", sid="SM" + "e" * 32, signature=wrong_token).status_code
        == 403
    )
    time.sleep(2)  # nothing runs in the background either
    assert events(assistant, number) == []
    assert opted_out(assistant, number) is None
    assert fake_twilio.bodies(number) == []


def test_a_twilio_retry_yields_one_user_event_and_one_reply(assistant, fake_twilio):
    number, sid = new_number(), new_sid()
    say(assistant, number, "What are the symptoms?", sid=sid)
    say(assistant, number, "What are the symptoms?", sid=sid)  # Twilio's retry
    fake_twilio.wait_for_text(number, "Reply 1 for")
    say(assistant, number, "thank you")  # turns run in order: once answered, all is done
    bodies = fake_twilio.wait_for_text(number, "welcome")
    assert "\n".join(bodies).count(first_sentence(short("symptoms"))) == 1
    assert [e["message_id"] for e in events(assistant, number, "user")].count(sid) == 1
    assert len(events(assistant, number, "user")) == 2


def test_stop_confirms_once_silences_until_start(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "STOP")
    confirmation = fake_twilio.wait_for_text(number, "unsubscribed")
    assert "START" in confirmation[0]
    assert opted_out(assistant, number) is True
    say(assistant, number, "stop")  # confirmed once only
    say(assistant, number, "What are the symptoms?")  # no reply while opted out
    say(assistant, number, "START")
    bodies = fake_twilio.wait_for_text(number, "subscribed again")
    assert len(bodies) == 2  # the opt-out confirmation, then the opt-in one: nothing between
    assert opted_out(assistant, number) is False
    assert events(assistant, number, "user") == []  # the silenced question was not processed
    say(assistant, number, "What are the symptoms?")
    fake_twilio.wait_for_text(number, first_sentence(short("symptoms")))
    assert [e["text"] for e in events(assistant, number, "user")] == ["What are the symptoms?"]


@pytest.mark.parametrize("keyword", ["REVOKE", "opt out"])
def test_revoke_and_opt_out_are_opt_outs(assistant, fake_twilio, keyword):
    number = new_number()
    say(assistant, number, keyword)
    assert "START" in fake_twilio.wait_for_text(number, "unsubscribed")[0]
    assert opted_out(assistant, number) is True
    say(assistant, number, "What are the symptoms?")  # silenced: never reaches Rasa
    time.sleep(2)
    assert len(fake_twilio.bodies(number)) == 1
    assert events(assistant, number, "user") == []


def test_help_gives_practice_phone_and_opt_out_instructions(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "HELP")
    reply = fake_twilio.wait_for_text(number, "Reply STOP to opt out")[0]
    settings = load_settings()
    assert settings.practice_name in reply and settings.office_phone in reply
    assert events(assistant, number) == []  # answered by the channel, not the assistant


def test_cancel_phrase_goes_to_the_form_but_cancel_alone_opts_out(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "I want an appointment")
    fake_twilio.wait_for_text(number, "full name")
    say(assistant, number, "cancel my request")
    fake_twilio.wait_for_text(number, "cancelled the request")
    assert opted_out(assistant, number) is None
    say(assistant, number, "I want an appointment")
    fake_twilio.wait_for_text(number, "full name", count=2)
    say(assistant, number, "CANCEL")
    confirmation = fake_twilio.wait_for_text(number, "unsubscribed")[-1]
    assert "appointment request was cancelled" in confirmation
    assert opted_out(assistant, number) is True
    loops = [e for e in events(assistant, number) if e.get("event") == "active_loop"]
    assert loops[-1].get("name") is None  # the form is closed, nothing was submitted
    with sqlite3.connect(assistant.db_path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "appointment_requests" in tables:
            assert (
                db.execute(
                    "SELECT COUNT(*) FROM appointment_requests WHERE conversation_id = ?",
                    (conversation_id(number),),
                ).fetchone()[0]
                == 0
            )


def test_reply_with_a_number_picks_that_button(assistant, fake_twilio):
    number = new_number()
    say(assistant, number, "What are the symptoms?")
    reply = "\n".join(fake_twilio.wait_for_text(number, "Reply 1 for"))
    assert f"1 for {get_content().topics['diagnosis'].title}" in reply
    say(assistant, number, "1")
    fake_twilio.wait_for_text(number, first_sentence(short("diagnosis")))
    assert [e["text"] for e in events(assistant, number, "user")][-1] == "/ask_diagnosis"


def test_transient_api_errors_are_retried(assistant, fake_twilio):
    number = new_number()
    fake_twilio.planned[number] = [503, 429]
    say(assistant, number, "What are the symptoms?")
    bodies = fake_twilio.wait_for_text(number, "Reply 1 for")
    assert "\n".join(bodies).count(first_sentence(short("symptoms"))) == 1
    assert fake_twilio.attempts[number] == len(bodies) + 2


def test_twilio_side_opt_out_is_recorded(assistant, fake_twilio):
    number = new_number()
    fake_twilio.planned[number] = [(400, 21610)]  # "Attempt to send to unsubscribed recipient"
    say(assistant, number, "What are the symptoms?")
    wait_for(lambda: opted_out(assistant, number), what="the opt-out to be recorded")
    assert fake_twilio.attempts[number] == 1  # a 4xx is not retried
    assert fake_twilio.bodies(number) == []


def test_yes_answers_the_consent_question_and_the_request_is_stored(assistant, fake_twilio):
    number = new_number()
    for text, expected in [
        ("I want an appointment", "full name"),
        ("Maria Lopez", "phone number"),
        ("310 555 0123", "good time"),
        ("weekday mornings", "what is the visit about"),
        ("possible Achilles tear last week", "Reply 1 for Yes, send it; 2 for"),
    ]:
        say(assistant, number, text)
        fake_twilio.wait_for_text(number, expected)
    say(assistant, number, "YES")  # not opted out: an ordinary yes, not an opt-in keyword
    fake_twilio.wait_for_text(number, "Thank you, Maria")
    assert opted_out(assistant, number) is None
    with sqlite3.connect(assistant.db_path) as db:
        rows = db.execute(
            "SELECT channel, phone FROM appointment_requests WHERE conversation_id = ?",
            (conversation_id(number),),
        ).fetchall()
    assert rows == [("twilio", "(310) 555-0123")]
    # the SMS number itself is kept for the call-back, encrypted (stores/phone_vault.py)
    from stores import phone_vault

    with sqlite3.connect(assistant.db_path) as db:
        kept = db.execute(
            "SELECT number_token, reason FROM sms_contact_numbers WHERE conversation_id = ?",
            (conversation_id(number),),
        ).fetchall()
    assert len(kept) == 1 and kept[0][1] == "appointment"
    assert number.lstrip("+")[-7:] not in kept[0][0]
    env = {"PHONE_VAULT_KEY_FILE": str(assistant.phone_vault_key_file)}
    assert phone_vault.cipher(env).decrypt(kept[0][0].encode()).decode() == number


def test_only_call_back_turns_keep_the_number(assistant, fake_twilio):
    """An ordinary question keeps nothing; an escalation keeps the number."""
    plain, urgent = new_number(), new_number()
    say(assistant, plain, "What are the symptoms?")
    fake_twilio.wait_for_text(plain, "Reply 1 for")
    say(assistant, urgent, "I have chest pain and can't breathe")
    fake_twilio.wait_for_text(urgent, "911")
    with sqlite3.connect(assistant.db_path) as db:

        def reason(n):
            row = db.execute(
                "SELECT reason FROM sms_contact_numbers WHERE conversation_id = ?",
                (conversation_id(n),),
            ).fetchone()
            return row[0] if row else None

        wait_for(lambda: reason(urgent) is not None, what="the number to be kept")
        assert reason(urgent) == "911" and reason(plain) is None


def test_a_spanish_form_by_sms_runs_in_spanish_and_stores_the_language(assistant, fake_twilio):
    """Issue 19: a Spanish-speaking patient books by SMS in Spanish; staff see that
    the call back should be in Spanish (appointment_requests.language)."""
    number = new_number()
    for text, expected in [
        ("quiero hacer una cita por favor", "¿Cuál es su nombre completo?"),
        ("Rosa Elena Marquez", "¿A qué número de teléfono"),
        ("323 555 0177", "buen momento para comunicarnos"),
        ("en las tardes", "de qué se trata la consulta"),
        ("mi esposo cree que se rompió el aquiles", "Esta es su solicitud"),
    ]:
        say(assistant, number, text)
        fake_twilio.wait_for_text(number, expected)
    fake_twilio.wait_for_text(number, "Responda 1 para Sí, envíela")
    say(assistant, number, "1")
    fake_twilio.wait_for_text(number, "Gracias, Rosa")
    with sqlite3.connect(assistant.db_path) as db:
        rows = db.execute(
            "SELECT channel, phone, language FROM appointment_requests WHERE conversation_id = ?",
            (conversation_id(number),),
        ).fetchall()
    assert rows == [("twilio", "(323) 555-0177", "es")]


def test_when_sending_fails_the_conversation_is_still_recorded(assistant, fake_twilio):
    number = new_number()
    fake_twilio.always_fail.add(number)
    say(assistant, number, "What are the symptoms?")  # 200 for Twilio all the same
    wait_for(lambda: fake_twilio.attempts[number] >= 3, what="three send attempts")
    time.sleep(1.5)
    assert fake_twilio.attempts[number] == 3  # bounded: 3 tries, then it stops
    assert fake_twilio.bodies(number) == []
    assert [e["text"] for e in events(assistant, number, "user")] == ["What are the symptoms?"]
    assert events(assistant, number, "bot")
    log = (Path(assistant.log_path)).read_text(errors="replace")
    assert "NOT delivered: part 1 of" in log and "3 attempts, last: HTTP 500" in log
    assert number not in log and number.lstrip("+") not in log  # never the raw number
