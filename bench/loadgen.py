"""Async load generator: N concurrent multi-turn conversations against one server.

Closed loop, like real patients: N workers each hold one conversation at a time
and send its next message only after the reply to the previous one arrived
(no think time, so the server is driven as hard as N patients can drive it;
`think_s=(lo, hi)` adds a random pause before each message instead, like a
patient reading and typing). When a conversation ends the worker starts the
next one until all are done.

- REST: aiohttp, one POST /webhooks/rest/webhook per turn; latency is the
  request's round trip.
- socket.io: python-socketio AsyncClient (websocket transport), one connection
  per conversation; latency is the time to the first `bot_uttered` of the turn
  (and, separately, to the last one). Socket.io has no end-of-turn marker, so a
  turn is considered complete after IDLE_GAP_S of silence; that wait is not
  part of the latency but does lower the socket.io messages/s figure.

Errors: transport failures, timeouts, non-200 responses, socket.io turns with
no reply within TURN_TIMEOUT_S, and replies that are the channel's "technical
trouble" fallback. A 200 with an empty list is not an error but is counted
(`empty_replies`): the `rasa init` baseline has nothing to say to some of our
messages (ours always answers).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import aiohttp

TROUBLE = "technical trouble"
TURN_TIMEOUT_S = 60.0
IDLE_GAP_S = 0.3


@dataclass
class RunStats:
    transport: str
    concurrency: int
    conversations: int
    latencies: List[float] = field(default_factory=list)
    last_latencies: List[float] = field(default_factory=list)
    errors: Dict[str, int] = field(default_factory=dict)
    error_examples: List[str] = field(default_factory=list)
    wall_s: float = 0.0
    empty_replies: int = 0  # 200 with no bot message (the baseline bot, for some inputs)
    think_s: Optional[tuple] = None

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if detail and len(self.error_examples) < 5:
            self.error_examples.append(f"{kind}: {detail[:200]}")

    def summary(self) -> Dict:
        lat = sorted(self.latencies)
        total = len(self.latencies) + sum(self.errors.values())
        out = {
            "transport": self.transport,
            "concurrency": self.concurrency,
            "think_s": list(self.think_s) if self.think_s else None,
            "conversations": self.conversations,
            "messages": total,
            "wall_s": round(self.wall_s, 2),
            "messages_per_s": round(total / self.wall_s, 2) if self.wall_s else 0.0,
            "p50_ms": ms(percentile(lat, 50)),
            "p95_ms": ms(percentile(lat, 95)),
            "p99_ms": ms(percentile(lat, 99)),
            "max_ms": ms(lat[-1] if lat else None),
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "empty_replies": self.empty_replies,
            "error_examples": list(self.error_examples),
        }
        if self.last_latencies:
            last = sorted(self.last_latencies)
            out.update(
                last_reply_p50_ms=ms(percentile(last, 50)),
                last_reply_p95_ms=ms(percentile(last, 95)),
                last_reply_p99_ms=ms(percentile(last, 99)),
            )
        return out


def percentile(sorted_values: List[float], pct: float) -> Optional[float]:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), -(-len(sorted_values) * pct // 100)))
    return sorted_values[int(rank) - 1]


def ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


async def _run_workers(concurrency: int, convs: List[List[str]], run_one) -> float:
    queue: asyncio.Queue = asyncio.Queue()
    for i, conv in enumerate(convs):
        queue.put_nowait((i, conv))

    async def worker() -> None:
        while True:
            try:
                i, conv = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await run_one(i, conv)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


async def rest_load(
    base_url: str,
    convs: List[List[str]],
    concurrency: int,
    sender_prefix: str,
    think_s: Optional[tuple] = None,
) -> RunStats:
    stats = RunStats("rest", concurrency, len(convs))
    stats.think_s = think_s
    rng = random.Random(concurrency)
    url = f"{base_url}/webhooks/rest/webhook"
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def run_one(i: int, conv: List[str]) -> None:
            sender = f"{sender_prefix}-{i}"
            for text in conv:
                if think_s:
                    await asyncio.sleep(rng.uniform(*think_s))
                start = time.perf_counter()
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as r:
                        body = await r.json(content_type=None)
                        status = r.status
                except Exception as e:  # transport error or timeout
                    stats.error("transport", f"{type(e).__name__}: {e}")
                    continue
                elapsed = time.perf_counter() - start
                if status != 200:
                    stats.error(f"http_{status}", str(body))
                elif not isinstance(body, list):
                    stats.error("bad_body", str(body))
                elif any(TROUBLE in (m.get("text") or "") for m in body):
                    stats.error("trouble_reply", text)
                else:
                    stats.latencies.append(elapsed)
                    if not body:
                        stats.empty_replies += 1

        stats.wall_s = await _run_workers(concurrency, convs, run_one)
    return stats


def _aiohttp_ws_timeout_shim() -> None:
    """python-engineio 4.15's client passes aiohttp.ClientWSTimeout (aiohttp >= 3.10);
    Rasa 3.6 pins aiohttp 3.9, whose ws_connect takes the close timeout as a float."""
    if not hasattr(aiohttp, "ClientWSTimeout"):
        aiohttp.ClientWSTimeout = lambda ws_close=10.0, **_: ws_close  # type: ignore


async def socketio_load(
    base_url: str,
    convs: List[List[str]],
    concurrency: int,
    socketio_path: str = "socket.io",
    reply_timeout: float = TURN_TIMEOUT_S,
    silence_ok: bool = False,
) -> RunStats:
    """`reply_timeout`: how long to wait for a turn's first message. A turn without
    one is an error, unless `silence_ok` (the baseline bot has nothing to say to
    some messages; over REST that is a 200 with an empty list): then it is
    counted in `empty_replies`, and the wait is part of the wall time."""
    import socketio  # python-socketio

    _aiohttp_ws_timeout_shim()

    stats = RunStats("socketio", concurrency, len(convs))

    async def run_one(i: int, conv: List[str]) -> None:
        client = socketio.AsyncClient(reconnection=False)
        inbox: asyncio.Queue = asyncio.Queue()
        confirmed: asyncio.Future = asyncio.get_running_loop().create_future()

        @client.on("session_confirm")
        async def on_confirm(data=None, *args):
            if not confirmed.done():
                confirmed.set_result(data)

        @client.on("bot_uttered")
        async def on_bot(data=None, *args):
            inbox.put_nowait((time.perf_counter(), data))

        try:
            await client.connect(
                base_url, socketio_path=socketio_path, transports=["websocket"], wait_timeout=30
            )
            await client.emit("session_request", {"session_id": None})
            session_id = await asyncio.wait_for(confirmed, 30)
            if isinstance(session_id, dict):  # Rasa's own channel sends {"session_id"?}
                session_id = session_id.get("session_id")
        except Exception as e:
            stats.error("connect", f"{type(e).__name__}: {e}")
            await _disconnect(client)
            return
        try:
            for text in conv:
                start = time.perf_counter()
                await client.emit("user_uttered", {"message": text, "session_id": session_id})
                try:
                    first_at, first = await asyncio.wait_for(inbox.get(), reply_timeout)
                except asyncio.TimeoutError:
                    if silence_ok:
                        stats.empty_replies += 1
                    else:
                        stats.error("no_reply", text)
                    continue
                last_at, replies = first_at, [first]
                while True:
                    try:
                        last_at, data = await asyncio.wait_for(inbox.get(), IDLE_GAP_S)
                        replies.append(data)
                    except asyncio.TimeoutError:
                        break
                if any(
                    TROUBLE in ((r or {}).get("text") or "") for r in replies if isinstance(r, dict)
                ):
                    stats.error("trouble_reply", text)
                else:
                    stats.latencies.append(first_at - start)
                    stats.last_latencies.append(last_at - start)
        except Exception as e:
            stats.error("transport", f"{type(e).__name__}: {e}")
        finally:
            await _disconnect(client)

    stats.wall_s = await _run_workers(concurrency, convs, run_one)
    return stats


async def _disconnect(client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), 10)
    except Exception:
        pass
