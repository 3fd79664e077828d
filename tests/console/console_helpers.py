"""Shared fixtures and helpers: a database seeded by real conversations through the Rasa server.

The session fixture starts the real action server and Rasa server
(tests/servers.py, free loopback ports, fresh SQLite file), runs a handful of
conversations over the REST webhook, stops both servers, and hands the database
to the console tests.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List

import pytest
import sqlalchemy as sa

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

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
    "t-appointment": ["I'd like to book an appointment", "Maria Lopez", PATIENT_PHONE,
                      "weekday mornings", "possible Achilles tear last week", "yes"],
    "t-pii": [f"my email is {PATIENT_EMAIL} and I was born on {PATIENT_DOB}, can I get surgery?"],
}
CLARIFY = "not sure I understood"
# Vague messages; which one the current model is unsure about varies between
# trainings, so they are tried in turn (one conversation) until one falls back.
# The intent payload is the last resort, so the scenario always exists.
FALLBACK_CANDIDATES = ["can I get surgery the thing with the other stuff",
                       "the thing from before is weird again", "hmm what about that",
                       "is it the same as the one before", "and the second one?",
                       "/nlu_fallback"]
# What the patient saw, independent of the console's own classification.
REPLY_SIGNS = {
    "fallback": ("not sure I understood", "still couldn't understand",
                 "I can only answer questions about Achilles", "lost track of our conversation"),
    "emergency": ("This could be a medical emergency", "This needs a doctor's attention today"),
    "handoff": ("Our staff will be glad to help",),
    "appointment": ("Your request has been sent",),
}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, username="alice", password=PASSWORD):
    token = csrf_token(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token})


def summary_id(engine, sender_id: str) -> int:
    from console.db import conversation_summaries as cs
    from console.summaries import refresh
    refresh(engine)
    with engine.connect() as conn:
        value = conn.execute(sa.select(cs.c.id).where(cs.c.sender_id == sender_id)).scalar()
    assert value, f"no summary for {sender_id}"
    return value


def run_cli(env: Dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-m", "console", *args], cwd=PROJECT_ROOT,
                          env=full_env, input=stdin, capture_output=True, text=True, timeout=120)


from tests.servers import running_assistant  # noqa: E402


# Fixtures live here, not in a tests/console/conftest.py: pytest keeps only the
# last imported `conftest` module in sys.modules, and tests/test_*.py do
# `from conftest import ...`. Test modules import these fixtures; the seeded
# database and the app are cached per process so the Rasa servers start once.
_CACHE: Dict[str, object] = {}


@pytest.fixture(scope="session")
def assistant_db(tmp_path_factory):
    if "assistant_db" not in _CACHE:
        _CACHE["assistant_db"] = _seed_assistant_db(tmp_path_factory)
    return _CACHE["assistant_db"]


def _seed_assistant_db(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("console-assistant")
    # Rasa's stock REST channel: it writes the same events (input_channel "rest")
    # as the project's hardened one, and keeps these tests independent of
    # webhook hardening (rate limits etc.), which tests/test_rest_e2e.py covers.
    credentials = workdir / "credentials.yml"
    credentials.write_text("rest:\n", encoding="utf-8")
    replies: Dict[str, List[List[str]]] = {}
    with running_assistant(workdir, credentials=credentials) as rasa:
        for sender, messages in CONVERSATIONS.items():
            replies[sender] = []
            for message in messages:
                replies[sender].append(rasa.texts(sender, message))
            if sender == "t-fallback":
                for message in FALLBACK_CANDIDATES:
                    replies[sender].append(rasa.texts(sender, message))
                    if any(CLARIFY in t for t in replies[sender][-1]):
                        break
    expected = {flag: {sender for sender, turns in replies.items()
                       if any(sign in text for turn in turns for text in turn for sign in signs)}
                for flag, signs in REPLY_SIGNS.items()}
    # The scenarios the console tests rely on really happened:
    assert "t-fallback" in expected["fallback"], replies["t-fallback"]
    assert "t-emergency" in expected["emergency"], expected
    assert "t-appointment" in expected["appointment"], expected
    assert "t-handoff" in expected["handoff"], expected
    db = workdir / "conversations.db"
    return SimpleNamespace(path=db, url=f"sqlite:///{db}", workdir=workdir, replies=replies,
                           expected=expected)


@pytest.fixture(scope="session")
def console_env(assistant_db, tmp_path_factory) -> Dict[str, str]:
    if "console_env" in _CACHE:
        return _CACHE["console_env"]
    var_dir = tmp_path_factory.mktemp("console-var")
    # These tests log in and fail logins often from 127.0.0.1: the per-address limit is
    # raised here (test_console_security.py tests it with its default-like values).
    return _CACHE.setdefault("console_env", {"DATABASE_URL": assistant_db.url, "CONSOLE_SECRET_KEY": "test-secret-key",
            "CONSOLE_VAR_DIR": str(var_dir), "CONSOLE_TIMEZONE": "America/Los_Angeles",
            "CONSOLE_LOGIN_FAILURES_PER_IP": "1000"})


@pytest.fixture(scope="session")
def app(console_env):
    if "app" in _CACHE:
        return _CACHE["app"]
    from console import auth
    from console.app import create_app
    from console.db import engine_for
    from console.settings import load_console_settings
    settings = load_console_settings(console_env)
    application = create_app(settings, refresh_min_seconds=0)
    application.config["TESTING"] = True
    auth.create_user(engine_for(settings.database_url), "alice", PASSWORD, role="admin")
    return _CACHE.setdefault("app", application)


@pytest.fixture(scope="session")
def engine(app):
    return app.extensions["console"]["engine"]


@pytest.fixture
def client(app):
    """A client logged in as alice (admin). The password check is deliberately slow
    (scrypt, N = 2^17), so the session cookie of one login is reused."""
    c = app.test_client()
    cookie = _CACHE.get("alice_cookie")
    if cookie:
        c.set_cookie("console_session", cookie)
        if c.get("/conversations").status_code == 200:
            return c
        c = app.test_client()
    response = login(c)
    assert response.status_code == 302, response.text
    _CACHE["alice_cookie"] = c.get_cookie("console_session").value
    return c


