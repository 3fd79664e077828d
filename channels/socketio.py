"""The website chat widget's channel (socket.io at /socket.io), hardened.

Speaks the same events as Rasa's SocketIOInput (`session_request` ->
`session_confirm`, `user_uttered` -> `bot_uttered`), so widget/widget.js and
other Rasa socket.io widgets work with it, but:
- every user message is sanitised (channels/sanitize.py); clients cannot attach
  metadata;
- browsers may connect only from the configured origins
  (WIDGET_ALLOWED_ORIGINS, comma-separated; default: the widget server
  http://127.0.0.1:$WIDGET_PORT and http://localhost:$WIDGET_PORT;
  channels/settings.py);
- malformed events (missing or non-object data, odd session ids, extra
  arguments) are logged and answered sensibly, never crash a handler;
- session persistence is always on: the widget keeps its session id in the
  browser, so a reload or another page of the site continues the same
  conversation (Rasa 3.6's own handler also forgets to await `enter_room`, so
  with it persistent sessions never receive replies);
- session ids are minted and signed by the server (channels/socketio_ids.py):
  a client cannot choose another conversation's id;
- limits (channels/rate_limit.py): per conversation, per client address
  (RATE_LIMIT_PER_IP, shared with REST; TRUSTED_PROXY_COUNT for X-Forwarded-For),
  at most WIDGET_CONNECTIONS_PER_IP open connections per address, and the
  process-wide MAX_CONCURRENT_TURNS, each with a polite answer and the phone;
- bot messages that carry or ask for appointment-form answers are marked for
  the widget's storage (channels/socketio_output.py);
- a turn that produced no reply (e.g. the action server is down) still gets the
  "technical trouble" answer with the office phone number (channels/turn.py).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from actions.config import load_settings
from channels import settings
from channels.rate_limit import (
    BUSY_TEXT,
    RATE_LIMITED_TEXT,
    request_client_address,
    sender_rate_limiter,
    turn_slots,
)
from channels.sanitize import sanitize_user_text
from channels.socketio_ids import SessionIds
from channels.socketio_output import TrackingOutput
from channels.turn import run_turn, technical_trouble_reply

logger = logging.getLogger(__name__)


def first_arg(args: tuple) -> Any:
    """Socket.io events may arrive with no data or several arguments; use the first."""
    return args[0] if args else None


class SafeSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel for the website widget, hardened (module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> SafeSocketIOInput:
        credentials = credentials or {}
        if credentials.get("session_persistence") is False:
            logger.warning(
                "socketio: session_persistence is always on for the website "
                "widget (a reload must keep the conversation); ignoring false."
            )
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            jwt_key=credentials.get("jwt_key"),
            jwt_method=credentials.get("jwt_method", "HS256"),
            allowed_origins=settings.allowed_origins_from_env(),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        session_persistence: bool = True,
        socketio_path: Optional[Text] = "/socket.io",
        jwt_key: Optional[Text] = None,
        jwt_method: Optional[Text] = "HS256",
        metadata_key: Optional[Text] = "metadata",
        allowed_origins: Optional[List[str]] = None,
        id_secret: Optional[bytes] = None,
        max_connections_per_ip: Optional[int] = None,
    ) -> None:
        super().__init__(
            user_message_evt,
            bot_message_evt,
            namespace,
            True,
            socketio_path,
            jwt_key,
            jwt_method,
            metadata_key,
        )
        self.allowed_origins = (
            [settings.normalise_origin(o) for o in allowed_origins]
            if allowed_origins is not None
            else settings.allowed_origins_from_env()
        )
        if not self.allowed_origins:  # an empty list would switch the origin check off
            raise ValueError("The socket.io channel needs at least one allowed origin.")
        # socket id -> conversation (session) id, for sockets of this process
        self.bound_sessions: Dict[Text, Text] = {}
        self._id_secret = id_secret
        self._ids: Optional[SessionIds] = None
        self.max_connections_per_ip = (
            max_connections_per_ip
            if max_connections_per_ip is not None
            else settings.widget_connections_per_ip()
        )
        # socket id -> client address, and open sockets per address (this process)
        self.socket_addresses: Dict[Text, str] = {}
        self.connections: Dict[str, int] = {}

    @property
    def ids(self) -> SessionIds:
        if self._ids is None:
            self._ids = SessionIds(self._id_secret or settings.widget_id_secret())
        return self._ids

    @staticmethod
    def client_address_of(environ: Mapping[str, Any]) -> Optional[str]:
        """The connecting client's address (python-engineio's environ carries the
        Sanic request; its REMOTE_ADDR is a fixed placeholder)."""
        request = environ.get("sanic.request") if isinstance(environ, Mapping) else None
        if request is None:
            return None
        return request_client_address(request)

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
            max_http_buffer_size=settings.MAX_PUBLIC_BODY_BYTES,  # one socket.io packet
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
        self.ids  # noqa: B018 (the property loads or creates the id secret: at start-up, not in a chat)
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
                logger.warning(
                    "socketio: refused a connection: a client address has "
                    "WIDGET_CONNECTIONS_PER_IP (%d) open",
                    self.max_connections_per_ip,
                )
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

    async def handle_user_message(
        self, sid: Text, data: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
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
            await sio.emit(
                self.bot_message_evt,
                {"text": template.format(phone=load_settings().office_phone)},
                room=reply_to(),
                namespace=self.namespace,
            )

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
            failed = await run_turn(
                on_new_message, UserMessage(text, output, session_id, input_channel=self.name())
            )
        if not output.sent or failed:
            await sio.emit(
                self.bot_message_evt,
                technical_trouble_reply(),
                room=reply_to(),
                namespace=self.namespace,
            )
