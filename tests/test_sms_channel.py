"""The Twilio SMS channel (channels/twilio_sms.py, channels/sms_text.py).

Unit tests for the pure parts, then end-to-end tests against the real action and
Rasa servers (one start for the module) with a fake Twilio REST API on loopback
capturing outbound messages. No real network call is made: the channel's API
base URL points at the fake, and webhook calls are signed with a test token.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import os
import sqlite3
import stat
import threading
import time
import types
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from twilio.request_validator import RequestValidator

from actions.config import load_settings
from actions.content import get_content
from channels import sms_text
from channels.twilio_sms import (ConversationIds, InMemoryStateStore, OptOutStore,
                                 RedisStateStore, SendOutcome, SendResult, SmsInput,
                                 SmsSettings, parse_form, read_or_create_secret_file,
                                 validation_url)
from tests.servers import running_assistant

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-not-a-secret"
TWILIO_NUMBER = "+15005550006"
ID_SECRET = "test-sms-id-secret"
PART_LIMIT = 400  # small, so a first reply (disclaimer + answer + menu) is split

_numbers = itertools.count(201)
_sids = itertools.count(1)


def new_number() -> str:
    return f"+1310555{next(_numbers):04d}"


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def conversation_id(number: str) -> str:
    digest = hmac.new(ID_SECRET.encode(), number.encode(), hashlib.sha256).hexdigest()
    return "sms-" + digest


def wait_for(check, timeout: float = 40, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------- unit: text shaping


def sentences(n: int) -> str:
    return " ".join(f"Sentence number {i} says something useful about recovery." for i in range(n))


def test_split_sms_default_limit_cuts_on_sentences_and_keeps_everything():
    text = sentences(120)
    parts = sms_text.split_sms(text)
    assert len(parts) >= 4
    assert all(len(p) <= 1600 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text


def test_split_sms_prefers_paragraphs_then_lines():
    para1, para2 = sentences(8), sentences(8)
    parts = sms_text.split_sms(f"{para1}\n\n{para2}", limit=len(para1) + 50)
    assert parts == [para1, para2]
    lines = [f"line {i} " + "x" * 30 for i in range(10)]
    parts = sms_text.split_sms("\n".join(lines), limit=120)
    assert all(len(p) <= 120 for p in parts)
    assert "\n".join(parts).split("\n") == lines


def test_split_sms_edge_cases():
    assert sms_text.split_sms("") == []
    assert sms_text.split_sms("  short  ") == ["short"]
    blob = "x" * 3500  # no boundary at all: hard cut
    parts = sms_text.split_sms(blob)
    assert [len(p) for p in parts] == [1600, 1600, 300]
    exact = "y" * 1600
    assert sms_text.split_sms(exact) == [exact]


def test_plain_text_strips_markdown_keeps_lines_phone_and_urls():
    text = ("Many say **someone kicked them**.\n- a sudden snap\n- swelling\n\n"
            "## Next\nCall [310.651.2366](tel:+13106512366) or see "
            "[the form](https://example.com/form), <https://example.com/x>. "
            "\u201cQuote\u201d \u2013 ok")
    assert sms_text.plain_text(text) == (
        "Many say someone kicked them.\na sudden snap\nswelling\n\nNext\n"
        "Call 310.651.2366 or see the form (https://example.com/form), "
        "https://example.com/x. \"Quote\" - ok")


def test_buttons_become_a_numbered_menu():
    text, choices = sms_text.render_turn([
        {"text": "First."},
        {"text": "Pick one:", "buttons": [{"title": "Symptoms", "payload": "/ask_symptoms"},
                                          {"title": "Recovery", "payload": "/ask_recovery"}]},
        {"text": "Or:", "buttons": [{"title": "Yes, send it", "payload": "/affirm"},
                                    {"title": "Form", "type": "web_url",
                                     "url": "https://example.com/f"}]},
    ])
    assert text == ("First.\n\nPick one:\nReply 1 for Symptoms, 2 for Recovery.\n\n"
                    "Or:\nReply 3 for Yes, send it.\nForm: https://example.com/f")
    assert choices == ["/ask_symptoms", "/ask_recovery", "/affirm"]


@pytest.mark.parametrize("body, keyword", [
    ("STOP", "STOP"), (" stop. ", "STOP"), ("Cancel", "CANCEL"), ("QUIT!", "QUIT"),
    ("unsubscribe", "UNSUBSCRIBE"), ("start", "START"), ("Yes", "YES"), ("help", "HELP"),
    ("INFO", "INFO"), ("cancel my request", None), ("stop texting me", None),
    ("what helps?", None), ("", None), (None, None),
    ("REVOKE", "REVOKE"), ("revoke.", "REVOKE"), ("Opt out", "OPT OUT"),
    (" OPT  OUT! ", "OPT OUT"), ("opt-out", "OPT OUT"), ("optout", "OPTOUT"),
    ("opt out of what?", None), ("revoke my request", None), ("opt", None),
])
def test_carrier_keywords_are_whole_message_only(body, keyword):
    assert sms_text.carrier_keyword(body) == keyword


@pytest.mark.parametrize("body, number", [
    ("1", 1), (" 2. ", 2), ("#3", 3), ("12", 12), ("1 please", None), ("one", None),
])
def test_choice_numbers(body, number):
    assert sms_text.choice_number(body) == number


# ---------------------------------------------------------------- unit: channel parts


def test_validation_url_prefers_the_configured_public_url():
    assert validation_url("http://10.0.0.5:5005/webhooks/twilio/webhook", "") == \
        "http://10.0.0.5:5005/webhooks/twilio/webhook"
    public = "https://sms.example.org/webhooks/twilio/webhook"
    assert validation_url("http://10.0.0.5:5005/webhooks/twilio/webhook", public) == public


def test_signature_covers_blank_parameters():
    url = "https://sms.example.org/webhooks/twilio/webhook"
    params = {"From": "+13105550199", "Body": "hi", "FromCity": "", "MessageSid": "SM1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    body = b"From=%2B13105550199&Body=hi&FromCity=&MessageSid=SM1"
    parsed = parse_form(body)
    assert parsed.first("FromCity") == ""
    assert RequestValidator(AUTH_TOKEN).validate(url, parsed, signature)
    assert not RequestValidator(AUTH_TOKEN).validate(url, parse_form(body + b"x"), signature)


def test_settings_from_credentials_then_environment():
    env = {"TWILIO_ACCOUNT_SID": "ACenv", "TWILIO_AUTH_TOKEN": "envtoken",
           "TWILIO_NUMBER": "+15550001111", "SMS_MAX_PART_CHARS": "500",
           "TWILIO_API_BASE_URL": "http://127.0.0.1:9/"}
    settings = SmsSettings.load({"auth_token": "credtoken", "account_sid": ""}, env)
    assert (settings.account_sid, settings.auth_token, settings.twilio_number) == \
        ("ACenv", "credtoken", "+15550001111")
    assert settings.max_part_chars == 500
    assert settings.api_base_url == "http://127.0.0.1:9"
    assert settings.problems() == []
    assert SmsSettings.load(None, {}).api_base_url == "https://api.twilio.com"
    assert len(SmsSettings.load(None, {}).problems()) == 3
    with pytest.raises(ValueError):
        SmsSettings.load(None, {"SMS_MAX_PART_CHARS": "5000"})
    with pytest.raises(ValueError, match="quote"):
        SmsSettings.load({"twilio_number": 15550001111}, env)  # unquoted +1555... in YAML
    with pytest.raises(ValueError, match="https"):
        SmsSettings.load(None, {"TWILIO_API_BASE_URL": "http://api.example.com"})


def test_conversation_id_is_a_keyed_hash_of_the_number():
    ids = ConversationIds(ID_SECRET.encode())
    assert ids.for_number("+1 310 555 0101") == conversation_id("+13105550101")
    assert ids.for_number("+13105550101") != ConversationIds(b"other").for_number("+13105550101")
    assert "5550101" not in ids.for_number("+13105550101")


def test_secret_file_is_generated_once_with_private_permissions(tmp_path):
    path = tmp_path / "var" / "sms_id_secret"
    first = read_or_create_secret_file(path)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_create_secret_file(path) == first
    os.chmod(path, 0o644)
    assert read_or_create_secret_file(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_in_memory_state_store_expires_and_is_bounded():
    asyncio.run(_in_memory_state_store())


async def _in_memory_state_store():
    now = [0.0]
    store = InMemoryStateStore(max_entries=3, clock=lambda: now[0])
    assert await store.add("sid:1", "1", ttl=10)
    assert not await store.add("sid:1", "1", ttl=10)
    now[0] = 11
    assert await store.add("sid:1", "1", ttl=10)
    for i in range(5):
        await store.set(f"k{i}", "v", ttl=100)
    assert len(store) == 3 and await store.get("k4") == "v" and await store.get("k0") is None
    await store.delete("k4")
    assert await store.get("k4") is None


def test_redis_state_store_uses_set_nx_with_expiry():
    asyncio.run(_redis_state_store())


async def _redis_state_store():
    class FakeRedis:
        def __init__(self):
            self.data: Dict[str, str] = {}
            self.calls: List[tuple] = []

        async def set(self, name, value, ex=None, px=None, nx=False):
            self.calls.append((name, px, nx))
            if nx and name in self.data:
                return None
            self.data[name] = value
            return True

        async def get(self, name):
            return self.data.get(name)

        async def delete(self, *names):
            for name in names:
                self.data.pop(name, None)

    fake = FakeRedis()
    store = RedisStateStore(fake, prefix="t:")
    assert await store.add("sid:1", "1", ttl=60)
    assert not await store.add("sid:1", "1", ttl=60)
    assert fake.calls[0] == ("t:sid:1", 60000, True)
    await store.set("choices:x", "[1]", ttl=1.5)
    assert await store.get("choices:x") == "[1]"
    await store.delete("choices:x")
    assert await store.get("choices:x") is None


def test_opt_outs_persist_across_restarts(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'conversations.db'}"
    OptOutStore(url).set_sync("sms-abc", True, "STOP")
    restarted = OptOutStore(url)
    assert restarted.is_opted_out_sync("sms-abc")
    assert not restarted.is_opted_out_sync("sms-other")
    restarted.set_sync("sms-abc", False, "START")
    assert not OptOutStore(url).is_opted_out_sync("sms-abc")


def test_unconfigured_channel_is_off_not_half_on():
    channel = SmsInput(SmsSettings())
    assert channel.enabled is False


PUBLIC_URL = "https://sms.example.org/webhooks/twilio/webhook"
INTERNAL_URL = "http://10.0.0.5:5005/webhooks/twilio/webhook"


class InProcess:
    """The channel's handler without a server: stub assistant, stub sender."""

    def __init__(self, opt_outs, webhook_url: str = PUBLIC_URL) -> None:
        self.received, self.sent = [], []
        outer = self

        class Sender:
            async def send(self, to, body, conversation_id):
                outer.sent.append((to, body, conversation_id))
                return SendResult(SendOutcome.SENT)

        settings = SmsSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                               twilio_number=TWILIO_NUMBER, webhook_url=webhook_url)
        self.channel = SmsInput(settings, state=InMemoryStateStore(), opt_outs=opt_outs,
                                ids=ConversationIds(ID_SECRET.encode()), sender=Sender())

    async def on_new_message(self, message):
        self.received.append(message)
        await message.output_channel.send_response(message.sender_id, {
            "text": "Hi **there**",
            "buttons": [{"title": "Symptoms", "payload": "/ask_symptoms"}]})

    async def post(self, number: str, body: str, signed_url: str = PUBLIC_URL):
        params = twilio_params(number, body, new_sid())
        signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, params)
        request = types.SimpleNamespace(
            body=urlencode(params).encode(), url=INTERNAL_URL, app=types.SimpleNamespace(ctx=None),
            headers={"content-type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": signature})
        reply = await self.channel._receive(request, self.on_new_message)
        await asyncio.gather(*self.channel._tasks)
        return reply


