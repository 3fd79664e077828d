"""The cluster tests' stack and helpers (tests/cluster/test_cluster.py): one
stack per test module (PostgreSQL, Redis, nginx, 2 Rasa servers, 2 action
servers and the console, cluster/stack.py) with a stand-in Twilio, the test
patients, and reading what the replicas stored."""

from __future__ import annotations

import asyncio
import collections
import json
import re
from typing import Dict, List, Tuple

import aiohttp
import requests
import sqlalchemy as sa

from cluster.stack import Stack

PASSWORD = "correct horse battery staple"
TROUBLE = "technical trouble"
FIRST = ["Maria", "Jamie", "Sam", "Alex", "Chris", "Dana", "Robin", "Lee", "Pat", "Kim"]
LAST = ["Lopez", "Rivera", "Nguyen", "Smith", "Garcia"]
QUESTIONS = [
    "what is PARS?",
    "what are the symptoms of a torn achilles?",
    "how long is recovery after achilles surgery",
    "who is the doctor",
    "what causes the achilles to rupture",
]


def patient(i: int) -> Tuple[str, str, List[str]]:
    """(name, phone, messages) of conversation i: a question, then the appointment form."""
    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"
    phone = f"(213) 555-{1000 + i:04d}"
    return (
        name,
        phone,
        [
            "hi",
            QUESTIONS[i % len(QUESTIONS)],
            "I'd like to book an appointment",
            name,
            phone,
            "weekday afternoons",
            "heard a pop playing tennis",
            "yes",
        ],
    )


def stored_text(text: str, name: str, phone: str) -> str:
    """A patient message as the events table holds it: the form's name and phone
    answers are stored as tokens (issue #10, stores/tracker_store.py)."""
    return {name: "<name>", phone: "<phone>"}.get(text, text)


# ---------------------------------------------------------------- helpers


async def post_turn(
    session: aiohttp.ClientSession, url: str, sender: str, text: str, retries: int = 0
) -> Tuple[int, List[dict], int]:
    """(status, bot messages, retries used); a failed request (replica gone) is sent
    again after a second, as the widget or a patient would."""
    used = 0
    while True:
        try:
            async with session.post(
                f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
            ) as response:
                raw = await response.text()
                body = json.loads(raw) if response.status == 200 else raw  # 502: nginx page
                if response.status == 200 or used >= retries:
                    return response.status, body, used
        except (aiohttp.ClientError, asyncio.TimeoutError):
            if used >= retries:
                raise
        used += 1
        await asyncio.sleep(1)


def texts(messages: List[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def stored_events(engine, sender: str) -> List[Tuple[str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": sender},
        ).all()
    return [(kind, json.loads(data)) for kind, data in rows]


def duplicated_rows(engine, senders: List[str]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT sender_id, type_name, timestamp, data FROM events "
                "WHERE sender_id = ANY(:s) GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d"
            ),
            {"s": senders},
        ).scalar()


def appointment_rows(engine, senders: List[str]) -> Dict[str, List[tuple]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT conversation_id, patient_name, phone FROM appointment_requests "
                "WHERE conversation_id = ANY(:s)"
            ),
            {"s": senders},
        ).all()
    out: Dict[str, List[tuple]] = collections.defaultdict(list)
    for conversation_id, name, phone in rows:
        out[conversation_id].append((name, phone))
    return out


def console_login(stack: Stack) -> requests.Session:
    from console import accounts

    accounts.create_user(stack.engine, "cluster-test", PASSWORD)
    session = requests.Session()
    page = session.get(f"{stack.console_url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = session.post(
        f"{stack.console_url}/login",
        data={"username": "cluster-test", "password": PASSWORD, "csrf_token": token},
        timeout=30,
    )
    assert response.ok and 'action="/logout"' in response.text, response.text[:500]
    return session


def upstreams_in_access_log(stack: Stack, path: str) -> List[str]:
    log = (stack.logs / "nginx-access.log").read_text()
    return re.findall(rf'"POST {re.escape(path)} [^"]*" \d+ upstream=(\S+)', log)
