"""The reliability tests' servers and helpers (tests/test_reliability.py,
tests/test_reliability_keep_alive.py).

The assistant is started with the action server's keep-alive timeout
(SANIC_KEEP_ALIVE_TIMEOUT) of the Makefile (KEEP_ALIVE). Under 50 concurrent
conversations Rasa's event loop is busy for seconds between opening a connection
to the action server and writing the request; Sanic's default 5 s keep-alive
timeout closes that idle connection first and ~5% of turns fail ("Cannot write
to closing transport"), so patients get the technical-trouble reply.
tests/test_reliability_keep_alive.py checks the Makefile's own setting.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import sqlalchemy as sa

from servers import RasaServer, makefile_default, running_assistant

START_TIMEOUT = 300  # seconds; Rasa takes 1-2 min to start on a busy 2-core machine

# the Makefile's value once it sets one; until then the value it should set
KEEP_ALIVE = {"SANIC_KEEP_ALIVE_TIMEOUT": makefile_default("SANIC_KEEP_ALIVE_TIMEOUT") or "120"}

TOPIC_QUESTIONS = [
    "what are the symptoms of a torn achilles?",
    "how is a ruptured achilles diagnosed",
    "can a torn achilles heal without surgery",
    "what is PARS surgery?",
    "how long is recovery after achilles surgery",
    "who is the doctor",
    "what causes the achilles to rupture",
    "waht are the symtoms of achilles rupture",
    "how painful is achilles surgery",
    "when can i start physical therapy",
]

LONG_STORY = (
    "Hi, my husband is 52 and hurt his left achilles at the gym three weeks ago. "
    "We saw an orthopedist last week who talked about surgery but also said a boot "
    "with wedges could work. He is diabetic and a bit overweight, works on his feet "
    "all day, and we are trying to understand the options before the next visit, "
    "so we are reading everything we can find and writing our questions down. "
)


def assistant_pair(workdir: Path, **env_overrides: str):
    """The assistant with the Makefile's keep-alive, given time to start on a busy machine."""
    return running_assistant(
        workdir, start_timeout=START_TIMEOUT, **{**KEEP_ALIVE, **env_overrides}
    )


def new_sender(prefix: str = "rel") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def joined(messages: List[Dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def say(assistant: RasaServer, sender: str, text: str, timeout: float = 60) -> List[Dict]:
    response = assistant.say(sender, text, timeout=timeout)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return response.json()


def user_texts(db, sender: str) -> List[str]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select data from events where sender_id = :s and type_name = 'user' order by id"
            ),
            {"s": sender},
        ).all()
    return [json.loads(r.data)["text"] for r in rows]


def log_text(assistant: RasaServer) -> str:
    return Path(assistant.log_path).read_text(errors="replace")


@contextlib.contextmanager
def exclusive_lock(db_path: Path) -> Iterator[None]:
    """Another process's write transaction: nobody else can read or write."""
    holder = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            holder.execute("ROLLBACK")
        holder.close()