def test_webhook_behind_a_proxy_checks_the_configured_public_url(tmp_path):
    """A signature for TWILIO_WEBHOOK_URL is accepted although the request reached us
    on an internal address; one for the internal URL is not."""
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    number = "+13105550999"

    async def scenario():
        rejected = await harness.post(number, "hello", signed_url=INTERNAL_URL)
        accepted = await harness.post(number, "hello")
        return rejected.status, accepted.status, accepted.body.decode()

    rejected, accepted, twiml = asyncio.run(scenario())
    assert (rejected, accepted) == (403, 200) and "<Response></Response>" in twiml
    assert len(harness.received) == 1
    message = harness.received[0]
    assert message.sender_id == conversation_id(number)
    assert message.input_channel == "twilio" and message.metadata is None  # no raw number
    assert harness.sent == [(number, "Hi there\nReply 1 for Symptoms.", message.sender_id)]


def test_opt_outs_fail_closed_when_the_database_is_down():
    class DownDatabase:
        async def is_opted_out(self, number_hash):
            raise RuntimeError("database down")

        async def set(self, number_hash, opted_out, keyword):
            raise RuntimeError("database down")

    harness = InProcess(DownDatabase())

    async def scenario():
        await harness.post("+13105550998", "STOP")
        await harness.post("+13105550998", "hello")  # remembered in memory: silent
        await harness.post("+13105550997", "hello")  # unknown: treated as opted out
        await harness.post("+13105550997", "START")
        await harness.post("+13105550997", "hello")  # opted in here: answered

    asyncio.run(scenario())
    bodies = [(to, body.split(" ")[:3]) for to, body, _ in harness.sent]
    assert bodies == [("+13105550998", ["You", "are", "unsubscribed"]),
                      ("+13105550997", ["You", "are", "subscribed"]),
                      ("+13105550997", ["Hi", "there\nReply", "1"])]
    assert len(harness.received) == 1


