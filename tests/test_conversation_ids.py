"""Security issue #10, finding 8: a conversation id must not work as a bearer
token for another channel's conversation.

- The REST channel refuses ids minted by the other channels ("web-..." widget
  ids, "sms-..." SMS ids) and old unsigned widget ids of stored widget
  conversations (channels/rest.py).
- The widget's ids are minted and signed by the server (channels/socketio_ids.py);
  a client can keep the id it was given but cannot pick any other.

Real HTTP and socket.io against the real channels in a Sanic server on
loopback (tests/channel_app.py: only Rasa's dialogue is a stand-in). The real
Rasa server refuses the same ids too (tests/test_rest_e2e.py).
"""

from __future__ import annotations

import stat

import pytest
import requests

from channel_app import WidgetClient, channel_server
from channels import rest, socketio_ids
from channels.rest import SafeRestInput
from channels.settings import widget_id_secret
from channels.sms import identities as sms_identities
from channels.sms.identities import ConversationIds
from channels.socketio import SafeSocketIOInput
from channels.socketio_ids import SessionIds

ORIGIN = "http://127.0.0.1:8080"
SECRET = b"test-widget-id-secret-0123456789"
IDS = SessionIds(SECRET)
SMS_ID = ConversationIds(b"sms-secret").for_number("+13105550100")
LEGACY_WIDGET_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def origins(monkeypatch):
    monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", ORIGIN)


def post(server, sender: str) -> requests.Response:
    return requests.post(
        f"{server.url}/webhooks/rest/webhook",
        timeout=30,
        json={"sender": sender, "message": "what did I say before?"},
    )


# ------------------------------------------------------------------ REST


@pytest.mark.parametrize(
    "sender", [IDS.mint(), SMS_ID, SMS_ID.upper(), "web-anything-at-all", "WEB-" + IDS.mint()[4:]]
)
def test_rest_refuses_conversation_ids_of_the_widget_and_sms(sender):
    with channel_server(SafeRestInput()) as server:
        response = post(server, sender)
        ordinary = post(server, "my-own-conversation-42")
    assert response.status_code == 400
    assert "another channel" in response.json()["reason"]
    assert ordinary.status_code == 200
    assert [m.sender_id for m in server.agent.received] == ["my-own-conversation-42"]


def test_rest_refuses_an_old_unsigned_id_of_a_stored_widget_conversation():
    rest_conversation = "fedcba9876543210fedcba9876543210"
    with channel_server(SafeRestInput()) as server:
        stored = server.agent.tracker_store.channels
        stored[LEGACY_WIDGET_ID] = "socketio"
        stored[rest_conversation] = "rest"
        widget_ids = post(server, LEGACY_WIDGET_ID)
        rest_ids = post(server, rest_conversation)
        new_ids = post(server, "00000000000000000000000000000000")  # not stored yet
    assert widget_ids.status_code == 400
    assert rest_ids.status_code == 200 and new_ids.status_code == 200


def test_the_prefixes_refused_by_rest_are_the_ones_the_channels_mint():
    assert socketio_ids.CONVERSATION_PREFIX in rest.OTHER_CHANNEL_PREFIXES
    assert sms_identities.CONVERSATION_PREFIX in rest.OTHER_CHANNEL_PREFIXES
    assert IDS.mint().startswith(socketio_ids.CONVERSATION_PREFIX)
    assert SMS_ID.startswith(sms_identities.CONVERSATION_PREFIX)
    assert rest.SENDER_ID.fullmatch(IDS.mint())  # refused for what it is, not its shape


# ------------------------------------------------------------------ widget (socket.io)


@pytest.mark.asyncio
async def test_the_widget_gets_a_signed_id_and_keeps_it_across_reconnects():
    async def scenario(server):
        first = await WidgetClient.connect(server.url, ORIGIN)
        session_id = await first.start_session(None)
        await first.say("hello")
        await first.close()
        again = await WidgetClient.connect(server.url, ORIGIN)  # a reload
        kept = await again.start_session(session_id)
        await again.say("and again")
        await again.close()
        return session_id, kept

    with channel_server(SafeSocketIOInput(id_secret=SECRET)) as server:
        session_id, kept = await scenario(server)
    assert IDS.verify(session_id) and kept == session_id
    assert [m.sender_id for m in server.agent.received] == [session_id, session_id]


@pytest.mark.asyncio
async def test_a_widget_client_cannot_pick_another_conversation_s_id():
    victim = IDS.mint()  # a real widget conversation: its id was leaked somehow
    forged_tag = victim[:-6] + ("000000" if not victim.endswith("000000") else "111111")
    attempts = [
        "patient-123",  # someone's REST conversation
        SMS_ID,  # someone's SMS conversation
        LEGACY_WIDGET_ID,  # an old, unsigned widget id
        forged_tag,  # a signature that does not match
        SessionIds(b"another key").mint(),  # signed with another key
        "web-" + "a" * 32 + "-" + "b" * 32,
    ]

    async def scenario(server):
        attacker = await WidgetClient.connect(server.url, ORIGIN)
        given = [await attacker.start_session(requested) for requested in attempts]
        own = given[-1]
        # naming an id in a message does not switch to it either
        replies = [await attacker.say("hi", session_id=requested) for requested in attempts]
        await attacker.close()
        return given, own, replies

    with channel_server(SafeSocketIOInput(id_secret=SECRET)) as server:
        given, own, replies = await scenario(server)
    for requested, received in zip(attempts, given):
        assert received != requested and IDS.verify(received)
    assert len(set(given)) == len(given)  # each a fresh conversation
    senders = {m.sender_id for m in server.agent.received}
    assert senders == {own}
    assert not senders & set(attempts)
    assert all(r["text"] == "echo: hi" for r in replies)


def test_a_signed_id_is_only_valid_with_the_key_that_signed_it():
    session_id = IDS.mint()
    assert IDS.verify(session_id)
    assert not SessionIds(b"another key").verify(session_id)
    for bad in (None, 7, "", session_id + "0", session_id.upper(), session_id[:-1]):
        assert not IDS.verify(bad)


def test_the_id_key_comes_from_the_environment_or_one_private_file(tmp_path):
    path = tmp_path / "var" / "widget_id_secret"
    assert (
        widget_id_secret({"WIDGET_ID_SECRET": "from-env", "WIDGET_ID_SECRET_FILE": str(path)})
        == b"from-env"
    )
    assert not path.exists()
    generated = widget_id_secret({"WIDGET_ID_SECRET_FILE": str(path)})
    assert len(generated) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert widget_id_secret({"WIDGET_ID_SECRET_FILE": str(path)}) == generated
