"""Fixtures of the SMS tests: a fake Twilio REST API and the real action and Rasa
servers with the SMS channel pointed at it (one start per test module)."""

from __future__ import annotations

import pytest

from servers import running_assistant
from sms_helpers import ID_SECRET, PART_LIMIT, FakeTwilio


@pytest.fixture(scope="module")
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def assistant(fake_twilio, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sms")
    credentials = workdir / "credentials.yml"
    credentials.write_text(
        "channels.rest.SafeRestInput:\n"
        "channels.sms.channel.SmsInput:\n"
        "  account_sid: ${TWILIO_ACCOUNT_SID}\n"
        "  auth_token: ${TWILIO_AUTH_TOKEN}\n"
        "  twilio_number: ${TWILIO_NUMBER}\n",
        encoding="utf-8",
    )
    with running_assistant(
        workdir,
        credentials=credentials,
        **fake_twilio.env(),
        SMS_ID_SECRET=ID_SECRET,
        SMS_ID_SECRET_FILE=str(workdir / "unused_secret"),
        SMS_MAX_PART_CHARS=str(PART_LIMIT),
        SMS_SEND_MAX_TRIES="3",
        SMS_SEND_BACKOFF_SECONDS="0.05",
        SMS_STATE_STORE="memory",
        PHONE_VAULT_KEY_FILE=str(workdir / "phone_vault_keys"),
    ) as rasa:
        rasa.phone_vault_key_file = workdir / "phone_vault_keys"
        yield rasa
