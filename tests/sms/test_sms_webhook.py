"""The SMS channel's webhook handler in-process: stub assistant, stub sender, no
server. Signature URL behind a proxy, opt-outs when the database is down, and
the in-flight limit."""

from __future__ import annotations

import asyncio
import types
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from actions.config import load_settings
from channels.rate_limit import turn_slots
from channels.settings import SmsSettings
from channels.sms.channel import SmsInput
from channels.sms.identities import ConversationIds
from channels.sms.opt_outs import OptOutStore
from channels.sms.sender import SendOutcome, SendResult
from channels.sms.state import InMemoryStateStore
from sms_helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ID_SECRET,
    TWILIO_NUMBER,
    conversation_id,
    new_sid,
    twilio_params,
)

PUBLIC_URL = "https://sms.example.org/webhooks/twilio/webhook"
INTERNAL_URL = "http://10.0.0.5:5005/webhooks/twilio/webhook"


class SeenInMemory:
    """channels/sms/seen.py's interface without a database (tests of other things)."""

    def __init__(self) -> None:
        self.sids = set()

    async def first_time(self, sid: str) -> bool:
        if sid in self.sids:
            return False
        self.sids.add(sid)
        return True


class InProcess:
    """The channel's handler without a server: stub assistant, stub sender."""

    def __init__(self, opt_outs, webhook_url: str = PUBLIC_URL, seen=None) -> None:
        self.received, self.sent = [], []
        outer = self

        class Sender:
            async def send(self, to, body, conversation_id):
                outer.sent.append((to, body, conversation_id))
                return SendResult(SendOutcome.SENT)

        settings = SmsSettings(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            twilio_number=TWILIO_NUMBER,
            webhook_url=webhook_url,
        )
        self.channel = SmsInput(
            settings,
            state=InMemoryStateStore(),
            opt_outs=opt_outs,
            seen=seen or SeenInMemory(),
            ids=ConversationIds(ID_SECRET.encode()),
            sender=Sender(),
        )

    async def on_new_message(self, message):
        self.received.append(message)
        await message.output_channel.send_response(
            message.sender_id,
            {
                "text": "Hi **there**",
                "buttons": [{"title": "Symptoms", "payload": "/ask_symptoms"}],
            },
        )

    async def post(self, number: str, body: str, signed_url: str = PUBLIC_URL, sid=None):
        params = twilio_params(number, body, sid or new_sid())
        signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, params)
        request = types.SimpleNamespace(
            body=urlencode(params).encode(),
            url=INTERNAL_URL,
            app=types.SimpleNamespace(ctx=None),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        reply = await self.channel._receive(request, self.on_new_message)
        await asyncio.gather(*self.channel._tasks)
        return reply


@pytest.mark.asyncio
async def test_webhook_behind_a_proxy_checks_the_configured_public_url(tmp_path):
    """A signature for TWILIO_WEBHOOK_URL is accepted although the request reached us
    on an internal address; one for the internal URL is not."""
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    number = "+13105550999"

    rejected = await harness.post(number, "hello", signed_url=INTERNAL_URL)
    accepted = await harness.post(number, "hello")
    assert (rejected.status, accepted.status) == (403, 200)
    assert "<Response></Response>" in accepted.body.decode()
    assert len(harness.received) == 1
    message = harness.received[0]
    assert message.sender_id == conversation_id(number)
    assert message.input_channel == "twilio" and message.metadata is None  # no raw number
    assert harness.sent == [(number, "Hi there\nReply 1 for Symptoms.", message.sender_id)]


@pytest.mark.asyncio
async def test_opt_outs_fail_closed_when_the_database_is_down():
    class DownDatabase:
        async def is_opted_out(self, number_hash):
            raise RuntimeError("database down")

        async def set(self, number_hash, opted_out, keyword):
            raise RuntimeError("database down")

    harness = InProcess(DownDatabase())

    await harness.post("+13105550998", "STOP")
    await harness.post("+13105550998", "hello")  # remembered in memory: silent
    await harness.post("+13105550997", "hello")  # unknown: treated as opted out
    await harness.post("+13105550997", "START")
    await harness.post("+13105550997", "hello")  # opted in here: answered
    bodies = [(to, body.split(" ")[:3]) for to, body, _ in harness.sent]
    assert bodies == [
        ("+13105550998", ["You", "are", "unsubscribed"]),
        ("+13105550997", ["You", "are", "subscribed"]),
        ("+13105550997", ["Hi", "there\nReply", "1"]),
    ]
    assert len(harness.received) == 1


@pytest.mark.asyncio
async def test_sms_turns_beyond_the_in_flight_limit_get_the_busy_text(tmp_path, monkeypatch):
    """MAX_CONCURRENT_TURNS counts SMS turns too: with every slot taken, the
    patient gets a text with the office phone instead of a long wait."""
    monkeypatch.setenv("MAX_CONCURRENT_TURNS", "1")
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    number = "+13105550996"

    with turn_slots().slot() as taken:  # another patient's turn is being answered
        assert taken
        await harness.post(number, "what are the symptoms?")
        await harness.post(number, "STOP")  # keywords never wait for a slot
        await harness.post(number, "START")
    await harness.post(number, "what are the symptoms?")
    bodies = [body for _, body, _ in harness.sent]
    assert "answering many people" in bodies[0] and load_settings().office_phone in bodies[0]
    assert "unsubscribed" in bodies[1] and "subscribed again" in bodies[2]
    assert bodies[3].startswith("Hi there")
    assert len(harness.received) == 1  # only the turn that got a slot reached the assistant


@pytest.mark.asyncio
async def test_a_replayed_request_is_ignored_after_a_restart(tmp_path):
    """Issue 21: de-duplication lived in memory, so a captured (validly signed) Twilio
    request replayed after a restart was answered again. The MessageSid is now kept in
    the database (channels/sms/seen.py), and a new process finds it there."""
    from channels.sms.seen import SeenMessages

    url = f"sqlite:///{tmp_path / 'c.db'}"
    number, sid = "+13105550998", new_sid()
    before = InProcess(OptOutStore(url), seen=SeenMessages(url))
    assert (await before.post(number, "hello", sid=sid)).status == 200
    assert len(before.received) == 1
    # a restart: new process, empty memory, same database
    after = InProcess(OptOutStore(url), seen=SeenMessages(url))
    replay = await after.post(number, "hello", sid=sid)
    assert replay.status == 200 and after.received == [] and after.sent == []
    assert len((await after.post(number, "hello again")).body) > 0
    assert len(after.received) == 1  # a new message still goes through
