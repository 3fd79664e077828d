"""The widget's socket.io channel (channels/socketio.py) without servers:
sanitisation, allowed origins (channels/settings.py), session handling,
malformed events, silence."""

from __future__ import annotations

from typing import Any, List

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.run import create_http_input_channels

from channels import socketio as channel
from channels.sanitize import EMPTY_MESSAGE, sanitize_user_text
from channels.settings import allowed_origins_from_env
from channels.socketio_ids import SessionIds
from channels.turn import technical_trouble_reply

SECRET = b"test-widget-id-secret"
IDS = SessionIds(SECRET)
SESSION = IDS.mint()  # ids are minted and signed by the channel


# ------------------------------------------------------------------ origins


def test_default_origins_follow_widget_port():
    assert allowed_origins_from_env({}) == ["http://127.0.0.1:8080", "http://localhost:8080"]
    assert allowed_origins_from_env({"WIDGET_PORT": "9123"}) == [
        "http://127.0.0.1:9123",
        "http://localhost:9123",
    ]
    assert allowed_origins_from_env({"WIDGET_PORT": "9123", "WIDGET_ALLOWED_ORIGINS": " , "}) == [
        "http://127.0.0.1:9123",
        "http://localhost:9123",
    ]


def test_configured_origins_are_normalised_like_browsers_send_them():
    env = {
        "WIDGET_ALLOWED_ORIGINS": "https://WWW.Example.com/, https://www.example.com:443, http://clinic.test:8081,"
        " http://[::1]:8080"
    }
    assert allowed_origins_from_env(env) == [
        "https://www.example.com",
        "http://clinic.test:8081",
        "http://[::1]:8080",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "https://*.example.com",
        "www.example.com",
        "ftp://example.com",
        "https://example.com/chat",
        "https://user:pw@example.com",
        "https://example.com?x=1",
        "http://example.com:99999",
    ],
)
def test_wildcards_paths_and_non_origins_are_refused(bad):
    with pytest.raises(ValueError, match="WIDGET_ALLOWED_ORIGINS"):
        allowed_origins_from_env({"WIDGET_ALLOWED_ORIGINS": f"https://ok.test,{bad}"})


def test_socketio_server_only_accepts_the_configured_origins(monkeypatch):
    monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", "https://www.example.com")
    monkeypatch.delenv("WIDGET_PORT", raising=False)
    widget = channel.SafeSocketIOInput.from_credentials({"session_persistence": False})
    assert widget.name() == "socketio"
    assert widget.session_persistence is True  # a reload must keep the conversation
    sio = widget.create_server()
    assert sio.eio.cors_allowed_origins == ["https://www.example.com"]
    assert sio.eio.cors_credentials is False
    assert sio.eio._cors_allowed_origins({"HTTP_ORIGIN": "https://evil.test"}) == [
        "https://www.example.com"
    ]


def test_an_empty_origin_list_is_refused():
    with pytest.raises(ValueError, match="at least one allowed origin"):
        channel.SafeSocketIOInput(allowed_origins=[])


def test_credentials_file_entry_loads_the_channel(tmp_path, monkeypatch):
    monkeypatch.setenv("WIDGET_PORT", "8123")
    monkeypatch.delenv("WIDGET_ALLOWED_ORIGINS", raising=False)
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(
        "channels.rest.SafeRestInput:\nchannels.socketio.SafeSocketIOInput:\n"
        "  session_persistence: true\n"
    )
    channels = create_http_input_channels(None, str(credentials))
    widget = next(c for c in channels if isinstance(c, channel.SafeSocketIOInput))
    assert widget.allowed_origins == ["http://127.0.0.1:8123", "http://localhost:8123"]


# ------------------------------------------------------------------ turns


class FakeServer:
    """Records what the channel emits and which rooms sockets are in."""

    def __init__(self) -> None:
        self.emitted: List[tuple] = []
        self.rooms: dict = {}

    async def emit(self, event, data=None, room=None, namespace=None, **kwargs) -> None:
        self.emitted.append((event, data, room))

    async def enter_room(self, sid, room, namespace=None) -> None:
        self.rooms.setdefault(sid, set()).add(room)

    async def leave_room(self, sid, room, namespace=None) -> None:
        self.rooms.get(sid, set()).discard(room)


def make_channel() -> channel.SafeSocketIOInput:
    widget = channel.SafeSocketIOInput(allowed_origins=["http://127.0.0.1:8080"], id_secret=SECRET)
    widget.sio = FakeServer()  # type: ignore[assignment]
    return widget


