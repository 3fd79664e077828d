"""Issue 20, item 1: the "Needs action" inbox and the SMS call-back number.

A database of its own (no Rasa server): one conversation per kind of item, written
with bench/synthetic.py's event writer the way Rasa stores them; an SMS patient
whose number the SMS channel kept encrypted (stores/phone_vault.py).
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from console_helpers import PASSWORDS, audit_rows, client_as, console_test_env, csrf_token, make_app

SMS_NUMBER = "+13105550147"
SMS_SENDER = "sms-" + "ab" * 32
APPT_PHONE = "(323) 555-0166"


def _seed(engine):
    from bench.synthetic import ConversationWriter, ensure_events_table
    from console.db import appointment_requests, events, utcnow

    ensure_events_table(engine)
    now = time.time()
    rows = []

    w = ConversationWriter(SMS_SENDER, now - 7200, "twilio")
    w.session_start()
    w.user("my chest hurts and I can't breathe, call me at 310 555 0147", "emergency", 1.0)
    w.reply("utter_emergency", "This could be a medical emergency. Call 911.")
    rows += w.rows

    w = ConversationWriter("web-urgent", now - 3600, "socketio")
    w.session_start()
    w.slot("language", "es")
    w.user("tengo fiebre y la herida supura despues de la cirugia", "urgent_problem", 1.0)
    w.reply("utter_urgent_problem", "Esto necesita atención hoy.")
    rows += w.rows

    w = ConversationWriter("web-person", now - 1800, "rest")
    w.session_start()
    w.user("can I talk to a real person? I'm Maria", "request_human", 0.97)
    w.reply("action_handoff", "Our staff will be glad to help.")
    # asking twice is one item
    w.user("a person please", "request_human", 0.97)
    w.reply("action_handoff", "Our staff will be glad to help.")
    rows += w.rows

    w = ConversationWriter("web-appt", now - 600, "rest")
    w.session_start()
    w.user("I'd like to book an appointment for my heel", "request_appointment", 0.99)
    w._add("active_loop", {"name": "appointment_form"}, action="appointment_form")
    w.user("Rosa Diaz", "nlu_fallback", 0.4)
    w.user("yes", "affirm", 0.99)
    w._add("active_loop", {"name": None}, action=None)
    w.reply("action_submit_appointment", "Your request has been sent.")
    rows += w.rows

    w = ConversationWriter("web-topic", now - 500, "rest")
    w.session_start()
    w.user("how long is recovery", "ask_recovery", 0.95)
    w.reply("action_answer_topic", "(answer)")
    rows += w.rows
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
        conn.execute(
            appointment_requests.insert().values(
                created_at=utcnow(),
                conversation_id="web-appt",
                channel="rest",
                patient_name="Rosa Diaz",
                phone=APPT_PHONE,
                preferred_time="mornings",
                reason="heel",
                consent=True,
                status="new",
            )
        )


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    import os

    from console import accounts
    from console.db import engine_for
    from stores import phone_vault

    workdir = tmp_path_factory.mktemp("console-inbox")
    key_file = workdir / "phone_vault_keys"
    old = os.environ.get("PHONE_VAULT_KEY_FILE")
    os.environ["PHONE_VAULT_KEY_FILE"] = str(key_file)
    url = f"sqlite:///{workdir / 'inbox.db'}"
    engine = engine_for(url)
    _seed(engine)
    phone_vault.keep(engine, SMS_SENDER, SMS_NUMBER, "911")
    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("cal", "callback")):
        accounts.create_user(engine, name, PASSWORDS[name], role=role)
    env = console_test_env(url, workdir, "inbox-test-key")
    db = SimpleNamespace(url=url, engine=engine, env=env, cookies={}, key_file=key_file)
    db.app = make_app(db)
    yield db
    if old is None:
        os.environ.pop("PHONE_VAULT_KEY_FILE", None)
    else:
        os.environ["PHONE_VAULT_KEY_FILE"] = old


def _rows(html):
    return dict(re.findall(r'<tr id="item-(\d+)" class="([^"]+)"', html))


def _items(engine):
    from console.tables import inbox_items

    with engine.connect() as conn:
        return {r.sender_id: r for r in conn.execute(sa.select(inbox_items)).all()}


def test_callback_home_is_the_inbox_with_every_kind(box):
    cal = client_as(box, box.app, "cal")
    assert cal.get("/").headers["Location"] == "/inbox"
    page = cal.get("/inbox")
    assert page.status_code == 200
    html = page.text
    items = _items(box.engine)
    # one item per kind; asking for a person twice is one item; a topic question none
    assert {(s, r.kind) for s, r in items.items()} == {
        (SMS_SENDER, "911"),
        ("web-urgent", "urgent"),
        ("web-person", "person"),
        ("web-appt", "appointment"),
    }
    # the two tiers look different in shape and words, not only colour
    assert '<span class="tier tier-911">' in html and "911 tier" in html
    assert '<span class="tier tier-urgent">' in html and "Urgent tier" in html
    # most urgent first
    order = [int(i) for i in re.findall(r'<tr id="item-(\d+)"', html)]
    assert order[:2] == [items[SMS_SENDER].id, items["web-urgent"].id]
    # channel, language, waiting time, the triggering message masked
    assert "SMS · English" in html and "Website chat · Spanish" in html
    assert re.search(r'class="waiting">(1 h 5\d|2 h \d+) min<', html)
    assert "310 555 0147" not in html and 'title="hidden: phone"' in html
    assert 'I&#39;m <span class="mask"' in html  # "I'm Maria" masked
    assert "book an appointment for my heel" in html  # the message that opened the form
    assert SMS_NUMBER not in html and APPT_PHONE not in html  # numbers only on reveal


def test_new_since_last_looked_counts_in_the_title(box):
    from console.tables import inbox_seen

    with box.engine.begin() as conn:
        conn.execute(inbox_seen.delete())
    ada = client_as(box, box.app, "ada")
    first = ada.get("/inbox").text
    assert "<title>(4) Needs action" in first and first.count('class="new-badge"') == 4
    again = ada.get("/inbox").text
    assert "<title>Needs action" in again and 'class="new-badge"' not in again
    # the page's own refresh counts against the time the page was opened
    rows = ada.get("/inbox/rows?since=0").text
    assert 'data-new-count="4"' in rows and "<html" not in rows


def test_reviewer_has_no_inbox_and_no_reveal(box):
    rita = client_as(box, box.app, "rita")
    token = csrf_token(rita.get("/conversations").text)
    item = _items(box.engine)[SMS_SENDER]
    assert rita.get("/inbox").status_code == 403
    assert rita.post(f"/inbox/{item.id}/reveal", data={"csrf_token": token}).status_code == 403


def test_sms_number_is_encrypted_at_rest_and_each_reveal_is_audited(box):
    from stores.phone_vault import sms_contact_numbers

    with box.engine.connect() as conn:
        stored = conn.execute(sa.select(sms_contact_numbers)).all()
    assert len(stored) == 1 and SMS_NUMBER not in stored[0].number_token
    assert "0147" not in stored[0].number_token
    cal = client_as(box, box.app, "cal")
    token = csrf_token(cal.get("/inbox").text)
    item = _items(box.engine)[SMS_SENDER]
    before = len(audit_rows(box.engine, "reveal_phone", username="cal"))
    for _ in range(2):
        page = cal.post(f"/inbox/{item.id}/reveal", data={"csrf_token": token})
        assert page.status_code == 200 and f'href="tel:{SMS_NUMBER}"' in page.text
        assert page.headers["Cache-Control"] == "no-store"
    rows = audit_rows(box.engine, "reveal_phone", username="cal")
    assert len(rows) == before + 2 and rows[-1].sender_id == SMS_SENDER
    assert SMS_NUMBER not in (rows[-1].detail or "")
    # a web conversation with an appointment request: that request's number
    appt = _items(box.engine)["web-appt"]
    page = cal.post(f"/inbox/{appt.id}/reveal", data={"csrf_token": token}).text
    assert APPT_PHONE in page and "Rosa Diaz" in page


def test_key_rotation_keeps_numbers_readable_and_drops_the_old_key(box):
    from stores import phone_vault

    old_keys = phone_vault.load_keys()
    result = phone_vault.rotate(box.engine)
    assert result["reencrypted"] == 1
    new_keys = phone_vault.load_keys()
    assert len(new_keys) == 1 and new_keys[0] not in old_keys
    assert oct(box.key_file.stat().st_mode & 0o777) == "0o600"
    with box.engine.connect() as conn:
        assert phone_vault.reveal(conn, SMS_SENDER) == SMS_NUMBER
        # only the new key decrypts now
        assert phone_vault.reveal(conn, SMS_SENDER, env={"PHONE_VAULT_KEYS": old_keys[0]}) is None


def test_status_assignee_and_call_note_are_kept_and_sync_the_appointment(box):
    from console.db import appointment_requests

    ada = client_as(box, box.app, "ada")
    token = csrf_token(ada.get("/inbox").text)
    appt = _items(box.engine)["web-appt"]
    response = ada.post(
        f"/inbox/{appt.id}",
        data={
            "csrf_token": token,
            "status": "called",
            "assignee": "cal",
            "note": "left a voicemail, will try at 2pm",
        },
    )
    assert response.status_code == 302
    row = _items(box.engine)["web-appt"]
    assert (row.status, row.assignee, row.note) == (
        "called",
        "cal",
        "left a voicemail, will try at 2pm",
    )
    html = ada.get("/inbox").text
    assert "left a voicemail, will try at 2pm" in html
    with box.engine.connect() as conn:
        status = conn.execute(
            sa.select(appointment_requests.c.status).where(
                appointment_requests.c.conversation_id == "web-appt"
            )
        ).scalar()
    assert status == "called_back"
    assert audit_rows(box.engine, "inbox_update", sender_id="web-appt")
    # someone not in the call-back roles cannot be assigned
    bad = ada.post(
        f"/inbox/{appt.id}", data={"csrf_token": token, "status": "new", "assignee": "rita"}
    )
    assert bad.status_code == 400


def test_filter_and_bulk_close(box):
    ada = client_as(box, box.app, "ada")
    html = ada.get("/inbox?kind=urgent").text
    assert len(_rows(html)) == 1
    token = csrf_token(html)
    items = _items(box.engine)
    ids = [items["web-person"].id, items["web-urgent"].id]
    response = ada.post("/inbox/close", data={"csrf_token": token, "item": [str(i) for i in ids]})
    assert response.status_code == 302
    after = _items(box.engine)
    assert after["web-person"].status == "done" and after["web-urgent"].status == "done"
    assert after[SMS_SENDER].status != "done"
    open_rows = _rows(ada.get("/inbox").text)
    assert str(ids[0]) not in open_rows and str(ids[1]) not in open_rows
    assert len(audit_rows(box.engine, "inbox_close")) >= 2
    # a new hand-off in a closed conversation is a new item
    from bench.synthetic import ConversationWriter
    from console.db import events
    from console.inbox import collect
    from console.summaries import masker

    w = ConversationWriter("web-person", time.time(), "rest")
    w.user("still need a person", "request_human", 0.9)
    w.reply("action_handoff", "Our staff will be glad to help.")
    with box.engine.begin() as conn:
        conn.execute(events.insert(), w.rows)
    assert collect(box.engine, masker()) == 1


def test_sms_channel_keeps_the_number_only_for_call_back_turns():
    from types import SimpleNamespace as E

    from channels.sms.channel import callback_reason

    def ev(type_name, action_name=None):
        return E(type_name=type_name, action_name=action_name)

    assert callback_reason([ev("user"), ev("action", "utter_emergency"), ev("bot")]) == "911"
    assert callback_reason([ev("user"), ev("action", "action_submit_appointment")]) == (
        "appointment"
    )
    # an escalation in an earlier turn does not count for this one
    assert (
        callback_reason([ev("action", "utter_urgent_problem"), ev("user"), ev("action", "x")])
        is None
    )
    assert callback_reason([ev("user"), ev("action", "action_answer_topic")]) is None


def test_sms_channel_stores_the_number_encrypted_after_an_escalating_turn(box, monkeypatch):
    import asyncio
    from types import SimpleNamespace as E

    from channels.sms.channel import SmsInput
    from channels.sms.state import InMemoryStateStore
    from stores import phone_vault

    monkeypatch.setenv("DATABASE_URL", box.url)
    channel = SmsInput.__new__(SmsInput)
    channel.numbers = InMemoryStateStore(max_entries=10)
    tracker_events = [
        E(type_name="user", action_name=None),
        E(type_name="action", action_name="utter_urgent_problem"),
    ]

    class Store:
        async def retrieve(self, conversation_id):
            return E(events=tracker_events)

    app = E(ctx=E(agent=E(tracker_store=Store())))

    async def turn(sender, number):
        await channel.numbers.set(sender, number, 60)
        await channel._keep_number_if_needed(sender, app)

    asyncio.run(turn("sms-urgent-one", "+13235550111"))
    tracker_events.append(E(type_name="user", action_name=None))  # a plain question next
    asyncio.run(turn("sms-plain-one", "+13235550122"))
    with box.engine.connect() as conn:
        assert phone_vault.reveal(conn, "sms-urgent-one") == "+13235550111"
        assert phone_vault.reveal(conn, "sms-plain-one") is None
        assert phone_vault.has_number(conn, ["sms-plain-one"]) == set()


def test_phone_vault_keys_come_from_the_environment_with_several_replicas(tmp_path):
    from cryptography.fernet import Fernet

    from cluster.settings import ClusterConfigError
    from stores import phone_vault

    with pytest.raises(ClusterConfigError):
        phone_vault.load_keys({"REPLICAS": "2", "PHONE_VAULT_KEY_FILE": str(tmp_path / "k")})
    assert not (tmp_path / "k").exists()  # nothing generated per replica
    key = Fernet.generate_key().decode()
    assert phone_vault.load_keys({"REPLICAS": "2", "PHONE_VAULT_KEYS": key}) == [key]
