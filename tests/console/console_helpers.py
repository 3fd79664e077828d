"""Helpers and test data shared by the console tests (fixtures: conftest.py).

Test modules import from here, not from conftest.py: pytest loads every
folder's conftest.py as the module `conftest`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List

import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# ---- the database written by the real Rasa server (conftest.py `assistant_db`)
PASSWORD = "correct horse battery staple"
PATIENT_PHONE = "310 555 0123"
PATIENT_EMAIL = "maria.lopez@example.com"
PATIENT_DOB = "03/15/1985"

# sender -> patient messages (REST channel)
CONVERSATIONS: Dict[str, List[str]] = {
    "t-topic": ["hi", "what are the symptoms of a ruptured achilles?", "how long is recovery?"],
    "t-fallback": [],  # FALLBACK_CANDIDATES, until one gets the "Did you mean" reply
    "t-oos": ["what's the weather tomorrow"],
    "t-emergency": ["I had surgery last week and now my calf is swollen, hot and very painful"],
    "t-handoff": ["can I talk to a real person?"],
    "t-appointment": [
        "I'd like to book an appointment",
        "Maria Lopez",
        PATIENT_PHONE,
        "weekday mornings",
        "possible Achilles tear last week",
        "yes",
    ],
    "t-pii": [f"my email is {PATIENT_EMAIL} and I was born on {PATIENT_DOB}, can I get surgery?"],
}
CLARIFY = "not sure I understood"
# Vague messages; which one the current model is unsure about varies between
# trainings, so they are tried in turn (one conversation) until one falls back.
# The intent payload is the last resort, so the scenario always exists.
FALLBACK_CANDIDATES = [
    "can I get surgery the thing with the other stuff",
    "the thing from before is weird again",
    "hmm what about that",
    "is it the same as the one before",
    "and the second one?",
    "/nlu_fallback",
]
# What the patient saw, independent of the console's own classification.
REPLY_SIGNS = {
    "fallback": (
        "not sure I understood",
        "still couldn't understand",
        "I can only answer questions about Achilles",
        "lost track of our conversation",
    ),
    "emergency": ("This could be a medical emergency", "This needs a doctor's attention today"),
    "handoff": ("Our staff will be glad to help",),
    "appointment": ("Your request has been sent",),
}

# ---- the synthetic database of the security tests (conftest.py `db`)
PASSWORDS = {
    "ada": "keeps the whole console safe",  # admin
    "rita": "reviews the transcripts daily",  # reviewer
    "cal": "calls patients back every morning",  # callback
}
APPT_PHONE = "(415) 555-0188"
APPT_NAME = "Rosa Quintero"


class Clock:
    """The app's "now" (UTC); tests move it forward."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, username="alice", password=PASSWORD, code=None, headers=None):
    token = csrf_token(client.get("/login", headers=headers).text)
    data = {"username": username, "password": password, "csrf_token": token}
    if code is not None:
        data["code"] = code
    return client.post("/login", data=data, headers=headers)


def console_test_env(url: str, workdir, secret_key: str) -> Dict[str, str]:
    """The console settings of a test's own database: its URL, secret key and a var
    folder under `workdir`, Los Angeles time, and no second factor (its default is
    tested in test_console_two_factor.py; these tests are about other things)."""
    return {
        "DATABASE_URL": url,
        "CONSOLE_SECRET_KEY": secret_key,
        "CONSOLE_VAR_DIR": str(workdir / "var"),
        "CONSOLE_TIMEZONE": "America/Los_Angeles",
        "CONSOLE_REQUIRE_2FA": "off",
    }


def make_app(db, clock=None, **env):
    """The console over the security tests' database, with `env` added to its settings."""
    from console.app import create_app
    from console.settings import load_console_settings

    app = create_app(load_console_settings({**db.env, **env}), refresh_min_seconds=0, clock=clock)
    app.config["TESTING"] = True
    return app


def client_as(db, app, username):
    """A test client logged in as `username` (the session cookie is reused across apps:
    same database and secret key; logged in again if that session has ended)."""
    client = app.test_client()
    if username in db.cookies:
        client.set_cookie("console_session", db.cookies[username])
        if client.get("/login").status_code == 302:  # still logged in
            return client
        client = app.test_client()
    response = login(client, username, PASSWORDS[username])
    assert response.status_code == 302, response.text
    db.cookies[username] = client.get_cookie("console_session").value
    return client


def summary_id(engine, sender_id: str) -> int:
    from console.db import conversation_summaries as cs
    from console.summaries import refresh

    refresh(engine)
    with engine.connect() as conn:
        value = conn.execute(sa.select(cs.c.id).where(cs.c.sender_id == sender_id)).scalar()
    assert value, f"no summary for {sender_id}"
    return value


def audit_rows(engine, action, **where):
    from console.db import audit_log

    query = sa.select(audit_log).where(audit_log.c.action == action)
    for key, value in where.items():
        query = query.where(getattr(audit_log.c, key) == value)
    with engine.connect() as conn:
        return conn.execute(query.order_by(audit_log.c.id)).all()


def assert_audit(engine, username, action, sender_id=None):
    from console.db import audit_log

    query = sa.select(audit_log).where(audit_log.c.action == action)
    if username:
        query = query.where(audit_log.c.username == username)
    if sender_id:
        query = query.where(audit_log.c.sender_id == sender_id)
    with engine.connect() as conn:
        row = conn.execute(query.order_by(audit_log.c.id.desc())).first()
    assert row is not None, (username, action, sender_id)
    assert row.at is not None
    return row


def user_row(engine, username):
    from console.db import users

    with engine.connect() as conn:
        return conn.execute(sa.select(users).where(users.c.username == username)).first()


def run_cli(env: Dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        cwd=PROJECT_ROOT,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.contextmanager
def live_server(app, threads=8):
    """The app under waitress on a free loopback port, in this process; closed after."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="console-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)
