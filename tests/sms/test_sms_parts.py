"""The SMS channel's parts, each on its own: the webhook's form and signature
URL, settings, conversation ids and their secret, the state stores, the opt-out
table, and a channel without settings. No servers."""

from __future__ import annotations

import os
import stat
from typing import Dict, List

import pytest
from twilio.request_validator import RequestValidator

from channels.settings import SmsSettings, sms_id_secret
from channels.sms.channel import SmsInput
from channels.sms.identities import ConversationIds
from channels.sms.opt_outs import OptOutStore
from channels.sms.state import InMemoryStateStore, RedisStateStore
from channels.sms.webhook import parse_form, validation_url
from sms_helpers import AUTH_TOKEN, ID_SECRET, conversation_id


def test_validation_url_prefers_the_configured_public_url():
    assert (
        validation_url("http://10.0.0.5:5005/webhooks/twilio/webhook", "")
        == "http://10.0.0.5:5005/webhooks/twilio/webhook"
    )
    public = "https://sms.example.org/webhooks/twilio/webhook"
    assert validation_url("http://10.0.0.5:5005/webhooks/twilio/webhook", public) == public


def test_signature_covers_blank_parameters():
    url = "https://sms.example.org/webhooks/twilio/webhook"
    params = {"From": "+13105550199", "Body": "hi", "FromCity": "", "MessageSid": "SM1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    body = b"From=%2B13105550199&Body=hi&FromCity=&MessageSid=SM1"
    parsed = parse_form(body)
    assert parsed.first("FromCity") == ""
    assert RequestValidator(AUTH_TOKEN).validate(url, parsed, signature)
    assert not RequestValidator(AUTH_TOKEN).validate(url, parse_form(body + b"x"), signature)


def test_settings_from_credentials_then_environment():
    env = {
        "TWILIO_ACCOUNT_SID": "ACenv",
        "TWILIO_AUTH_TOKEN": "envtoken",
        "TWILIO_NUMBER": "+15550001111",
        "SMS_MAX_PART_CHARS": "500",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9/",
    }
    settings = SmsSettings.load({"auth_token": "credtoken", "account_sid": ""}, env)
    assert (settings.account_sid, settings.auth_token, settings.twilio_number) == (
        "ACenv",
        "credtoken",
        "+15550001111",
    )
    assert settings.max_part_chars == 500
    assert settings.api_base_url == "http://127.0.0.1:9"
    assert settings.problems() == []
    assert SmsSettings.load(None, {}).api_base_url == "https://api.twilio.com"
    assert len(SmsSettings.load(None, {}).problems()) == 3
    with pytest.raises(ValueError):
        SmsSettings.load(None, {"SMS_MAX_PART_CHARS": "5000"})
    with pytest.raises(ValueError, match="quote"):
        SmsSettings.load({"twilio_number": 15550001111}, env)  # unquoted +1555... in YAML
    with pytest.raises(ValueError, match="https"):
        SmsSettings.load(None, {"TWILIO_API_BASE_URL": "http://api.example.com"})


def test_conversation_id_is_a_keyed_hash_of_the_number():
    ids = ConversationIds(ID_SECRET.encode())
    assert ids.for_number("+1 310 555 0101") == conversation_id("+13105550101")
    assert ids.for_number("+13105550101") != ConversationIds(b"other").for_number("+13105550101")
    assert "5550101" not in ids.for_number("+13105550101")


def test_secret_file_is_generated_once_with_private_permissions(tmp_path):
    path = tmp_path / "var" / "sms_id_secret"
    env = {"SMS_ID_SECRET_FILE": str(path)}
    first = sms_id_secret(env)
    assert len(first) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sms_id_secret(env) == first
    os.chmod(path, 0o644)
    assert sms_id_secret(env) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.asyncio
async def test_in_memory_state_store_expires_and_is_bounded():
    now = [0.0]
    store = InMemoryStateStore(max_entries=3, clock=lambda: now[0])
    assert await store.add("sid:1", "1", ttl=10)
    assert not await store.add("sid:1", "1", ttl=10)
    now[0] = 11
    assert await store.add("sid:1", "1", ttl=10)
    for i in range(5):
        await store.set(f"k{i}", "v", ttl=100)
    assert len(store) == 3 and await store.get("k4") == "v" and await store.get("k0") is None
    await store.delete("k4")
    assert await store.get("k4") is None


@pytest.mark.asyncio
async def test_redis_state_store_uses_set_nx_with_expiry():
    class FakeRedis:
        def __init__(self):
            self.data: Dict[str, str] = {}
            self.calls: List[tuple] = []

        async def set(self, name, value, ex=None, px=None, nx=False):
            self.calls.append((name, px, nx))
            if nx and name in self.data:
                return None
            self.data[name] = value
            return True

        async def get(self, name):
            return self.data.get(name)

        async def delete(self, *names):
            for name in names:
                self.data.pop(name, None)

    fake = FakeRedis()
    store = RedisStateStore(fake, prefix="t:")
    assert await store.add("sid:1", "1", ttl=60)
    assert not await store.add("sid:1", "1", ttl=60)
    assert fake.calls[0] == ("t:sid:1", 60000, True)
    await store.set("choices:x", "[1]", ttl=1.5)
    assert await store.get("choices:x") == "[1]"
    await store.delete("choices:x")
    assert await store.get("choices:x") is None


def test_opt_outs_persist_across_restarts(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'conversations.db'}"
    OptOutStore(url).set_sync("sms-abc", True, "STOP")
    restarted = OptOutStore(url)
    assert restarted.is_opted_out_sync("sms-abc")
    assert not restarted.is_opted_out_sync("sms-other")
    restarted.set_sync("sms-abc", False, "START")
    assert not OptOutStore(url).is_opted_out_sync("sms-abc")


def test_unconfigured_channel_is_off_not_half_on():
    channel = SmsInput(SmsSettings())
    assert channel.enabled is False
