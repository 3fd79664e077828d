"""Every environment variable the Rasa server's channels and limits read, with its
default, in one place (README "Configuration" and "SMS" document them).

Values are read when a channel or limiter asks, not at import, so a test (or
`make run`) can set the environment first. Every function takes an optional
`env` mapping for tests; None means os.environ. What the action server shares
(office phone, practice name, DATABASE_URL) stays in actions/config.py.
No Rasa imports: tests/servers.py reads the defaults from here too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional
from urllib.parse import urlparse, urlsplit

from actions.config import PROJECT_ROOT
from channels.sms.formatting import TWILIO_MAX_BODY_CHARS
from settings.env import env_float, env_int
from settings.replicas import secret_from_env
from stores.secret_files import read_or_create_secret

logger = logging.getLogger(__name__)

# One request body on a public channel (REST, a socket.io packet, a Twilio
# webhook); a typed question is a few KB. Sanic's SANIC_REQUEST_MAX_SIZE in the
# Makefile, the deploy files and nginx say the same number.
MAX_PUBLIC_BODY_BYTES = 64 * 1024

# ---- limits on every public channel (channels/rate_limit.py)
DEFAULT_RATE_LIMIT_PER_SENDER = "20/minute"  # a patient types far slower
DEFAULT_RATE_LIMIT_PER_IP = "120/minute"  # a few patients behind one address (clinic Wi-Fi, NAT)
DEFAULT_RATE_LIMIT_STORAGE_URI = "async+memory://"
DEFAULT_MAX_CONCURRENT_TURNS = 100  # ~15 turns/s on 2 cores: about 7 s of queue
DEFAULT_TRUSTED_PROXY_COUNT = 0
DEFAULT_WIDGET_CONNECTIONS_PER_IP = 20

# ---- the website widget (channels/socketio.py)
DEFAULT_WIDGET_PORT = "8080"
DEFAULT_WIDGET_ID_SECRET_FILE = PROJECT_ROOT / "var" / "widget_id_secret"

# ---- SMS (channels/sms/)
DEFAULT_SMS_ID_SECRET_FILE = PROJECT_ROOT / "var" / "sms_id_secret"
DEFAULT_TWILIO_API_BASE_URL = "https://api.twilio.com"
DEFAULT_REDIS_HOST = "localhost"  # as Rasa's lock store
DEFAULT_REDIS_PORT = 6379
SMS_CREDENTIAL_KEYS = frozenset(
    {
        "account_sid",
        "auth_token",
        "twilio_number",
        "messaging_service_sid",
        "webhook_url",
        "api_base_url",
    }
)


def _env(env: Optional[Mapping[str, str]]) -> Mapping[str, str]:
    return os.environ if env is None else env


def _whole_number(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    return env_int(name, default, env, low=low)


def _number_between(
    env: Mapping[str, str],
    name: str,
    default: float,
    low: float,
    high: float,
    cast: Callable[[str], Any] = float,
) -> Any:
    if cast is int:
        return env_int(name, int(default), env, low=int(low), high=int(high))
    return env_float(name, float(default), env, low=low, high=high)


def _secret(env: Mapping[str, str], variable: str, file_variable: str, default_file: Path) -> bytes:
    """`variable`, else a random secret generated once into a private file (path:
    `file_variable`). With several replicas the variable is required
    (settings/replicas.py), so that all of them agree."""
    value = secret_from_env(variable, env)
    if not value:
        value = read_or_create_secret(
            Path(env.get(file_variable) or default_file), variable=variable
        )
    return value.encode("utf-8")


# ------------------------------------------------------------ limits


def rate_limit_per_sender(env: Optional[Mapping[str, str]] = None) -> str:
    return _env(env).get("RATE_LIMIT_PER_SENDER") or DEFAULT_RATE_LIMIT_PER_SENDER


def rate_limit_per_ip(env: Optional[Mapping[str, str]] = None) -> str:
    return _env(env).get("RATE_LIMIT_PER_IP") or DEFAULT_RATE_LIMIT_PER_IP


def rate_limit_storage_uri(env: Optional[Mapping[str, str]] = None) -> str:
    return _env(env).get("RATE_LIMIT_STORAGE_URI") or DEFAULT_RATE_LIMIT_STORAGE_URI


def max_concurrent_turns(env: Optional[Mapping[str, str]] = None) -> int:
    return _whole_number(_env(env), "MAX_CONCURRENT_TURNS", DEFAULT_MAX_CONCURRENT_TURNS, 1)


def trusted_proxy_count(env: Optional[Mapping[str, str]] = None) -> int:
    return _whole_number(_env(env), "TRUSTED_PROXY_COUNT", DEFAULT_TRUSTED_PROXY_COUNT, 0)


def widget_connections_per_ip(env: Optional[Mapping[str, str]] = None) -> int:
    return _whole_number(
        _env(env), "WIDGET_CONNECTIONS_PER_IP", DEFAULT_WIDGET_CONNECTIONS_PER_IP, 1
    )


# ------------------------------------------------------------ the website widget


def default_allowed_origins(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The widget server of `widget/serve.py` (WIDGET_PORT, default 8080)."""
    port = (_env(env).get("WIDGET_PORT") or DEFAULT_WIDGET_PORT).strip()
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def normalise_origin(value: str) -> str:
    """`https://Example.com:443/` -> `https://example.com`, as browsers send it."""
    text = value.strip()
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or parts.path not in ("", "/")
        or "*" in text
    ):
        raise ValueError(
            f"WIDGET_ALLOWED_ORIGINS: {value!r} is not an origin like "
            "https://www.example.com or http://127.0.0.1:8080 (no wildcards, no paths)"
        )
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = 80 if parts.scheme == "http" else 443
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def allowed_origins_from_env(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """WIDGET_ALLOWED_ORIGINS (comma-separated) or the widget server's defaults."""
    env = _env(env)
    entries = [item for item in env.get("WIDGET_ALLOWED_ORIGINS", "").split(",") if item.strip()]
    origins = [normalise_origin(item) for item in entries] or default_allowed_origins(env)
    return list(dict.fromkeys(origins))


def widget_id_secret(env: Optional[Mapping[str, str]] = None) -> bytes:
    """WIDGET_ID_SECRET, else var/widget_id_secret (WIDGET_ID_SECRET_FILE)."""
    return _secret(
        _env(env), "WIDGET_ID_SECRET", "WIDGET_ID_SECRET_FILE", DEFAULT_WIDGET_ID_SECRET_FILE
    )


# ------------------------------------------------------------ SMS


def sms_id_secret(env: Optional[Mapping[str, str]] = None) -> bytes:
    """SMS_ID_SECRET, else var/sms_id_secret (SMS_ID_SECRET_FILE). A different
    secret starts new SMS conversations and forgets opt-outs: back it up."""
    return _secret(_env(env), "SMS_ID_SECRET", "SMS_ID_SECRET_FILE", DEFAULT_SMS_ID_SECRET_FILE)


@dataclass(frozen=True)
class RedisSettings:
    """Where the SMS state store finds Redis (the same variables as Rasa's lock store)."""

    host: str = DEFAULT_REDIS_HOST
    port: int = DEFAULT_REDIS_PORT
    db: int = 0
    password: Optional[str] = None

    @classmethod
    def load(cls, env: Optional[Mapping[str, str]] = None) -> RedisSettings:
        env = _env(env)
        return cls(
            host=env.get("REDIS_HOST") or DEFAULT_REDIS_HOST,
            port=env_int("REDIS_PORT", DEFAULT_REDIS_PORT, env, low=1, high=65535),
            db=env_int("REDIS_DB", 0, env, low=0),
            password=env.get("REDIS_PASSWORD") or None,
        )


@dataclass(frozen=True)
class SmsSettings:
    """The Twilio channel's settings: credentials.yml keys, else TWILIO_* and SMS_*."""

    account_sid: str = ""
    auth_token: str = ""
    twilio_number: str = ""
    messaging_service_sid: str = ""
    webhook_url: str = ""
    api_base_url: str = DEFAULT_TWILIO_API_BASE_URL
    max_part_chars: int = TWILIO_MAX_BODY_CHARS
    send_max_tries: int = 3
    send_backoff_seconds: float = 0.5
    send_timeout_seconds: float = 10.0
    dedup_ttl_seconds: float = 24 * 3600.0
    choices_ttl_seconds: float = 15 * 60.0
    number_ttl_seconds: float = 15 * 60.0
    state_store: str = "memory"

    @classmethod
    def load(
        cls,
        credentials: Optional[Mapping[str, Any]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> SmsSettings:
        """credentials.yml values first, then environment variables, then defaults."""
        env = _env(env)
        creds = dict(credentials or {})
        unknown = sorted(set(creds) - SMS_CREDENTIAL_KEYS)
        if unknown:
            logger.warning(
                "Unknown keys for the SMS channel in credentials.yml ignored: %s (known: %s)",
                ", ".join(unknown),
                ", ".join(sorted(SMS_CREDENTIAL_KEYS)),
            )

        def text(key: str, var: str, default: str = "") -> str:
            value = creds.get(key)
            if value is not None and not isinstance(value, str):
                # e.g. an unquoted +15551234567 that YAML read as a number
                raise ValueError(f"credentials.yml: quote the value of {key!r}")
            if value is None or not value.strip():
                value = env.get(var)
            return value.strip() if value and value.strip() else default

        store = (env.get("SMS_STATE_STORE") or "memory").strip().lower()
        if store not in ("memory", "redis"):
            raise ValueError(f"SMS_STATE_STORE must be 'memory' or 'redis', got {store!r}")
        return cls(
            account_sid=text("account_sid", "TWILIO_ACCOUNT_SID"),
            auth_token=text("auth_token", "TWILIO_AUTH_TOKEN"),
            twilio_number=text("twilio_number", "TWILIO_NUMBER"),
            messaging_service_sid=text("messaging_service_sid", "TWILIO_MESSAGING_SERVICE_SID"),
            webhook_url=text("webhook_url", "TWILIO_WEBHOOK_URL"),
            api_base_url=text(
                "api_base_url", "TWILIO_API_BASE_URL", DEFAULT_TWILIO_API_BASE_URL
            ).rstrip("/"),
            max_part_chars=_number_between(
                env, "SMS_MAX_PART_CHARS", TWILIO_MAX_BODY_CHARS, 20, TWILIO_MAX_BODY_CHARS, int
            ),
            send_max_tries=_number_between(env, "SMS_SEND_MAX_TRIES", 3, 1, 10, int),
            send_backoff_seconds=_number_between(env, "SMS_SEND_BACKOFF_SECONDS", 0.5, 0, 10),
            send_timeout_seconds=_number_between(env, "SMS_SEND_TIMEOUT_SECONDS", 10, 1, 60),
            dedup_ttl_seconds=_number_between(env, "SMS_DEDUP_TTL_SECONDS", 86400, 60, 7 * 86400),
            choices_ttl_seconds=_number_between(env, "SMS_CHOICES_TTL_SECONDS", 900, 10, 86400),
            number_ttl_seconds=_number_between(env, "SMS_NUMBER_TTL_SECONDS", 900, 60, 86400),
            state_store=store,
        )._checked()

    def _checked(self) -> SmsSettings:
        api = urlparse(self.api_base_url)
        if api.scheme not in ("https", "http") or not api.hostname:
            raise ValueError(
                f"TWILIO_API_BASE_URL must be an http(s) URL, got {self.api_base_url!r}"
            )
        if api.scheme == "http" and api.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(
                "TWILIO_API_BASE_URL must use https (plain http is only "
                "allowed on loopback, for tests): the auth token is sent with it"
            )
        if self.webhook_url and urlparse(self.webhook_url).scheme not in ("https", "http"):
            raise ValueError(
                f"TWILIO_WEBHOOK_URL must be the full URL configured at Twilio, "
                f"got {self.webhook_url!r}"
            )
        return self

    def problems(self) -> List[str]:
        """The settings still missing for the channel to work (empty: it is on)."""
        missing = []
        if not self.account_sid:
            missing.append("TWILIO_ACCOUNT_SID")
        if not self.auth_token:
            missing.append("TWILIO_AUTH_TOKEN")
        if not (self.twilio_number or self.messaging_service_sid):
            missing.append("TWILIO_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)")
        return missing
