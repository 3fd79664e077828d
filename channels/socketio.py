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
- session ids are minted and signed by the server ("web-<nonce>-<HMAC>", key
  WIDGET_ID_SECRET or var/widget_id_secret): a client can keep the id it was
  given but cannot choose another conversation's id (an unsigned or forged id
  is replaced by a fresh one), and the REST channel refuses "web-" ids;
- limits (channels/rate_limit.py): per conversation, per client address
  (RATE_LIMIT_PER_IP, shared with REST; TRUSTED_PROXY_COUNT for X-Forwarded-For),
  at most WIDGET_CONNECTIONS_PER_IP open connections per address, and the
  process-wide MAX_CONCURRENT_TURNS, each with a polite answer and the phone;
- bot messages that carry or ask for appointment-form answers are marked
  ("private": not to be stored by the widget; "private_reply": the patient's
  next message is a form answer, not to be stored either): questions of the
  form (utter_ask_*), and action messages marked so (actions/appointments.py);
- a turn that produced no reply (e.g. the action server is down) still gets the
  REST channel's "technical trouble" answer with the office phone number.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text
from urllib.parse import urlsplit

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from actions.config import PROJECT_ROOT, load_settings
from stores.secret_files import read_or_create_secret
from channels.rest import run_turn, technical_trouble_reply
from channels.rate_limit import (BUSY_TEXT, RATE_LIMITED_TEXT, client_address,
                                 connections_per_ip, sender_rate_limiter, trusted_proxy_count,
                                 turn_slots)
from channels.sanitize import sanitize_user_text

logger = logging.getLogger(__name__)

DEFAULT_WIDGET_PORT = "8080"
# Session ids are minted and signed here (SessionIds) and kept by the widget
# from an earlier visit; anything else is replaced by a fresh id.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
CONVERSATION_PREFIX = "web-"
SIGNED_SESSION_ID = re.compile(r"web-([0-9a-f]{32})-([0-9a-f]{32})")
DEFAULT_ID_SECRET_FILE = PROJECT_ROOT / "var" / "widget_id_secret"
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
    """The shape the widget accepts; whether the server minted it: SessionIds.verify."""
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def load_id_secret(env: Optional[Mapping[str, str]] = None) -> bytes:
    """WIDGET_ID_SECRET, else a random secret generated once into var/widget_id_secret
    (0600; WIDGET_ID_SECRET_FILE overrides the path). Several Rasa replicas need
    the same secret: set the variable (required then, cluster/settings.py)."""
    from cluster.settings import secret_from_env
    env = os.environ if env is None else env
    value = secret_from_env("WIDGET_ID_SECRET", env) or ""
    if not value:
        value = read_or_create_secret(Path(env.get("WIDGET_ID_SECRET_FILE")
                                           or DEFAULT_ID_SECRET_FILE),
                                      variable="WIDGET_ID_SECRET")
    return value.encode("utf-8")


