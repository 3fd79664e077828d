"""Fixtures of the two-replica tests: a fake Twilio API and the stack of
cluster/stack.py (PostgreSQL, Redis, nginx, two Rasa servers, two action servers
and the console), started once per test module."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from cluster.stack import Stack, Unavailable, ensure_packages
from servers import ONE_ADDRESS_MANY_PATIENTS
from sms.sms_helpers import FakeTwilio


@pytest.fixture(scope="module")
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def stack(fake_twilio):
    try:
        ensure_packages(print)
    except Unavailable as error:
        pytest.skip(f"PostgreSQL, Redis and nginx are needed: {error}")
    # not pytest's tmp_path: its parents are private to root, and PostgreSQL
    # runs as the postgres user
    root = Path(tempfile.mkdtemp(prefix="achilles-cluster-test-"))
    started = time.monotonic()
    stack = Stack(
        root,
        replicas=2,
        action_servers=2,
        with_widget=False,
        durable=False,
        extra_env=dict(
            **fake_twilio.env(),
            SMS_SEND_BACKOFF_SECONDS="0.05",
            # a killed replica's tickets free its conversations after 20 s
            # (Rasa's default: 60 s)
            TICKET_LOCK_LIFETIME="20",
            # every test patient comes from 127.0.0.1 (the address nginx saw);
            # the per-address limit is tested on Redis (test_cluster.py)
            **ONE_ADDRESS_MANY_PATIENTS,
        ),
    )
    try:
        stack.start()
        print(f"cluster up in {time.monotonic() - started:.1f}s")
        stack.engine = stack.db_engine()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)
