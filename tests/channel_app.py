"""The public input channels in a real Sanic server on a free loopback port, in a
background thread, with a stand-in for Rasa's agent.

The channels (channels/rest.py, channels/socketio.py) are registered the way
`rasa run` registers them (rasa.core.channels.channel.register), and clients
talk real HTTP and socket.io to them; only the dialogue is replaced, by
`FakeAgent`, which answers "echo: <text>" and can hold turns open (to fill the
in-flight limit). Starting takes well under a second, so each test can have
its own server with its own limits. Stopped by the `with` block that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from typing import Any, Dict, Iterator, List, Optional

from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from servers import free_port


class FakeTracker:
    def __init__(self, channel: Optional[str]) -> None:
        self.channel = channel

    def get_latest_input_channel(self) -> Optional[str]:
        return self.channel


class FakeTrackerStore:
    """Conversations that already exist: sender id -> the channel they came from."""

    def __init__(self) -> None:
        self.channels: Dict[str, str] = {}

    async def retrieve(self, sender_id: str) -> Optional[FakeTracker]:
        channel = self.channels.get(sender_id)
        return FakeTracker(channel) if channel else None


class FakeAgent:
    def __init__(self) -> None:
        self.tracker_store = FakeTrackerStore()
        self.received: List[UserMessage] = []
        self.hold: Optional[asyncio.Event] = None  # set by the test: turns wait for it
        self.in_turn = 0
        self.replies: Dict[str, List[Dict[str, Any]]] = {}  # text -> bot messages to send

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        self.in_turn += 1
        try:
            if self.hold is not None:
                await self.hold.wait()
            for bot in self.replies.get(message.text, [{"text": f"echo: {message.text}"}]):
                await message.output_channel.send_response(message.sender_id, dict(bot))
        finally:
            self.in_turn -= 1


class ChannelServer:
    def __init__(self, channels: List[Any]) -> None:
        # several apps in one process: Sanic then keeps its original request
        # handler instead of re-compiling an already compiled one (as sanic-testing does)
        Sanic.test_mode = True
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.agent = FakeAgent()
        self.app = Sanic(f"channels_test_{uuid.uuid4().hex[:12]}")
        self.app.ctx.agent = self.agent
        register(channels, self.app, route="/webhooks/")
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()
        self.error: Optional[BaseException] = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.server = self.loop.run_until_complete(
                self.app.create_server(
                    host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
                )
            )
            self.loop.run_until_complete(self.server.startup())
            self.loop.run_until_complete(self.server.after_start())
        except BaseException as error:  # reported to the starting thread
            self.error = error
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    def call(self, function, *args) -> None:
        """Run `function(*args)` in the server's loop (e.g. to release held turns)."""
        self.loop.call_soon_threadsafe(function, *args)

    def hold_turns(self) -> None:
        done = threading.Event()

        def make() -> None:
            self.agent.hold = asyncio.Event()
            done.set()

        self.call(make)
        done.wait(5)

    def release_turns(self) -> None:
        self.call(lambda: self.agent.hold.set() if self.agent.hold else None)

    def start(self) -> ChannelServer:
        self.thread.start()
        self.ready.wait(30)
        if self.error is not None:
            raise RuntimeError("channel test server did not start") from self.error
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self.server is not None:
                self.server.close()
                await self.server.wait_closed()
                await self.server.before_stop()
                await self.server.after_stop()

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(15)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


@contextlib.contextmanager
def channel_server(*channels: Any) -> Iterator[ChannelServer]:
    server = ChannelServer(list(channels)).start()
    try:
        yield server
    finally:
        server.stop()


class ConnectionRefused(Exception):
    pass


class WidgetClient:
    """The widget's side of socket.io, as the widget speaks it on a WebSocket
    (widget/modules/connection.js): Engine.IO v4, default namespace, `session_request`/`user_uttered` out,
    `session_confirm`/`bot_uttered` in, answering the server's pings."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.events: asyncio.Queue[tuple] = asyncio.Queue()
        self.reader: Optional[asyncio.Task] = None

    @classmethod
    async def connect(
        cls, base_url: str, origin: str, headers: Optional[Dict] = None, timeout: float = 10
    ) -> WidgetClient:
        import json

        import websockets

        url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        ws = await websockets.connect(
            url, origin=origin, extra_headers=headers or {}, open_timeout=timeout
        )
        opening = await asyncio.wait_for(ws.recv(), timeout)
        assert opening.startswith("0"), opening
        await ws.send("40")
        while True:
            packet = await asyncio.wait_for(ws.recv(), timeout)
            if packet.startswith("40"):
                break
            if packet.startswith("44") or packet.startswith("41") or packet == "1":
                await ws.close()
                raise ConnectionRefused(packet)
            if packet == "2":
                await ws.send("3")
        client = cls(ws)
        client.reader = asyncio.get_running_loop().create_task(client._read(json))
        return client

    async def _read(self, json) -> None:
        try:
            async for packet in self.ws:
                if packet == "2":
                    await self.ws.send("3")
                elif packet.startswith("42"):
                    name, *data = json.loads(packet[2:])
                    await self.events.put((name, data[0] if data else None))
        except Exception:  # the connection closed
            pass

    async def emit(self, event: str, data: Any) -> None:
        import json

        await self.ws.send("42" + json.dumps([event, data]))

    async def next_event(self, name: str, timeout: float = 15) -> Any:
        while True:
            event, data = await asyncio.wait_for(self.events.get(), timeout)
            if event == name:
                return data

    async def start_session(self, session_id: Any = None) -> str:
        await self.emit("session_request", {"session_id": session_id})
        self.session_id = await self.next_event("session_confirm")
        return self.session_id

    async def say(self, text: str, session_id: Any = "bound") -> Dict:
        payload: Dict[str, Any] = {"message": text}
        if session_id == "bound":
            payload["session_id"] = getattr(self, "session_id", None)
        elif session_id is not None:
            payload["session_id"] = session_id
        await self.emit("user_uttered", payload)
        return await self.next_event("bot_uttered")

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 10)