class SessionIds:
    """Widget conversation ids: "web-" + random nonce + "-" + HMAC-SHA256 tag (128 bits)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty widget id secret is not allowed")
        self._secret = secret

    def _tag(self, nonce: str) -> str:
        message = f"widget-session:{nonce}".encode("ascii")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def mint(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{CONVERSATION_PREFIX}{nonce}-{self._tag(nonce)}"

    def verify(self, value: Any) -> bool:
        match = SIGNED_SESSION_ID.fullmatch(value) if isinstance(value, str) else None
        return bool(match) and hmac.compare_digest(match.group(2), self._tag(match.group(1)))


def message_privacy(message: Mapping[str, Any]) -> Dict[str, bool]:
    """Flags for the widget's storage (module docstring) from a Rasa bot message."""
    flags = {}
    utter_action = message.get("utter_action")
    if message.get("private_reply") is True or (
            isinstance(utter_action, str) and utter_action.startswith("utter_ask_")):
        flags["private_reply"] = True
    if message.get("private") is True:
        flags["private"] = True
    return flags


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
        self.flags: Dict[str, bool] = {}

    def room(self, recipient_id: Text) -> Text:
        return (self.reply_to() if self.reply_to else None) or recipient_id

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.flags = message_privacy(message)
        try:
            await super().send_response(recipient_id, message)
        finally:
            self.flags = {}

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        self.sent += 1
        if self.flags and isinstance(response, dict):
            response = {**response, **self.flags}
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
                 allowed_origins: Optional[List[str]] = None,
                 id_secret: Optional[bytes] = None,
                 max_connections_per_ip: Optional[int] = None) -> None:
        super().__init__(user_message_evt, bot_message_evt, namespace, True,
                         socketio_path, jwt_key, jwt_method, metadata_key)
        self.allowed_origins = (
            [normalise_origin(o) for o in allowed_origins] if allowed_origins is not None
            else allowed_origins_from_env())
        if not self.allowed_origins:  # an empty list would switch the origin check off
            raise ValueError("The socket.io channel needs at least one allowed origin.")
        # socket id -> conversation (session) id, for sockets of this process
        self.bound_sessions: Dict[Text, Text] = {}
        self._id_secret = id_secret
        self._ids: Optional[SessionIds] = None
        self.max_connections_per_ip = (max_connections_per_ip if max_connections_per_ip
                                       is not None else connections_per_ip())
        # socket id -> client address, and open sockets per address (this process)
        self.socket_addresses: Dict[Text, str] = {}
        self.connections: Dict[str, int] = {}

    @property
    def ids(self) -> SessionIds:
        if self._ids is None:
            self._ids = SessionIds(self._id_secret or load_id_secret())
        return self._ids

    @staticmethod
    def client_address_of(environ: Mapping[str, Any]) -> Optional[str]:
        """The connecting client's address (python-engineio's environ carries the
        Sanic request; its REMOTE_ADDR is a fixed placeholder)."""
        request = environ.get("sanic.request") if isinstance(environ, Mapping) else None
        if request is None:
            return None
        return client_address(request.ip or "unknown",
                              request.headers.getall("x-forwarded-for", []),
                              trusted_proxy_count())

    def admit_connection(self, sid: Text, address: Optional[str]) -> bool:
        if address is None:
            return True
        if self.connections.get(address, 0) >= self.max_connections_per_ip:
            return False
        self.connections[address] = self.connections.get(address, 0) + 1
        self.socket_addresses[sid] = address
        return True

    def release_connection(self, sid: Text) -> None:
        address = self.socket_addresses.pop(sid, None)
        if address is None:
            return
        left = self.connections.get(address, 1) - 1
        if left > 0:
            self.connections[address] = left
        else:
            self.connections.pop(address, None)

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
        self.ids  # load (or create) the id secret at start-up, not during a chat
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        namespace = self.namespace

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, *args: Any) -> bool:
            if self.jwt_key:
                auth = first_arg(args)
                token = auth.get("token") if isinstance(auth, dict) else None
                if not isinstance(token, str) or not token:
                    return False
                if not decode_bearer_token(token, self.jwt_key, self.jwt_algorithm):
                    return False
            if not self.admit_connection(sid, self.client_address_of(environ)):
                logger.warning("socketio: refused a connection: a client address has "
                               "WIDGET_CONNECTIONS_PER_IP (%d) open", self.max_connections_per_ip)
                return False
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *args: Any) -> None:
            self.bound_sessions.pop(sid, None)
            self.release_connection(sid)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, *args: Any) -> None:
            try:
                data = first_arg(args)
                requested = data.get("session_id") if isinstance(data, dict) else None
                session_id = requested if self.ids.verify(requested) else self.ids.mint()
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
        if self.ids.verify(requested):
            session_id = requested
        elif sid in self.bound_sessions:
            session_id = self.bound_sessions[sid]
        else:  # no (valid) session yet: start one and tell the client its id
            session_id = self.ids.mint()
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        await self.bind_session(sid, session_id)

        def reply_to() -> Text:
            # the asking socket while it is connected to this session, else
            # whichever sockets (e.g. after a reconnect) joined the session
            return sid if self.bound_sessions.get(sid) == session_id else session_id

        async def refuse(template: str) -> None:
            await sio.emit(self.bot_message_evt, {"text": template.format(
                phone=load_settings().office_phone)}, room=reply_to(), namespace=self.namespace)

        limiter = sender_rate_limiter()
        address = self.socket_addresses.get(sid)
        if address is not None and not await limiter.allow_ip(address):
            logger.warning("socketio: rate limit: a client address exceeded RATE_LIMIT_PER_IP")
            return await refuse(RATE_LIMITED_TEXT)
        if not await limiter.allow(self.name(), session_id):
            return await refuse(RATE_LIMITED_TEXT)
        output = TrackingOutput(sio, self.bot_message_evt, self.namespace, reply_to)
        text = sanitize_user_text(raw)
        with turn_slots().slot() as admitted:
            if not admitted:
                logger.warning("socketio: busy: MAX_CONCURRENT_TURNS turns in flight")
                return await refuse(BUSY_TEXT)
            failed = await run_turn(on_new_message, UserMessage(text, output, session_id,
                                                                input_channel=self.name()))
        if not output.sent or failed:
            await sio.emit(self.bot_message_evt, technical_trouble_reply(),
                           room=reply_to(), namespace=self.namespace)
