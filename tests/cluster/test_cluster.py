"""Two Rasa replicas for real: PostgreSQL, Redis, nginx, 2 Rasa servers, 2 action
servers and the console (cluster/stack.py), one stack for this module.

PostgreSQL, Redis and nginx are installed with apt-get when missing and we are
root (cluster/stack.py ensure_packages); the module is skipped, with the reason,
only when they cannot be installed. Every server listens on 127.0.0.1 on a free
port and is stopped at the end of the module. The tests run in file order: the
last one kills a replica.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import time
import uuid
from typing import Dict, List

import aiohttp
import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from actions.config import DEFAULT_OFFICE_PHONE
from cluster_helpers import (
    TROUBLE,
    appointment_rows,
    console_login,
    duplicated_rows,
    patient,
    post_turn,
    stored_events,
    stored_text,
    texts,
    upstreams_in_access_log,
)
from sms.sms_helpers import AUTH_TOKEN, new_number, new_sid, twilio_params
from stores.sql import lock_schema, single_node

CONVERSATIONS = 50


# ---------------------------------------------------------------- the tests


@pytest.mark.asyncio
async def test_fifty_conversations_alternating_between_replicas_keep_their_state(stack):
    """Turn k of conversation i goes to replica (i + k) % 2, directly: every turn
    runs on the other replica than the one before, yet the appointment form,
    filled across both, completes; every user message and every bot message is
    in the events table exactly once; the console lists all 50 conversations."""
    senders = [f"cl-{i:02d}-{os.urandom(3).hex()}" for i in range(CONVERSATIONS)]
    replies: Dict[str, List[List[dict]]] = collections.defaultdict(list)

    async def converse(session: aiohttp.ClientSession, i: int) -> None:
        _, _, messages = patient(i)
        for k, text in enumerate(messages):
            status, body, _ = await post_turn(
                session, stack.replica_url((i + k) % 2), senders[i], text
            )
            assert status == 200, (senders[i], text, status, body)
            replies[senders[i]].append(body)

    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=180)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(converse(session, i) for i in range(CONVERSATIONS)))
    wall = time.monotonic() - started
    turns = sum(len(r) for r in replies.values())
    print(
        f"{turns} turns of {CONVERSATIONS} concurrent conversations in {wall:.1f}s "
        f"({turns / wall:.1f} msg/s), load average {os.getloadavg()[0]:.2f}"
    )

    for i, sender in enumerate(senders):
        name, phone, messages = patient(i)
        turns_of = replies[sender]
        assert not any(TROUBLE in texts(t) for t in turns_of), sender
        assert "full name" in texts(turns_of[2])
        assert phone in texts(turns_of[6])  # the consent question repeats the phone
        assert f"Thank you, {name.split()[0]}" in texts(turns_of[7]), texts(turns_of[7])
        events = stored_events(stack.engine, sender)
        assert [e["text"] for kind, e in events if kind == "user"] == [
            stored_text(m, name, phone) for m in messages
        ]
        assert name not in json.dumps(events) and phone not in json.dumps(events)
        assert len([1 for kind, _ in events if kind == "bot"]) == sum(len(t) for t in turns_of)
    assert duplicated_rows(stack.engine, senders) == 0
    stored = appointment_rows(stack.engine, senders)
    assert {s: stored[s] for s in senders} == {s: [patient(i)[:2]] for i, s in enumerate(senders)}

    session = console_login(stack)
    page = session.get(
        f"{stack.console_url}/conversations", params={"channel": "rest"}, timeout=60
    ).text
    total = int(re.search(r'<span class="count">(\d+)</span>', page).group(1))
    ids = {int(x) for x in re.findall(r'href="/conversations/(\d+)\?', page)}
    with stack.engine.connect() as conn:
        listed = {
            r[0]
            for r in conn.execute(
                sa.text("SELECT sender_id FROM conversation_summaries WHERE id = ANY(:ids)"),
                {"ids": list(ids)},
            )
        }
    assert total == CONVERSATIONS and listed == set(senders)


def test_sms_retry_on_the_other_replica_is_answered_once(stack, fake_twilio):
    """Twilio retries a webhook it thinks failed; the retry may reach the other
    replica. The MessageSid mark is in Redis, so it is answered once, and the
    conversation id (keyed hash, shared SMS_ID_SECRET) is the same on both."""
    number, sid = new_number(), new_sid()

    def post(base_url: str, body: str, message_sid: str) -> requests.Response:
        url = f"{base_url}/webhooks/twilio/webhook"
        params = twilio_params(number, body, message_sid)
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        return requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
        )

    assert post(stack.replica_url(0), "What are the symptoms?", sid).status_code == 200
    assert post(stack.replica_url(1), "What are the symptoms?", sid).status_code == 200
    # through nginx: the signature is checked against the public URL, so nginx must
    # pass the original URI and Host
    assert post(stack.url, "thank you", new_sid()).status_code == 200
    bodies = fake_twilio.wait_for_text(number, "welcome")
    assert "\n".join(bodies).count("Reply 1 for") == 1  # one answer to the question
    from channels.sms.identities import ConversationIds

    conversation = ConversationIds(stack.secrets["SMS_ID_SECRET"].encode()).for_number(number)
    users = [e for kind, e in stored_events(stack.engine, conversation) if kind == "user"]
    assert [e["text"] for e in users] == ["What are the symptoms?", "thank you"]
    assert [e["message_id"] for e in users].count(sid) == 1


@pytest.mark.asyncio
async def test_socketio_through_nginx(stack):
    """Long-polling first, then the WebSocket upgrade: every request of one client
    must reach the same replica (nginx: sticky by client address)."""
    import socketio

    if not hasattr(aiohttp, "ClientWSTimeout"):  # as in bench/loadgen.py: engineio 4.15
        aiohttp.ClientWSTimeout = lambda ws_close=10.0, **_: ws_close  # + aiohttp 3.9

    client = socketio.AsyncClient(reconnection=False)
    received: List[dict] = []
    done = asyncio.Event()

    @client.on("bot_uttered")
    async def on_bot(data):
        received.append(data)
        if "PARS" in (data.get("text") or ""):
            done.set()

    await client.connect(
        stack.url,
        transports=["polling", "websocket"],
        headers={"Origin": stack.url},
        wait_timeout=30,
    )
    await client.emit("session_request", {"session_id": "cluster" + os.urandom(8).hex()})
    await asyncio.sleep(0.5)
    await client.emit("user_uttered", {"message": "what is PARS?"})
    await asyncio.wait_for(done.wait(), 60)
    await client.disconnect()
    assert any("Percutaneous" in (m.get("text") or "") for m in received)


def test_action_servers_behind_nginx_take_a_long_conversation(stack):
    """Rasa sends the whole session's tracker with every action call; a long
    conversation's is far above the public 64 KB limit and must pass."""
    events = [{"event": "bot", "timestamp": 1.0, "text": "x" * 1000}] * 300
    body = {
        "next_action": "no_such_action",
        "sender_id": "cl-long",
        "tracker": {"sender_id": "cl-long", "events": events, "slots": {}, "latest_message": {}},
        "domain": {},
        "version": "3.6.21",
    }
    # the action servers take only Rasa's calls (actions/server.py: token required)
    token = stack.secrets["ACTION_SERVER_TOKEN"]
    reply = requests.post(
        f"http://127.0.0.1:{stack.actions_lb_port}/webhook",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert len(json.dumps(body)) > 300_000
    assert reply.status_code == 404 and "no_such_action" in reply.json()["error"]


@pytest.mark.asyncio
async def test_rate_limits_are_shared_by_the_replicas_on_redis(stack):
    """Per sender and per client address (RATE_LIMIT_PER_IP), both on the stack's
    Redis: two replicas' limiters count together."""
    from channels.rate_limit import SenderRateLimiter

    uri = f"{stack.redis_url}/2"
    tag = uuid.uuid4().hex[:8]

    one = SenderRateLimiter("3/minute", uri, ip_limit="3/minute")
    two = SenderRateLimiter("3/minute", uri, ip_limit="3/minute")
    address, sender = f"198.51.100.{int(tag[:2], 16) % 250 + 1}-{tag}", f"cl-rl-{tag}"
    ip = [
        await one.allow_ip(address),
        await two.allow_ip(address),
        await one.allow_ip(address),
        await two.allow_ip(address),
    ]
    per_sender = [
        await two.allow("rest", sender),
        await one.allow("rest", sender),
        await two.allow("rest", sender),
        await one.allow("rest", sender),
    ]
    assert ip == [True, True, True, False]
    assert per_sender == [True, True, True, False]


def test_redis_down_the_patient_gets_the_office_phone(stack, fake_twilio):
    """Redis holds the lock store, rate limits and SMS marks. Without it every
    turn fails, and every channel still answers with the office phone number."""
    stack.stop_redis()
    try:
        reply = requests.post(
            f"{stack.url}/webhooks/rest/webhook",
            json={"sender": "cl-redis-" + os.urandom(3).hex(), "message": "what is PARS?"},
            timeout=60,
        )
        assert reply.status_code == 200
        assert DEFAULT_OFFICE_PHONE in texts(reply.json()), reply.text
        number = new_number()
        url = f"{stack.url}/webhooks/twilio/webhook"
        params = twilio_params(number, "What are the symptoms?", new_sid())
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        assert (
            requests.post(
                url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
            ).status_code
            == 200
        )
        assert DEFAULT_OFFICE_PHONE in fake_twilio.wait_for_text(number, TROUBLE)[0]
    finally:
        stack.start_redis()
    sender = "cl-redis-back-" + os.urandom(3).hex()
    back = requests.post(
        f"{stack.url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "what is PARS?"},
        timeout=60,
    )
    assert "Percutaneous" in texts(back.json()) and TROUBLE not in texts(back.json())


def test_PostgreSQL_one_node_jobs_and_concurrent_table_creation(stack):
    """The console's jobs hold an advisory lock: a second node skips (or waits);
    replicas creating the same tables at the same moment do not fail."""
    other = stack.db_engine()
    with single_node(stack.engine, "cluster-test-job") as mine:
        assert mine
        with single_node(other, "cluster-test-job") as theirs:
            assert not theirs
        started = time.monotonic()
        with single_node(other, "cluster-test-job", wait=True, timeout_s=1) as waited:
            assert not waited and time.monotonic() - started >= 0.9
    with single_node(other, "cluster-test-job") as theirs:
        assert theirs

    metadata = sa.MetaData()
    sa.Table("cluster_test_race", metadata, sa.Column("id", sa.Integer, primary_key=True))
    import threading

    errors: List[BaseException] = []

    def create() -> None:
        try:
            with stack.db_engine().begin() as conn:  # as stores/schema.py does
                lock_schema(conn)
                metadata.create_all(conn)
        except BaseException as error:  # noqa: B902 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.asyncio
async def test_a_replica_killed_mid_run_its_conversations_continue_on_the_other(stack):
    """Through nginx (round-robin). After some turns replica 2 is killed (SIGKILL).
    A turn it was running fails (502) and is sent again by the client; nginx sends
    everything after that to replica 1. Every conversation completes its
    appointment form, nothing recorded before the crash is lost, and the only
    possible repeats are turns that were sent again."""
    n = 20
    senders = [f"cl-kill-{i:02d}-{os.urandom(3).hex()}" for i in range(n)]
    offset = 100  # other names and phones than the first test
    finished: Dict[str, List[List[dict]]] = collections.defaultdict(list)
    retried: Dict[str, List[str]] = collections.defaultdict(list)
    done_turns = 0
    killed = asyncio.Event()

    async def converse(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal done_turns
        _, _, messages = patient(offset + i)
        for text in messages:
            status, body, used = await post_turn(session, stack.url, senders[i], text, retries=3)
            assert status == 200, (senders[i], text, status, body)
            if used:
                retried[senders[i]].append(text)
            finished[senders[i]].append(body)
            done_turns += 1

    async def killer() -> None:
        while done_turns < n * 3:  # most conversations are in their form by now
            await asyncio.sleep(0.05)
        await asyncio.to_thread(stack.rasa[1].kill)
        killed.set()

    log_before = len(upstreams_in_access_log(stack, "/webhooks/rest/webhook"))
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=180)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(killer(), *(converse(session, i) for i in range(n)))
    print(
        f"{n} conversations, replica 2 killed after {n * 3} turns: done in "
        f"{time.monotonic() - started:.1f}s; turns sent again: "
        f"{sum(len(v) for v in retried.values())}"
    )
    upstreams = upstreams_in_access_log(stack, "/webhooks/rest/webhook")[log_before:]
    assert len({u.split(",")[0] for u in upstreams}) == 2  # both served before the kill

    for i, sender in enumerate(senders):
        name, phone, messages = patient(offset + i)
        turns = finished[sender]
        assert f"Thank you, {name.split()[0]}" in texts(turns[-1]), (sender, texts(turns[-1]))
        users = [e["text"] for kind, e in stored_events(stack.engine, sender) if kind == "user"]
        # as stored: the form's name and phone answers are tokens
        messages = [stored_text(m, name, phone) for m in messages]
        sent_again = [stored_text(m, name, phone) for m in retried[sender]]
        # nothing lost; a message appears twice only if it was sent twice
        repeats = [
            t for t, c in collections.Counter(users).items() if c > collections.Counter(messages)[t]
        ]
        assert set(repeats) <= set(sent_again), (sender, users)
        deduplicated = [
            u for k, u in enumerate(users) if k == 0 or u != users[k - 1] or u not in sent_again
        ]
        assert deduplicated == messages, (sender, users)
    stored = appointment_rows(stack.engine, senders)
    assert {s: stored[s] for s in senders} == {
        s: [patient(offset + i)[:2]] for i, s in enumerate(senders)
    }
