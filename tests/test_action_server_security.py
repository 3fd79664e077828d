"""Security issue #10, finding 1: the action server runs actions only for a caller
with the shared token (actions/server.py, actions/server_auth.py, endpoints.yml):
forged calls to /webhook, the action list, CORS and the body limit, against a
real action server on a free loopback port (one for the module).

Where the token comes from and how Rasa gets it: tests/test_action_server_token.py;
the action server and the console listen on loopback unless their own variables
say otherwise: tests/test_bind_addresses.py. That the Rasa server sends the token
(endpoints.yml) is also shown end to end by every test that gets an answer from
an action (tests/test_rest_e2e.py, tests/test_reliability.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from actions.server_auth import authorized
from servers import ACTION_SERVER_TOKEN, ActionServer, base_env, free_port

# ------------------------------------------------- forged calls to /webhook --


def forged_submit_call(sender: str) -> Dict:
    """What an attacker would POST: a complete appointment with consent."""
    slots = {
        "patient_name": "Forged Person",
        "patient_phone": "(310) 555-0199",
        "preferred_time": "any",
        "visit_reason": "spam",
        "contact_consent": True,
        "requested_slot": None,
    }
    latest = {
        "text": "yes",
        "intent": {"name": "affirm", "confidence": 1.0},
        "entities": [],
        "intent_ranking": [],
    }
    return {
        "next_action": "action_submit_appointment",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": latest,
            "events": [
                {
                    "event": "user",
                    "timestamp": time.time(),
                    "text": "yes",
                    "parse_data": latest,
                    "input_channel": "rest",
                }
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "appointment_form",
        },
    }


def stored_requests(db_path: Path) -> List[tuple]:
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as conn:
        try:
            return conn.execute(
                "select conversation_id, patient_name from appointment_requests"
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet: nothing was ever stored
            return []


@pytest.fixture(scope="module")
def action_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("action-auth")
    port = free_port()
    env = base_env(
        DATABASE_URL=f"sqlite:///{workdir / 'conversations.db'}",
        ACTION_PORT=str(port),
        ACTION_REQUEST_MAX_SIZE="100000",
    )
    server = ActionServer(port, env, workdir / "actions.log").start(timeout=120)
    server.db_path = workdir / "conversations.db"  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef0123456789abcdef"},
        {"Authorization": f"Bearer {ACTION_SERVER_TOKEN[:-1]}"},
        {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}x"},
        {"Authorization": ACTION_SERVER_TOKEN},  # no scheme
        {"Authorization": f"Basic {ACTION_SERVER_TOKEN}"},
        {"X-Action-Token": ACTION_SERVER_TOKEN},
    ],
    ids=["none", "wrong", "truncated", "extended", "no-scheme", "basic", "other-header"],
)
def test_a_forged_tracker_without_the_right_token_gets_401_and_stores_nothing(
    action_server, headers
):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook", json=forged_submit_call(sender), headers=headers, timeout=30
    )
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert sender not in {row[0] for row in stored_requests(action_server.db_path)}


def test_the_token_in_the_query_string_is_not_accepted(action_server):
    sender = f"forged-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook?token={ACTION_SERVER_TOKEN}",
        json=forged_submit_call(sender),
        timeout=30,
    )
    assert response.status_code == 401


def test_with_the_right_token_the_same_call_runs_the_action(action_server):
    """The positive control: the forged call above is a valid action call, so it
    is the token alone that stops it."""
    sender = f"rasa-{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{action_server.url}/webhook",
        json=forged_submit_call(sender),
        headers=action_server.auth_headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    assert "request has been sent" in json.dumps(response.json())
    assert (sender, "Forged Person") in stored_requests(action_server.db_path)


def test_action_list_needs_the_token_and_health_does_not(action_server):
    assert requests.get(f"{action_server.url}/actions", timeout=10).status_code == 401
    listed = requests.get(
        f"{action_server.url}/actions", headers=action_server.auth_headers, timeout=10
    )
    assert listed.status_code == 200
    assert {"name": "action_submit_appointment"} in listed.json()
    assert requests.get(f"{action_server.url}/health", timeout=10).json() == {"status": "ok"}


def test_browsers_get_no_cors_permission(action_server):
    response = requests.options(
        f"{action_server.url}/webhook",
        timeout=10,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_body_limit_still_applies(action_server):
    body = b'{"x": "' + b"a" * 200_000 + b'"}'  # ACTION_REQUEST_MAX_SIZE=100000 (fixture)
    response = requests.post(
        f"{action_server.url}/webhook",
        data=body,
        timeout=30,
        headers=dict(action_server.auth_headers, **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413


def test_token_check_is_exact():
    token = "t" * 40
    assert authorized(f"Bearer {token}", token)
    for header in (
        None,
        "",
        "Bearer",
        f"Bearer {token[:-1]}",
        f"bearer {token}",
        f"Bearer {token}{token}",
    ):
        assert not authorized(header, token), header
    assert not authorized("Bearer ", "")  # an empty secret never matches