async def turn(
    widget, data: Any, behaviour: str = "reply", sid: str = "socket-1"
) -> List[UserMessage]:
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        if behaviour == "raise":
            raise RuntimeError("tracker store down")
        if behaviour == "reply":
            await message.output_channel.send_text_message(message.sender_id, "An answer.")

    await widget.handle_user_message(sid, data, on_new_message)
    return received


@pytest.mark.parametrize(
    "raw",
    [
        "what are the symptoms?",
        "/restart",
        '/emergency{"x": 1}',
        "/ask_symptoms",
        "hi\x00\u200b there\x1b",
        "<img src=x onerror=alert(1)>",
        "",
        None,
        42,
        {"text": "hi"},
        "x" * 5000,
    ],
)
@pytest.mark.asyncio
async def test_every_message_is_sanitised(raw):
    widget = make_channel()
    [message] = await turn(widget, {"message": raw, "session_id": SESSION})
    assert message.text == sanitize_user_text(raw)
    assert message.sender_id == SESSION
    assert message.input_channel == "socketio"


@pytest.mark.asyncio
async def test_known_cases_of_sanitisation():
    widget = make_channel()
    texts = [
        (await turn(widget, {"message": raw, "session_id": SESSION}))[0].text
        for raw in ("/restart", "/ask_recovery", "   ", {"a": 1})
    ]
    assert texts == ["restart", "/ask_recovery", EMPTY_MESSAGE, EMPTY_MESSAGE]


@pytest.mark.asyncio
async def test_clients_cannot_attach_metadata():
    widget = make_channel()
    [message] = await turn(
        widget,
        {"message": "hi", "session_id": SESSION, "metadata": {"is_staff": True}, "customData": "x"},
    )
    assert not message.metadata


@pytest.mark.asyncio
async def test_reply_goes_to_the_asking_socket_which_joins_the_session_room():
    widget = make_channel()
    await turn(widget, {"message": "hi", "session_id": SESSION})
    assert widget.sio.rooms["socket-1"] == {SESSION}
    # not to the whole room: a duplicated tab with the same session must not get it
    assert widget.sio.emitted == [("bot_uttered", {"text": "An answer."}, "socket-1")]


@pytest.mark.asyncio
async def test_reply_goes_to_the_session_room_if_the_socket_left_during_the_turn():
    widget = make_channel()

    async def on_new_message(message: UserMessage) -> None:
        widget.bound_sessions.pop("socket-1")  # disconnected while Rasa was thinking
        await message.output_channel.send_text_message(message.sender_id, "An answer.")

    await widget.handle_user_message(
        "socket-1", {"message": "hi", "session_id": SESSION}, on_new_message
    )
    assert widget.sio.emitted == [("bot_uttered", {"text": "An answer."}, SESSION)]


@pytest.mark.asyncio
async def test_messages_sent_outside_a_turn_go_to_the_session_room():
    widget = make_channel()
    output = widget.get_output_channel()
    await output.send_text_message(SESSION, "A reminder.")
    assert widget.sio.emitted == [("bot_uttered", {"text": "A reminder."}, SESSION)]


@pytest.mark.asyncio
async def test_form_questions_and_private_messages_are_marked_for_the_widget():
    """Rasa's bot messages (BotUttered.message()): a form question (utter_ask_*)
    marks the patient's next message as a form answer; messages an action marks
    private (they repeat form answers) are marked so; others are not marked."""
    widget = make_channel()

    async def on_new_message(message: UserMessage) -> None:
        out = message.output_channel
        await out.send_response(
            message.sender_id,
            {"text": "What is your full name?", "utter_action": "utter_ask_patient_name"},
        )
        await out.send_response(
            message.sender_id,
            {
                "text": "Here is your request:\n- Name: Maria Lopez",
                "private": True,
                "private_reply": True,
                "buttons": [{"title": "Yes, send it", "payload": "/affirm"}],
            },
        )
        await out.send_response(
            message.sender_id,
            {"text": "An answer.", "utter_action": "utter_greet", "private": "yes"},
        )

    await widget.handle_user_message(
        "socket-1", {"message": "hi", "session_id": SESSION}, on_new_message
    )
    sent = [data for event, data, _ in widget.sio.emitted if event == "bot_uttered"]
    assert sent[0] == {"text": "What is your full name?", "private_reply": True}
    assert sent[1]["private"] is True and sent[1]["private_reply"] is True
    assert sent[1]["quick_replies"][0]["payload"] == "/affirm"
    assert sent[2] == {"text": "An answer."}