def test_sms_turns_beyond_the_in_flight_limit_get_the_busy_text(tmp_path, monkeypatch):
    """MAX_CONCURRENT_TURNS counts SMS turns too: with every slot taken, the
    patient gets a text with the office phone instead of a long wait."""
    from channels.rate_limit import turn_slots

    monkeypatch.setenv("MAX_CONCURRENT_TURNS", "1")
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    number = "+13105550996"

    async def scenario():
        with turn_slots().slot() as taken:  # another patient's turn is being answered
            assert taken
            await harness.post(number, "what are the symptoms?")
            await harness.post(number, "STOP")  # keywords never wait for a slot
            await harness.post(number, "START")
        await harness.post(number, "what are the symptoms?")

    asyncio.run(scenario())
    bodies = [body for _, body, _ in harness.sent]
    assert "answering many people" in bodies[0] and load_settings().office_phone in bodies[0]
    assert "unsubscribed" in bodies[1] and "subscribed again" in bodies[2]
    assert bodies[3].startswith("Hi there")
    assert len(harness.received) == 1  # only the turn that got a slot reached the assistant


# ---------------------------------------------------------------- fake Twilio REST API


class FakeTwilio:
    """Twilio's Messages.json on 127.0.0.1: records messages, can fail on purpose."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: List[Dict[str, str]] = []
        self.attempts: Dict[str, int] = defaultdict(int)
        self.always_fail: set = set()
        self.planned: Dict[str, List[int]] = {}
        self.bad_requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict, headers=()) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                expected_auth = "Basic " + base64.b64encode(
                    f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json" \
                        or self.headers.get("Authorization") != expected_auth:
                    with fake.lock:
                        fake.bad_requests += 1
                    return self._reply(401, {"code": 20003, "status": 401})
                to = form.get("To", "")
                with fake.lock:
                    fake.attempts[to] += 1
                    if to in fake.always_fail:
                        return self._reply(500, {"code": 20500, "status": 500})
                    plan = fake.planned.get(to)
                    if plan:  # a status, or (status, Twilio error code)
                        status, code = (plan.pop(0), 20429) if isinstance(plan[0], int) \
                            else plan.pop(0)
                        return self._reply(status, {"code": code, "status": status},
                                           headers=[("Retry-After", "0")])
                    fake.messages.append(form)
                self._reply(201, {"sid": f"SM{len(fake.messages):032d}", "status": "queued"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bodies(self, number: str) -> List[str]:
        with self.lock:
            return [m["Body"] for m in self.messages if m.get("To") == number]

    def wait_for_text(self, number: str, fragment: str, count: int = 1) -> List[str]:
        def found():
            bodies = self.bodies(number)
            return bodies if "\n".join(bodies).count(fragment) >= count else None
        return wait_for(found, what=f"an SMS to {number} containing {fragment!r}")


@pytest.fixture(scope="module")
def fake_twilio():
    fake = FakeTwilio()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="module")
def assistant(fake_twilio, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sms")
    credentials = workdir / "credentials.yml"
    credentials.write_text(
        "channels.rest.SafeRestInput:\n"
        "channels.twilio_sms.SmsInput:\n"
        "  account_sid: ${TWILIO_ACCOUNT_SID}\n"
        "  auth_token: ${TWILIO_AUTH_TOKEN}\n"
        "  twilio_number: ${TWILIO_NUMBER}\n", encoding="utf-8")
    with running_assistant(
        workdir, credentials=credentials,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_NUMBER=TWILIO_NUMBER, TWILIO_API_BASE_URL=fake_twilio.url,
        TWILIO_WEBHOOK_URL="", TWILIO_MESSAGING_SERVICE_SID="",
        SMS_ID_SECRET=ID_SECRET, SMS_ID_SECRET_FILE=str(workdir / "unused_secret"),
        SMS_MAX_PART_CHARS=str(PART_LIMIT), SMS_SEND_MAX_TRIES="3",
        SMS_SEND_BACKOFF_SECONDS="0.05", SMS_STATE_STORE="memory",
    ) as rasa:
        rasa.db_path = workdir / "conversations.db"
        yield rasa


# ---------------------------------------------------------------- helpers


def webhook_url(rasa) -> str:
    return f"{rasa.url}/webhooks/twilio/webhook"


def twilio_params(number: str, body: str, sid: str) -> Dict[str, str]:
    """What Twilio posts for an inbound SMS, blank fields included."""
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "CA",
        "SmsStatus": "received", "FromCity": "", "Body": body, "FromCountry": "US",
        "To": TWILIO_NUMBER, "ToZip": "", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": ACCOUNT_SID, "From": number, "ApiVersion": "2010-04-01",
    }


def post_sms(rasa, number: str, body: str, sid: str = None, signature: str = "valid",
             signed_params: Dict[str, str] = None, signed_url: str = None) -> requests.Response:
    params = twilio_params(number, body, sid or new_sid())
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
            signed_url or webhook_url(rasa), signed_params or params)
    elif signature:
        headers["X-Twilio-Signature"] = signature
    response = requests.post(webhook_url(rasa), data=params, headers=headers, timeout=10)
    return response


def say(rasa, number: str, body: str, sid: str = None) -> None:
    response = post_sms(rasa, number, body, sid)
    assert response.status_code == 200, response.text
    assert "<Response></Response>" in response.text


def events(rasa, number: str, type_name: str = None) -> List[dict]:
    with sqlite3.connect(rasa.db_path) as db:
        rows = db.execute("SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id",
                          (conversation_id(number),)).fetchall()
    return [json.loads(data) for kind, data in rows if type_name in (None, kind)]


def opted_out(rasa, number: str):
    with sqlite3.connect(rasa.db_path) as db:
        row = db.execute("SELECT opted_out FROM sms_opt_outs WHERE number_hash = ?",
                         (conversation_id(number),)).fetchone()
    return None if row is None else bool(row[0])


def short(topic_key: str) -> str:
    return get_content().topics[topic_key].short


def first_sentence(text: str) -> str:
    return text.split(". ")[0]


# ---------------------------------------------------------------- end to end


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
        leaks = db.execute("SELECT COUNT(*) FROM events WHERE sender_id LIKE ? OR data LIKE ?",
                           (f"%{digits[-10:]}%", f"%{digits[-10:]}%")).fetchone()[0]
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
        webhook_url(assistant), twilio_params(number, "hi", "SM" + "e" * 32))
    assert post_sms(assistant, number, "hi", sid="SM" + "e" * 32,
                    signature=wrong_token).status_code == 403
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
            assert db.execute("SELECT COUNT(*) FROM appointment_requests WHERE "
                              "conversation_id = ?", (conversation_id(number),)).fetchone()[0] == 0


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
    for text, expected in [("I want an appointment", "full name"),
                           ("Maria Lopez", "phone number"),
                           ("310 555 0123", "good time"),
                           ("weekday mornings", "what is the visit about"),
                           ("possible Achilles tear last week", "Reply 1 for Yes, send it; 2 for")]:
        say(assistant, number, text)
        fake_twilio.wait_for_text(number, expected)
    say(assistant, number, "YES")  # not opted out: an ordinary yes, not an opt-in keyword
    fake_twilio.wait_for_text(number, "Thank you, Maria")
    assert opted_out(assistant, number) is None
    with sqlite3.connect(assistant.db_path) as db:
        rows = db.execute("SELECT channel, phone FROM appointment_requests WHERE "
                          "conversation_id = ?", (conversation_id(number),)).fetchall()
    assert rows == [("twilio", "(310) 555-0123")]


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
