"""Fixtures of the console tests (helpers and test data: console_helpers.py).

- `assistant_db`: a database seeded by real conversations through the Rasa
  server: the session starts the real action server and Rasa server
  (tests/servers.py, free loopback ports, fresh SQLite file), runs a handful of
  conversations over the REST webhook and stops both; `app`, `engine` and
  `client` (logged in as alice, an admin) are the console over it.
- `db`: a synthetic database (bench/synthetic.py, no Rasa server) with a few
  conversations, one appointment request with a known phone number, and an
  admin, a reviewer and a callback user (console_helpers.PASSWORDS); the
  security tests share it.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Dict, List

import pytest

from console_helpers import (
    APPT_NAME,
    APPT_PHONE,
    CLARIFY,
    CONVERSATIONS,
    FALLBACK_CANDIDATES,
    PASSWORD,
    PASSWORDS,
    REPLY_SIGNS,
    console_test_env,
    login,
)


@pytest.fixture(scope="session")
def assistant_db(tmp_path_factory):
    from tests.servers import running_assistant

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
    expected = {
        flag: {
            sender
            for sender, turns in replies.items()
            if any(sign in text for turn in turns for text in turn for sign in signs)
        }
        for flag, signs in REPLY_SIGNS.items()
    }
    # The scenarios the console tests rely on really happened:
    assert "t-fallback" in expected["fallback"], replies["t-fallback"]
    assert "t-emergency" in expected["emergency"], expected
    assert "t-appointment" in expected["appointment"], expected
    assert "t-handoff" in expected["handoff"], expected
    db = workdir / "conversations.db"
    return SimpleNamespace(
        path=db, url=f"sqlite:///{db}", workdir=workdir, replies=replies, expected=expected
    )


@pytest.fixture(scope="session")
def console_env(assistant_db, tmp_path_factory) -> Dict[str, str]:
    var_dir = tmp_path_factory.mktemp("console-var")
    # These tests log in and fail logins often from 127.0.0.1: the per-address limit is
    # raised here (test_console_login_limits.py tests it with its default-like values).
    return {
        "DATABASE_URL": assistant_db.url,
        "CONSOLE_SECRET_KEY": "test-secret-key",
        "CONSOLE_REQUIRE_2FA": "off",  # the default is tested in test_console_two_factor.py
        "CONSOLE_VAR_DIR": str(var_dir),
        "CONSOLE_TIMEZONE": "America/Los_Angeles",
        "CONSOLE_LOGIN_FAILURES_PER_IP": "1000",
    }


@pytest.fixture(scope="session")
def app(console_env):
    from console import accounts
    from console.app import create_app
    from console.db import engine_for
    from console.settings import load_console_settings

    settings = load_console_settings(console_env)
    application = create_app(settings, refresh_min_seconds=0)
    application.config["TESTING"] = True
    accounts.create_user(engine_for(settings.database_url), "alice", PASSWORD, role="admin")
    return application


@pytest.fixture(scope="session")
def engine(app):
    return app.extensions["console"].engine


@pytest.fixture(scope="session")
def alice_cookie() -> Dict[str, str]:
    return {}


@pytest.fixture
def client(app, alice_cookie):
    """A client logged in as alice (admin). The password check is deliberately slow
    (scrypt, N = 2^17), so the session cookie of one login is reused."""
    c = app.test_client()
    if alice_cookie:
        c.set_cookie("console_session", alice_cookie["value"])
        if c.get("/conversations").status_code == 200:
            return c
        c = app.test_client()
    response = login(c)
    assert response.status_code == 302, response.text
    alice_cookie["value"] = c.get_cookie("console_session").value
    return c


@pytest.fixture(scope="session")
def db(tmp_path_factory):
    from bench import synthetic
    from console import accounts
    from console.db import appointment_requests, engine_for, utcnow

    workdir = tmp_path_factory.mktemp("console-security")
    url = f"sqlite:///{workdir / 'console.db'}"
    engine = engine_for(url)
    synthetic.ensure_events_table(engine)
    now = time.time()
    synthetic.insert_conversation(engine, "s-topic", now - 3600, "topic")
    synthetic.insert_conversation(engine, "s-fallback", now - 3000, "fallback")
    synthetic.insert_conversation(engine, "s-appt", now - 2000, "appointment")
    with engine.begin() as conn:
        request_id = conn.execute(
            appointment_requests.insert().values(
                created_at=utcnow(),
                conversation_id="s-appt",
                channel="rest",
                patient_name=APPT_NAME,
                phone=APPT_PHONE,
                preferred_time="mornings",
                reason="heel pain",
                consent=True,
                status="new",
            )
        ).inserted_primary_key[0]
    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("cal", "callback")):
        accounts.create_user(engine, name, PASSWORDS[name], role=role)
    env = console_test_env(url, workdir, "security-test-key")
    return SimpleNamespace(
        url=url, engine=engine, env=env, workdir=workdir, request_id=request_id, cookies={}
    )
