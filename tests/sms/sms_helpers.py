"""Shared by the SMS tests (tests/sms/) and the two-replica tests (tests/cluster/):
the test account, phone numbers and MessageSids, what Twilio posts, a fake
Twilio REST API on loopback that records the texts the channel sends, and
reading what a running assistant stored (tests/sms/conftest.py `assistant`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import sqlite3
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List
from urllib.parse import parse_qsl

import requests
from twilio.request_validator import RequestValidator

from actions.content import get_content

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-not-a-secret"
TWILIO_NUMBER = "+15005550006"
ID_SECRET = "test-sms-id-secret"
PART_LIMIT = 400  # small, so a first reply (disclaimer + answer + menu) is split

_numbers = itertools.count(201)
_sids = itertools.count(1)


def new_number() -> str:
    return f"+1310555{next(_numbers):04d}"


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def conversation_id(number: str) -> str:
    digest = hmac.new(ID_SECRET.encode(), number.encode(), hashlib.sha256).hexdigest()
    return "sms-" + digest


def wait_for(check, timeout: float = 40, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def twilio_params(number: str, body: str, sid: str) -> Dict[str, str]:
    """What Twilio posts for an inbound SMS, blank fields included."""
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": TWILIO_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "ApiVersion": "2010-04-01",
    }


class FakeTwilio:
    """Twilio's Messages.json on 127.0.0.1: records messages, can fail on purpose."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: List[Dict[str, str]] = []
        self.attempts: Dict[str, int] = defaultdict(int)
        self.always_fail: set = set()
        self.planned: Dict[str, List[int]] = {}
        self.bad_requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, payload: dict, headers=()) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                expected_auth = (
                    "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                )
                if (
                    self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
                    or self.headers.get("Authorization") != expected_auth
                ):
                    with fake.lock:
                        fake.bad_requests += 1
                    return self._reply(401, {"code": 20003, "status": 401})
                to = form.get("To", "")
                with fake.lock:
                    fake.attempts[to] += 1
                    if to in fake.always_fail:
                        return self._reply(500, {"code": 20500, "status": 500})
                    plan = fake.planned.get(to)
                    if plan:  # a status, or (status, Twilio error code)
                        status, code = (
                            (plan.pop(0), 20429) if isinstance(plan[0], int) else plan.pop(0)
                        )
                        return self._reply(
                            status, {"code": code, "status": status}, headers=[("Retry-After", "0")]
                        )
                    fake.messages.append(form)
                self._reply(201, {"sid": f"SM{len(fake.messages):032d}", "status": "queued"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def env(self) -> Dict[str, str]:
        """The SMS channel's settings pointing at this fake (a number, no service SID)."""
        return dict(
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_NUMBER=TWILIO_NUMBER,
            TWILIO_API_BASE_URL=self.url,
            TWILIO_WEBHOOK_URL="",
            TWILIO_MESSAGING_SERVICE_SID="",
        )

    def __enter__(self) -> FakeTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, number: str) -> List[str]:
        with self.lock:
            return [m["Body"] for m in self.messages if m.get("To") == number]

    def wait_for_text(self, number: str, fragment: str, count: int = 1) -> List[str]:
        def found():
            bodies = self.bodies(number)
            return bodies if "\n".join(bodies).count(fragment) >= count else None

        return wait_for(found, what=f"an SMS to {number} containing {fragment!r}")


# ---------------------------------------------------------------- a running assistant


def webhook_url(rasa) -> str:
    return f"{rasa.url}/webhooks/twilio/webhook"


def post_sms(
    rasa,
    number: str,
    body: str,
    sid: str = None,
    signature: str = "valid",
    signed_params: Dict[str, str] = None,
    signed_url: str = None,
) -> requests.Response:
    params = twilio_params(number, body, sid or new_sid())
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
            signed_url or webhook_url(rasa), signed_params or params
        )
    elif signature:
        headers["X-Twilio-Signature"] = signature
    response = requests.post(webhook_url(rasa), data=params, headers=headers, timeout=10)
    return response


def say(rasa, number: str, body: str, sid: str = None) -> None:
    response = post_sms(rasa, number, body, sid)
    assert response.status_code == 200, response.text
    assert "<Response></Response>" in response.text


def events(rasa, number: str, type_name: str = None) -> List[dict]:
    with sqlite3.connect(rasa.db_path) as db:
        rows = db.execute(
            "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id",
            (conversation_id(number),),
        ).fetchall()
    return [json.loads(data) for kind, data in rows if type_name in (None, kind)]


def opted_out(rasa, number: str):
    with sqlite3.connect(rasa.db_path) as db:
        row = db.execute(
            "SELECT opted_out FROM sms_opt_outs WHERE number_hash = ?", (conversation_id(number),)
        ).fetchone()
    return None if row is None else bool(row[0])


def short(topic_key: str) -> str:
    return get_content().topics[topic_key].short


def first_sentence(text: str) -> str:
    return text.split(". ")[0]
