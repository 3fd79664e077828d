"""Property tests: whatever arrives at the public REST webhook, never a 5xx.

Hypothesis sends arbitrary Unicode (including lone surrogates and control
characters), huge strings, nested JSON, wrong types, malformed bodies and odd
content types to /webhooks/rest/webhook of one running assistant (real action
server and Rasa server on loopback, module-scoped). Every response must be
below 500, a 200 must carry a JSON list of bot messages, and afterwards the
server still answers a normal question. Example counts are modest so the
module runs in well under two minutes once the server is up.
"""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.content import get_content
from servers import running_assistant

CONTENT = get_content()
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    # a high per-sender limit: generated senders repeat, and 429 is not what is tested here
    with running_assistant(
        tmp_path_factory.mktemp("fuzz"), RATE_LIMIT_PER_SENDER="100000/minute"
    ) as server:
        server.webhook = f"{server.url}/webhooks/rest/webhook"  # type: ignore[attr-defined]
        yield server


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code == 200:
        body = response.json()
        assert isinstance(body, list)
        assert all(isinstance(m, dict) for m in body)


def post_json(server, body, **kwargs) -> requests.Response:
    return requests.post(
        server.webhook,
        data=json.dumps(body).encode(),
        timeout=120,
        headers={"Content-Type": "application/json"},
        **kwargs,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
valid_senders = st.from_regex(r"[A-Za-z0-9_.:@-]{1,128}", fullmatch=True)
senders = st.one_of(
    valid_senders,
    valid_senders,  # half the examples reach Rasa
    st.text(max_size=200),
    json_values,
)
messages = st.one_of(
    st.text(),  # any Unicode, surrogates too
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=200),  # control characters
    st.text(min_size=2_000, max_size=20_000),  # long
    st.builds(
        lambda w, n: " ".join([w] * n),
        st.sampled_from(["achilles", "ü", "🦶", "/"]),
        st.integers(1, 5_000),
    ),  # huge but valid JSON
    json_values,
)


@FUZZ
@given(sender=senders, message=messages)
def test_any_sender_and_message_get_an_answer_not_a_server_error(webhook, sender, message):
    check(post_json(webhook, {"sender": sender, "message": message}))


@FUZZ
@given(body=json_values | st.dictionaries(st.text(max_size=20), json_values, max_size=8))
def test_any_json_body_is_refused_or_answered_not_a_server_error(webhook, body):
    check(post_json(webhook, body))


@FUZZ
@given(
    raw=st.binary(max_size=5_000),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_malformed_bodies_are_refused_not_a_server_error(webhook, raw, content_type):
    response = requests.post(
        webhook.webhook,
        data=raw,
        timeout=120,
        headers={"Content-Type": content_type} if content_type else {},
    )
    check(response)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # too deep (and too big)
        b'{"sender": "deep", "message": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",  # deep, small
        b'{"sender": "dup", "sender": "dup2", "message": "hi"}',
        b'{"sender": "nan", "message": NaN}',
        b'{"sender": "big", "message": 1e999999}',
        b'{"sender": "trunc", "message": "hi',
        b'\xef\xbb\xbf{"sender": "bom", "message": "hi"}',
        b'{"sender": "surrogate", "message": "\\ud800\\udfff\\ud800"}',
        b'{"sender": "nul\\u0000", "message": "hi"}',
        b"",
    ],
)
def test_nasty_bodies_are_refused_or_answered_not_a_server_error(webhook, raw):
    response = requests.post(
        webhook.webhook, data=raw, timeout=120, headers={"Content-Type": "application/json"}
    )
    check(response)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_webhook_are_refused(webhook, method):
    response = requests.request(method, webhook.webhook, timeout=30, data=b"{}")
    assert 400 <= response.status_code < 500


def test_after_all_that_the_server_answers_a_normal_question(webhook):
    """Runs last in this module (pytest keeps file order)."""
    answer = webhook.texts(
        f"fuzz-after-{uuid.uuid4().hex[:8]}", "what are the symptoms of a torn achilles?"
    )
    assert CONTENT.topics["symptoms"].answer in "\n".join(answer)
