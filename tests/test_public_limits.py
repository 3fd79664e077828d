"""Security issue #10, finding 7: limits that a client cannot get around by
choosing new conversation ids (channels/rate_limit.py).

Real HTTP and socket.io against the real channels in a Sanic server on
loopback (tests/channel_app.py: only Rasa's dialogue is a stand-in), each test
with its own small limits from the environment.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import List

import pytest
import requests

from actions.config import load_settings
from channel_app import ConnectionRefused, WidgetClient, channel_server
from channels.rate_limit import client_address
from channels.rest import SafeRestInput
from channels.settings import MAX_PUBLIC_BODY_BYTES
from channels.socketio import SafeSocketIOInput
from servers import makefile_default

PHONE = load_settings().office_phone
ORIGIN = "http://127.0.0.1:8080"


def post(server, sender: str, message: str = "hi", **headers) -> requests.Response:
    return requests.post(
        f"{server.url}/webhooks/rest/webhook",
        timeout=30,
        headers=headers,
        json={"sender": sender, "message": message},
    )


def new_sender() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def limits(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_PER_IP", "5/minute")
    monkeypatch.setenv("RATE_LIMIT_PER_SENDER", "20/minute")
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)
    monkeypatch.delenv("MAX_CONCURRENT_TURNS", raising=False)
    monkeypatch.setenv("WIDGET_ALLOWED_ORIGINS", ORIGIN)
    return monkeypatch


# ------------------------------------------------------------------ REST per address


def test_rotating_sender_ids_from_one_address_get_429_after_the_per_ip_limit(limits):
    with channel_server(SafeRestInput()) as server:
        statuses = [post(server, new_sender()) for _ in range(8)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 3
    refusal = statuses[-1].json()
    assert PHONE in refusal[0]["text"] and "faster than I can answer" in refusal[0]["text"]
    assert len(server.agent.received) == 5  # refused turns never reached the assistant


def test_a_forged_x_forwarded_for_is_ignored_when_no_proxy_is_trusted(limits):
    with channel_server(SafeRestInput()) as server:
        statuses = [
            post(server, new_sender(), **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(8)
        ]
    assert statuses == [200] * 5 + [429] * 3


def test_behind_one_trusted_proxy_the_address_it_saw_counts(limits):
    limits.setenv("TRUSTED_PROXY_COUNT", "1")
    with channel_server(SafeRestInput()) as server:
        # eight patients behind the proxy: each its own allowance
        patients = [
            post(server, new_sender(), **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(8)
        ]
        # one client forging the part of the header it controls: still one address
        forger = [
            post(server, new_sender(), **{"X-Forwarded-For": f"10.9.9.{i}, 192.0.2.77"}).status_code
            for i in range(8)
        ]
    assert patients == [200] * 8
    assert forger == [200] * 5 + [429] * 3


@pytest.mark.parametrize(
    "peer, header, trusted, expected",
    [
        ("10.0.0.2", None, 0, "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4", 0, "10.0.0.2"),  # not trusted: ignored
        ("10.0.0.2", "1.2.3.4", 1, "1.2.3.4"),
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),  # client-written part ignored
        ("10.0.0.2", ["6.6.6.6", "1.2.3.4"], 1, "1.2.3.4"),  # several header lines
        ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.1", 2, "1.2.3.4"),
        ("10.0.0.2", "1.2.3.4", 2, "10.0.0.2"),  # shorter than the proxy chain
        ("10.0.0.2", "not-an-ip", 1, "10.0.0.2"),
        ("10.0.0.2", "2001:db8::1", 1, "2001:db8::1"),
    ],
)
def test_client_address(peer, header, trusted, expected):
    assert client_address(peer, header, trusted) == expected


# ------------------------------------------------------------------ body size


def test_the_makefile_gives_sanic_the_channels_body_limit():
    """Sanic bounds REST bodies (SANIC_REQUEST_MAX_SIZE, Makefile); the socket.io and
    SMS channels bound theirs with MAX_PUBLIC_BODY_BYTES: the same number."""
    assert makefile_default("SANIC_REQUEST_MAX_SIZE") == str(MAX_PUBLIC_BODY_BYTES)


# ------------------------------------------------------------------ turns in flight


def test_too_many_turns_in_flight_get_a_polite_503_with_the_phone(limits):
    limits.setenv("RATE_LIMIT_PER_IP", "1000/minute")
    limits.setenv("MAX_CONCURRENT_TURNS", "3")
    with channel_server(SafeRestInput()) as server:
        server.hold_turns()
        held: List[requests.Response] = []
        threads = [
            threading.Thread(target=lambda: held.append(post(server, new_sender())))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while server.agent.in_turn < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.agent.in_turn == 3
        busy = post(server, new_sender())
        server.release_turns()
        for thread in threads:
            thread.join(30)
        after = post(server, new_sender())
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
    assert PHONE in busy.json()[0]["text"] and "911" in busy.json()[0]["text"]
    assert [r.status_code for r in held] == [200] * 3
    assert after.status_code == 200  # slots are given back


# ------------------------------------------------------------------ socket.io


async def wait_for(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_widget_connections_per_address_are_capped(limits):
    limits.setenv("WIDGET_CONNECTIONS_PER_IP", "2")

    async def scenario(server):
        first, second = (
            await WidgetClient.connect(server.url, ORIGIN),
            await WidgetClient.connect(server.url, ORIGIN),
        )
        with pytest.raises(ConnectionRefused):
            await WidgetClient.connect(server.url, ORIGIN)
        await first.close()
        await asyncio.sleep(0.5)
        third = await WidgetClient.connect(
            server.url, ORIGIN
        )  # a closed connection frees its place
        await second.close()
        await third.close()

    with channel_server(SafeSocketIOInput(id_secret=b"k" * 32)) as server:
        await scenario(server)


@pytest.mark.asyncio
async def test_widget_messages_count_against_the_per_address_limit(limits):
    limits.setenv("RATE_LIMIT_PER_IP", "3/minute")

    async def scenario(server):
        replies = []
        for _ in range(2):  # new connections and new sessions do not reset it
            widget = await WidgetClient.connect(server.url, ORIGIN)
            await widget.start_session()
            replies += [(await widget.say("hello"))["text"] for _ in range(2)]
            await widget.close()
        return replies

    with channel_server(SafeSocketIOInput(id_secret=b"k" * 32)) as server:
        replies = await scenario(server)
    assert replies[:3] == ["echo: hello"] * 3
    assert "faster than I can answer" in replies[3] and PHONE in replies[3]
    assert len(server.agent.received) == 3


@pytest.mark.asyncio
async def test_widget_turns_beyond_the_in_flight_limit_get_the_busy_answer(limits):
    limits.setenv("MAX_CONCURRENT_TURNS", "1")

    async def scenario(server):
        waiting, other = (
            await WidgetClient.connect(server.url, ORIGIN),
            await WidgetClient.connect(server.url, ORIGIN),
        )
        await waiting.start_session()
        await other.start_session()
        server.hold_turns()
        await waiting.emit("user_uttered", {"message": "hello", "session_id": waiting.session_id})
        await wait_for(lambda: server.agent.in_turn == 1)
        busy = await other.say("hello")
        server.release_turns()
        answer = await waiting.next_event("bot_uttered")
        await waiting.close()
        await other.close()
        return busy, answer

    with channel_server(SafeSocketIOInput(id_secret=b"k" * 32)) as server:
        busy, answer = await scenario(server)
    assert "answering many people" in busy["text"] and PHONE in busy["text"]
    assert answer["text"] == "echo: hello"
