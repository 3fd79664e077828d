"""The website chat widget's channel (socket.io at /socket.io), hardened.

Speaks the same events as Rasa's SocketIOInput (`session_request` ->
`session_confirm`, `user_uttered` -> `bot_uttered`), so widget/widget.js and
other Rasa socket.io widgets work with it, but:
- every user message is sanitised (channels/sanitize.py); clients cannot attach
  metadata;
- browsers may connect only from the configured origins
  (WIDGET_ALLOWED_ORIGINS, comma-separated; default: the widget server
  http://127.0.0.1:$WIDGET_PORT and http://localhost:$WIDGET_PORT);
- malformed events (missing or non-object data, odd session ids, extra
  arguments) are logged and answered sensibly, never crash a handler;
- session persistence is always on: the widget keeps its session id in the
  browser, so a reload or another page of the site continues the same
  conversation (Rasa 3.6's own handler also forgets to await `enter_room`, so
  with it persistent sessions never receive replies);
- a turn that produced no reply (e.g. the action server is down) still gets the
  REST channel's "technical trouble" answer with the office phone number.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text
from urllib.parse import urlsplit

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from actions.config import load_settings
from channels.rest import run_turn, technical_trouble_reply
from channels.rate_limit import RATE_LIMITED_TEXT, sender_rate_limiter
from channels.sanitize import sanitize_user_text

logger = logging.getLogger(__name__)

DEFAULT_WIDGET_PORT = "8080"
# Session ids are minted here (uuid4 hex) or kept by the widget from an earlier
# visit; anything else is replaced by a fresh id.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
# One socket.io packet (a typed question is at most a few KB).
MAX_PACKET_BYTES = 64 * 1024


def default_allowed_origins(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The widget server of `widget/serve.py` (WIDGET_PORT, default 8080)."""
    env = os.environ if env is None else env
    port = (env.get("WIDGET_PORT") or DEFAULT_WIDGET_PORT).strip()
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def normalise_origin(value: str) -> str:
    """`https://Example.com:443/` -> `https://example.com`, as browsers send it."""
    text = value.strip()
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in ("http", "https") or not parts.hostname or port == -1
            or parts.username or parts.password or parts.query or parts.fragment
            or parts.path not in ("", "/") or "*" in text):
        raise ValueError(
            f"WIDGET_ALLOWED_ORIGINS: {value!r} is not an origin like "
            "https://www.example.com or http://127.0.0.1:8080 (no wildcards, no paths)")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = 80 if parts.scheme == "http" else 443
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def allowed_origins_from_env(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """WIDGET_ALLOWED_ORIGINS (comma-separated) or the widget server's defaults."""
    env = os.environ if env is None else env
    raw = env.get("WIDGET_ALLOWED_ORIGINS", "")
    entries = [item for item in raw.split(",") if item.strip()]
    origins = [normalise_origin(item) for item in entries] or default_allowed_origins(env)
    return list(dict.fromkeys(origins))


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def first_arg(args: tuple) -> Any:
    """Socket.io events may arrive with no data or several arguments; use the first."""
    return args[0] if args else None


class TrackingOutput(SocketIOOutput):
    """SocketIOOutput that remembers whether the turn sent the patient anything.

    With `reply_to` (a callable giving the socket to answer, or None), a turn's
    replies go to the socket that asked, not to every socket of the session:
    a duplicated browser tab shares the session id but must not receive the
    other tab's answers. Without it (messages Rasa sends outside a turn), they
    go to the session's room.
    """

    def __init__(self, sio: AsyncServer, bot_message_evt: Text,
                 namespace: Optional[Text] = None,
                 reply_to: Optional[Callable[[], Optional[Text]]] = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace
        self.reply_to = reply_to
        self.sent = 0

    def room(self, recipient_id: Text) -> Text:
        return (self.reply_to() if self.reply_to else None) or recipient_id

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        self.sent += 1
        await self.sio.emit(self.bot_message_evt, response, room=self.room(socket_id),
                            namespace=self.namespace)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        # Rasa's convention: the custom JSON holds socket.io emit() arguments ("data", ...)
        self.sent += 1
        arguments = dict(json_message)
        arguments.setdefault("room", self.room(recipient_id))
        arguments.setdefault("namespace", self.namespace)
        await self.sio.emit(self.bot_message_evt, **arguments)


class SafeSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel for the website widget, hardened (module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SafeSocketIOInput":
        credentials = credentials or {}
        if credentials.get("session_persistence") is False:
            logger.warning("socketio: session_persistence is always on for the website "
                           "widget (a reload must keep the conversation); ignoring false.")
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            jwt_key=credentials.get("jwt_key"),
            jwt_method=credentials.get("jwt_method", "HS256"),
            allowed_origins=allowed_origins_from_env(),
        )

    def __init__(self, user_message_evt: Text = "user_uttered",
                 bot_message_evt: Text = "bot_uttered", namespace: Optional[Text] = None,
                 session_persistence: bool = True, socketio_path: Optional[Text] = "/socket.io",
                 jwt_key: Optional[Text] = None, jwt_method: Optional[Text] = "HS256",
                 metadata_key: Optional[Text] = "metadata",
                 allowed_origins: Optional[List[str]] = None) -> None:
        super().__init__(user_message_evt, bot_message_evt, namespace, True,
                         socketio_path, jwt_key, jwt_method, metadata_key)
        self.allowed_origins = (
            [normalise_origin(o) for o in allowed_origins] if allowed_origins is not None
            else allowed_origins_from_env())
        if not self.allowed_origins:  # an empty list would switch the origin check off
            raise ValueError("The socket.io channel needs at least one allowed origin.")
        # socket id -> conversation (session) id, for sockets of this process
        self.bound_sessions: Dict[Text, Text] = {}

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        """For messages Rasa sends outside a turn (e.g. reminders, /conversations API)."""
        if self.sio is None:
            return super().get_output_channel()
        return TrackingOutput(self.sio, self.bot_message_evt, self.namespace)

    def create_server(self) -> AsyncServer:
        return AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=list(self.allowed_origins),
            cors_credentials=False,  # the widget sends no cookies
            max_http_buffer_size=MAX_PACKET_BYTES,
        )

    async def bind_session(self, sid: Text, session_id: Text) -> None:
        sio = self.sio
        assert sio is not None
        previous = self.bound_sessions.get(sid)
        if previous == session_id:
            return
        if previous is not None:
            await sio.leave_room(sid, previous, namespace=self.namespace)
        await sio.enter_room(sid, session_id, namespace=self.namespace)
        self.bound_sessions[sid] = session_id

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = self.create_server()
        self.sio = sio
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        namespace = self.namespace

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, *args: Any) -> bool:
            if not self.jwt_key:
                return True
            auth = first_arg(args)
            token = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(token, str) or not token:
                return False
            return bool(decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *args: Any) -> None:
            self.bound_sessions.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, *args: Any) -> None:
            try:
                data = first_arg(args)
                requested = data.get("session_id") if isinstance(data, dict) else None
                session_id = requested if valid_session_id(requested) else uuid.uuid4().hex
                await self.bind_session(sid, session_id)
                await self.sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            except Exception:
                logger.exception("socketio: session_request failed")

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, *args: Any) -> None:
            try:
                await self.handle_user_message(sid, first_arg(args), on_new_message)
            except Exception:
                logger.exception("socketio: could not handle a user message")

        return socketio_webhook

    async def handle_user_message(self, sid: Text, data: Any,
                                  on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        sio = self.sio
        assert sio is not None
        raw = data.get("message") if isinstance(data, dict) else data
        requested = data.get("session_id") if isinstance(data, dict) else None
        if valid_session_id(requested):
            session_id = requested
        elif sid in self.bound_sessions:
            session_id = self.bound_sessions[sid]
        else:  # no session yet: start one and tell the client its id
            session_id = uuid.uuid4().hex
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        await self.bind_session(sid, session_id)

        def reply_to() -> Text:
            # the asking socket while it is connected to this session, else
            # whichever sockets (e.g. after a reconnect) joined the session
            return sid if self.bound_sessions.get(sid) == session_id else session_id

        if not await sender_rate_limiter().allow(self.name(), session_id):
            await sio.emit(self.bot_message_evt, {"text": RATE_LIMITED_TEXT.format(
                phone=load_settings().office_phone)}, room=reply_to(), namespace=self.namespace)
            return
        output = TrackingOutput(sio, self.bot_message_evt, self.namespace, reply_to)
        text = sanitize_user_text(raw)
        failed = await run_turn(on_new_message, UserMessage(text, output, session_id,
                                                            input_channel=self.name()))
        if not output.sent or failed:
            await sio.emit(self.bot_message_evt, technical_trouble_reply(),
                           room=reply_to(), namespace=self.namespace)