@pytest.mark.parametrize("behaviour", ["silence", "raise"])
@pytest.mark.asyncio
async def test_a_turn_without_reply_gets_the_technical_trouble_answer(behaviour):
    widget = make_channel()
    await turn(widget, {"message": "hi", "session_id": SESSION}, behaviour=behaviour)
    assert widget.sio.emitted == [("bot_uttered", technical_trouble_reply(), "socket-1")]
    assert "call the office" in technical_trouble_reply()["text"]


@pytest.mark.parametrize(
    "data",
    [
        "what are the symptoms",
        None,
        12,
        ["a", "b"],
        {"message": "hi"},
        {"message": "hi", "session_id": "short"},
        {"message": "hi", "session_id": ["x"]},
        {"message": "hi", "session_id": "../../etc/passwd0000"},
        {"message": "hi", "session_id": "0123456789abcdef0123456789abcdef"},  # unsigned (old) id
        {"message": "hi", "session_id": SESSION[:-1] + ("0" if SESSION[-1] != "0" else "1")},
        {"message": "hi", "session_id": SessionIds(b"another key").mint()},
    ],
)
@pytest.mark.asyncio
async def test_malformed_events_start_a_session_and_still_get_an_answer(data):
    widget = make_channel()
    [message] = await turn(widget, data)
    confirm = [e for e in widget.sio.emitted if e[0] == "session_confirm"]
    assert len(confirm) == 1 and confirm[0][2] == "socket-1"
    new_id = confirm[0][1]
    assert IDS.verify(new_id) and message.sender_id == new_id
    assert new_id != (data.get("session_id") if isinstance(data, dict) else None)
    assert widget.bound_sessions["socket-1"] == new_id
    assert ("bot_uttered", {"text": "An answer."}, "socket-1") in widget.sio.emitted


@pytest.mark.asyncio
async def test_messages_without_session_id_use_the_socket_s_session():
    widget = make_channel()
    await turn(widget, {"message": "hi", "session_id": SESSION})
    [message] = await turn(widget, {"message": "and recovery?"})
    assert message.sender_id == SESSION


@pytest.mark.asyncio
async def test_a_new_session_id_moves_the_socket_to_the_new_room():
    widget = make_channel()
    await turn(widget, {"message": "hi", "session_id": SESSION})
    other = IDS.mint()
    await turn(widget, {"message": "hi", "session_id": other})
    assert widget.sio.rooms["socket-1"] == {other}


# ------------------------------------------------- the registered handlers


@pytest.mark.asyncio
async def test_handlers_survive_malformed_events():
    widget = channel.SafeSocketIOInput(allowed_origins=["http://127.0.0.1:8080"], id_secret=SECRET)
    received: List[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    widget.blueprint(on_new_message)
    fake = FakeServer()
    handlers = widget.sio.handlers["/"]
    widget.sio = fake  # type: ignore[assignment]  # handlers look it up on the channel

    session_request = handlers["session_request"]
    await session_request("socket-1")
    await session_request("socket-1", "not a dict", 3)
    await session_request("socket-1", {"session_id": SESSION})
    for args in [(), (None,), ("text",), ({"message": {"x": 1}},), ({}, "extra")]:
        await handlers["user_uttered"]("socket-1", *args)
    assert await handlers["connect"]("socket-1", {}) is True
    assert await handlers["connect"]("socket-1", {}, None) is True
    await handlers["disconnect"]("socket-1")
    await handlers["disconnect"]("socket-1", "client disconnect")
    confirms = [e for e in fake.emitted if e[0] == "session_confirm"]
    assert len(confirms) == 3 and confirms[-1][1] == SESSION
    assert len(received) == 5 and all(m.sender_id == SESSION for m in received)
    # no reply from the fake Rasa: each turn got the technical-trouble answer
    assert sum(1 for e in fake.emitted if e[0] == "bot_uttered") == 5
    assert "socket-1" not in widget.bound_sessions


@pytest.mark.asyncio
async def test_jwt_protected_connect_refuses_missing_or_bad_tokens():
    widget = channel.SafeSocketIOInput(
        jwt_key="secret", id_secret=SECRET, allowed_origins=["http://127.0.0.1:8080"]
    )
    widget.blueprint(lambda message: None)
    connect = widget.sio.handlers["/"]["connect"]

    assert [
        await connect("s", {}, None),
        await connect("s", {}, {"token": 5}),
        await connect("s", {}, {"token": "not-a-jwt"}),
    ] == [False, False, False]
