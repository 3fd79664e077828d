"""SMS through Twilio: POST /webhooks/twilio/webhook (replaces Rasa's twilio connector).

Enable it in credentials.yml with the block below; every value may come from the
environment instead (an empty value or a missing key falls back to the variable):

    channels.twilio_sms.SmsInput:
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      twilio_number: ${TWILIO_NUMBER}

(Rasa expands an unquoted ${VAR} and refuses to start if it is unset; a block
with no keys reads the same variables itself and, if they are missing, starts
with the SMS channel switched off: the webhook answers 503 and the log says why.)

What a webhook request goes through, in order:

1. Authenticity: `X-Twilio-Signature` is checked with the official `twilio`
   `RequestValidator` and the auth token, against the public URL Twilio called:
   TWILIO_WEBHOOK_URL if set (the exact URL configured in the Twilio console,
   needed behind a proxy or TLS terminator), else the URL of the request.
   Parameters are parsed with blank values kept, because Twilio signs them too
   (FromCity=, FromZip=, ...). Missing or wrong signature: 403, nothing
   processed, nothing stored.
2. De-duplication by MessageSid: Twilio retries a webhook it thinks failed; a
   retry is answered 200 and dropped, so it never makes a second user event or
   a second reply. The "seen" marks live in a `StateStore`: `InMemoryStateStore`
   (TTL, bounded) is right for one replica; with several replicas set
   SMS_STATE_STORE=redis (REDIS_HOST/REDIS_PORT, as for the lock store) so all
   replicas share the marks and the numbered-reply menus (`RedisStateStore`,
   SET NX PX). Raw phone numbers never go to that store.
3. Twilio gets an empty TwiML response (200) at once; the turn runs in a
   background task and replies go out through the REST API. Turns of one
   conversation run one at a time, in arrival order.
4. Carrier keywords (whole message, any case):
   - STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPT OUT (also
     OPTOUT, OPT-OUT): opt-out. One confirmation,
     then nothing more to that number until START, UNSTOP or YES. Messages from
     an opted-out number are not passed to the assistant and not stored.
     "CANCEL" alone is an opt-out even in the middle of the appointment form,
     because Twilio and the carriers treat it as one (the patient would get no
     more texts whatever we did); any open appointment form is then cancelled
     (nothing is sent to the office) and the confirmation says so. "cancel my
     request" (or any longer message) is not a keyword and goes to the assistant.
   - START, UNSTOP: opt back in and confirm. YES opts in only when the number is
     opted out; otherwise it is an ordinary "yes" (the form's consent question).
   - HELP, INFO: practice name, office phone, "Reply STOP to opt out". Answered
     even to an opted-out number: carriers (CTIA) require a HELP reply whatever
     the opt-in status, and it is the patient asking.
   Opt-out state is stored in the project database (DATABASE_URL, table
   `sms_opt_outs`, keyed by the hashed number), so it survives restarts. If the
   database cannot be read, a number counts as opted out (fail closed) unless
   this process recorded its state; a failed write is logged as an error. If
   Twilio's own Advanced Opt-Out is on, Twilio also confirms and blocks; our
   send then fails with error 21610, which we log as information and record as
   an opt-out.
5. Everything else is sanitised like the REST channel (channels/sanitize.py)
   and counts against the per-conversation limit and the process-wide
   MAX_CONCURRENT_TURNS (channels/rate_limit.py; when busy, the patient gets a
   text with the office phone instead of an answer);
   a reply of "1", "2", ... is first mapped to that conversation's latest
   numbered menu (kept SMS_CHOICES_TTL_SECONDS, default 15 minutes).
6. Replies are shaped for SMS (channels/sms_text.py): the turn's messages are
   joined, Markdown stripped, buttons written as "Reply 1 for ..., 2 for ...",
   and the text split into parts of at most SMS_MAX_PART_CHARS (default and
   maximum 1,600, Twilio's limit) on paragraph, line or sentence boundaries,
   sent one after the other. The actions already pick the short SMS variants
   because the input channel is "twilio" (actions/replies.py).

Sending: plain aiohttp POSTs to {TWILIO_API_BASE_URL}/2010-04-01/Accounts/{sid}/
Messages.json with basic auth, rather than twilio's Client, because (a) it is
natively async, so the event loop never blocks and no thread pool is needed;
(b) we control retries: 429, 5xx and connection errors/time-outs are retried
with bounded exponential back-off (SMS_SEND_MAX_TRIES, default 3), other errors
are not; (c) twilio's HTTP client logs request parameters, i.e. the patient's
number, at INFO level; (d) the base URL is one setting, so tests point it at a
fake API on loopback. A connection error after Twilio accepted a message can
still cause a duplicate text; that is the price of retrying. If sending finally
fails, the conversation is still recorded (Rasa stored the turn before we send)
and the error is logged; Twilio has long had its 200.

Privacy: the conversation id is "sms-" + HMAC-SHA256(SMS_ID_SECRET, number).
If SMS_ID_SECRET is unset, a random secret is generated once into
var/sms_id_secret (mode 0600; SMS_ID_SECRET_FILE overrides the path) with a
warning; with several replicas (REPLICAS>1, cluster/settings.py) it must be set,
so that every replica gives a number the same conversation id. Keep the secret stable and backed up: a new secret starts new
conversations and forgets opt-outs. The raw number is kept only in this
process's memory, for the outbound send (hash -> number, SMS_NUMBER_TTL_SECONDS),
and in appointment requests where the patient types it. It is never logged and
never put into tracker events or metadata.

Settings (environment; credentials.yml keys in brackets):
TWILIO_ACCOUNT_SID [account_sid], TWILIO_AUTH_TOKEN [auth_token],
TWILIO_NUMBER [twilio_number] or TWILIO_MESSAGING_SERVICE_SID
[messaging_service_sid], TWILIO_WEBHOOK_URL [webhook_url],
TWILIO_API_BASE_URL [api_base_url] (default https://api.twilio.com),
SMS_ID_SECRET, SMS_ID_SECRET_FILE, SMS_MAX_PART_CHARS, SMS_SEND_MAX_TRIES,
SMS_SEND_BACKOFF_SECONDS, SMS_SEND_TIMEOUT_SECONDS, SMS_DEDUP_TTL_SECONDS,
SMS_CHOICES_TTL_SECONDS, SMS_NUMBER_TTL_SECONDS, SMS_STATE_STORE (memory|redis).
The office phone, practice name and database come from actions/config.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import (Any, AsyncIterator, Awaitable, Callable, Dict, List, Mapping,
                    Optional, Set, Text, Tuple)
from urllib.parse import parse_qsl, urlparse

import aiohttp
import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from actions.config import PROJECT_ROOT, load_settings
from stores import db
from stores.secret_files import read_or_create_secret
from channels import sms_text
from channels.rest import run_turn, technical_trouble_reply
from channels.rate_limit import BUSY_TEXT, sender_rate_limiter, turn_slots
from channels.sanitize import sanitize_user_text
from cluster.settings import secret_from_env
from stores.sql import create_tables

logger = logging.getLogger(__name__)

CHANNEL_NAME = "twilio"  # actions/replies.py SMS_CHANNEL
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_WEBHOOK_BODY_BYTES = 64 * 1024
DEFAULT_API_BASE_URL = "https://api.twilio.com"
DEFAULT_SECRET_FILE = PROJECT_ROOT / "var" / "sms_id_secret"
CONVERSATION_PREFIX = "sms-"
# Twilio error codes meaning "this recipient has opted out" (Advanced Opt-Out).
UNSUBSCRIBED_ERROR_CODES = frozenset({21610})
MAX_BACKOFF_SECONDS = 30.0
CREDENTIAL_KEYS = frozenset({"account_sid", "auth_token", "twilio_number",
                             "messaging_service_sid", "webhook_url", "api_base_url"})


# ---------------------------------------------------------------- settings


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float,
            cast: Callable[[str], Any] = float) -> Any:
    raw = (env.get(name) or "").strip()
    if not raw:
        return cast(str(default))
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


@dataclass(frozen=True)
class SmsSettings:
    account_sid: str = ""
    auth_token: str = ""
    twilio_number: str = ""
    messaging_service_sid: str = ""
    webhook_url: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    max_part_chars: int = sms_text.TWILIO_MAX_BODY_CHARS
    send_max_tries: int = 3
    send_backoff_seconds: float = 0.5
    send_timeout_seconds: float = 10.0
    dedup_ttl_seconds: float = 24 * 3600.0
    choices_ttl_seconds: float = 15 * 60.0
    number_ttl_seconds: float = 15 * 60.0
    state_store: str = "memory"

    @classmethod
    def load(cls, credentials: Optional[Mapping[str, Any]] = None,
             env: Optional[Mapping[str, str]] = None) -> "SmsSettings":
        """credentials.yml values first, then environment variables, then defaults."""
        env = os.environ if env is None else env
        creds = dict(credentials or {})
        unknown = sorted(set(creds) - CREDENTIAL_KEYS)
        if unknown:
            logger.warning("Unknown keys for the SMS channel in credentials.yml ignored: %s "
                           "(known: %s)", ", ".join(unknown), ", ".join(sorted(CREDENTIAL_KEYS)))

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
            api_base_url=text("api_base_url", "TWILIO_API_BASE_URL",
                              DEFAULT_API_BASE_URL).rstrip("/"),
            max_part_chars=_number(env, "SMS_MAX_PART_CHARS", sms_text.TWILIO_MAX_BODY_CHARS,
                                   20, sms_text.TWILIO_MAX_BODY_CHARS, int),
            send_max_tries=_number(env, "SMS_SEND_MAX_TRIES", 3, 1, 10, int),
            send_backoff_seconds=_number(env, "SMS_SEND_BACKOFF_SECONDS", 0.5, 0, 10),
            send_timeout_seconds=_number(env, "SMS_SEND_TIMEOUT_SECONDS", 10, 1, 60),
            dedup_ttl_seconds=_number(env, "SMS_DEDUP_TTL_SECONDS", 86400, 60, 7 * 86400),
            choices_ttl_seconds=_number(env, "SMS_CHOICES_TTL_SECONDS", 900, 10, 86400),
            number_ttl_seconds=_number(env, "SMS_NUMBER_TTL_SECONDS", 900, 60, 86400),
            state_store=store,
        )._checked()

    def _checked(self) -> "SmsSettings":
        api = urlparse(self.api_base_url)
        if api.scheme not in ("https", "http") or not api.hostname:
            raise ValueError(f"TWILIO_API_BASE_URL must be an http(s) URL, "
                             f"got {self.api_base_url!r}")
        if api.scheme == "http" and api.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("TWILIO_API_BASE_URL must use https (plain http is only "
                             "allowed on loopback, for tests): the auth token is sent with it")
        if self.webhook_url and urlparse(self.webhook_url).scheme not in ("https", "http"):
            raise ValueError(f"TWILIO_WEBHOOK_URL must be the full URL configured at Twilio, "
                             f"got {self.webhook_url!r}")
        return self

    def problems(self) -> List[str]:
        missing = []
        if not self.account_sid:
            missing.append("TWILIO_ACCOUNT_SID")
        if not self.auth_token:
            missing.append("TWILIO_AUTH_TOKEN")
        if not (self.twilio_number or self.messaging_service_sid):
            missing.append("TWILIO_NUMBER (or TWILIO_MESSAGING_SERVICE_SID)")
        return missing


# ---------------------------------------------------------------- identities


def read_or_create_secret_file(path: Path) -> str:
    """The secret in `path`, created (random, mode 0600) on first use. A different
    secret starts new SMS conversations and forgets opt-outs: back it up."""
    return read_or_create_secret(path, variable="SMS_ID_SECRET")


def load_id_secret(env: Optional[Mapping[str, str]] = None) -> bytes:
    env = os.environ if env is None else env
    value = secret_from_env("SMS_ID_SECRET", env)  # required with several replicas
    if value:
        return value.encode("utf-8")
    path = Path(env.get("SMS_ID_SECRET_FILE") or DEFAULT_SECRET_FILE)
    return read_or_create_secret_file(path).encode("utf-8")


class ConversationIds:
    """Phone number -> conversation id, a keyed hash (never the number itself)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty SMS id secret is not allowed")
        self._secret = secret

    def for_number(self, number: str) -> str:
        normalised = "".join(number.split())
        digest = hmac.new(self._secret, normalised.encode("utf-8"), hashlib.sha256)
        return CONVERSATION_PREFIX + digest.hexdigest()


# ---------------------------------------------------------------- short-lived state


class StateStore:
    """Small async key-value store with expiry: MessageSid marks and reply menus.

    `InMemoryStateStore` serves one replica; `RedisStateStore` shares the state
    between replicas. Anything with these four methods will do.
    """

    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Store if absent; True if it was absent (atomic)."""
        raise NotImplementedError

    async def get(self, key: str) -> Optional[str]:
        raise NotImplementedError

    async def set(self, key: str, value: str, ttl: float) -> None:
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        raise NotImplementedError


class InMemoryStateStore(StateStore):
    """TTL dictionary, bounded (oldest entries go first). Event-loop only."""

    def __init__(self, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._items: "OrderedDict[str, Tuple[float, str]]" = OrderedDict()
        self._max = max_entries
        self._clock = clock
        self._writes = 0

    def _live(self, key: str, now: float) -> Optional[str]:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= now:
            del self._items[key]
            return None
        return item[1]

    def _store(self, key: str, value: str, ttl: float, now: float) -> None:
        self._items[key] = (now + ttl, value)
        self._items.move_to_end(key)
        self._writes += 1
        if self._writes % 1000 == 0:
            for expired in [k for k, (exp, _) in self._items.items() if exp <= now]:
                del self._items[expired]
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def add(self, key: str, value: str, ttl: float) -> bool:
        now = self._clock()
        if self._live(key, now) is not None:
            return False
        self._store(key, value, ttl, now)
        return True

    async def get(self, key: str) -> Optional[str]:
        return self._live(key, self._clock())

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._store(key, value, ttl, self._clock())

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class RedisStateStore(StateStore):
    """The same state in Redis (redis.asyncio client), for several replicas."""

    def __init__(self, client: Any, prefix: str = "achilles:sms:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "RedisStateStore":
        import redis.asyncio as redis  # installed with rasa; only needed here

        env = os.environ if env is None else env
        client = redis.Redis(host=env.get("REDIS_HOST") or "localhost",
                             port=int(env.get("REDIS_PORT") or 6379),
                             db=int(env.get("REDIS_DB") or 0),
                             password=env.get("REDIS_PASSWORD") or None,
                             decode_responses=True,
                             # Redis down or hung: fail fast; every caller copes
                             socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(client)

    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._client.set(self._prefix + key, value, nx=True,
                                           px=self._ms(ttl)))

    async def get(self, key: str) -> Optional[str]:
        value = await self._client.get(self._prefix + key)
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._client.set(self._prefix + key, value, px=self._ms(ttl))

    async def delete(self, key: str) -> None:
        await self._client.delete(self._prefix + key)


def make_state_store(settings: SmsSettings) -> StateStore:
    if settings.state_store == "redis":
        return RedisStateStore.from_env()
    return InMemoryStateStore()


class KeyedLocks:
    """One asyncio lock per conversation, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: Dict[str, List[Any]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    def __len__(self) -> int:
        return len(self._locks)


# ---------------------------------------------------------------- opt-outs


metadata = sa.MetaData()

sms_opt_outs = sa.Table(
    "sms_opt_outs",
    metadata,
    # the keyed hash of the number, i.e. the SMS conversation id; never the number
    sa.Column("number_hash", sa.String(80), primary_key=True),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("keyword", sa.String(16)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class OptOutStore:
    """Opt-out state in the project database (SQLAlchemy Core, same DATABASE_URL
    as the tracker store). Blocking calls run in a worker thread."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._engine: Optional[sa.engine.Engine] = None
        self._lock = threading.Lock()

    def _get_engine(self) -> sa.engine.Engine:
        with self._lock:
            if self._engine is None:
                engine = db.engine_for(self._url)  # shared defaults (stores/db.py)
                # safe when several replicas start at once (stores/sql.py)
                create_tables(engine, metadata, tables=[sms_opt_outs])
                self._engine = engine
            return self._engine

    def is_opted_out_sync(self, number_hash: str) -> bool:
        with self._get_engine().connect() as conn:
            value = conn.execute(sa.select(sms_opt_outs.c.opted_out).where(
                sms_opt_outs.c.number_hash == number_hash)).scalar()
        return bool(value)

    def set_sync(self, number_hash: str, opted_out: bool, keyword: Optional[str]) -> None:
        values = dict(opted_out=opted_out, keyword=keyword,
                      updated_at=dt.datetime.now(dt.timezone.utc))
        engine = self._get_engine()
        for _ in range(2):
            with engine.begin() as conn:
                updated = conn.execute(sms_opt_outs.update().where(
                    sms_opt_outs.c.number_hash == number_hash).values(**values)).rowcount
            if updated:
                return
            try:
                with engine.begin() as conn:
                    conn.execute(sms_opt_outs.insert().values(number_hash=number_hash,
                                                              **values))
                return
            except sa.exc.IntegrityError:  # another replica inserted it: update it
                continue

    async def is_opted_out(self, number_hash: str) -> bool:
        return await asyncio.to_thread(self.is_opted_out_sync, number_hash)

    async def set(self, number_hash: str, opted_out: bool, keyword: Optional[str]) -> None:
        await asyncio.to_thread(self.set_sync, number_hash, opted_out, keyword)


# ---------------------------------------------------------------- sending


class SendOutcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    detail: str = ""  # why it failed: status and Twilio error code, never the number


def _retry_after_seconds(headers: Mapping[str, str]) -> Optional[float]:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


class TwilioMessageSender:
    """Creates messages through Twilio's REST API (see the module docstring for why
    aiohttp rather than twilio's Client). Logs conversation ids, never numbers."""

    def __init__(self, settings: SmsSettings,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._settings = settings
        self._url = (f"{settings.api_base_url}/2010-04-01/Accounts/"
                     f"{settings.account_sid}/Messages.json")
        self._auth = aiohttp.BasicAuth(settings.account_sid, settings.auth_token)
        self._session: Optional[aiohttp.ClientSession] = None
        self._sleep = sleep

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.send_timeout_seconds),
                headers={"User-Agent": "achilles-assistant-sms/1"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _form(self, to: str, body: str) -> Dict[str, str]:
        form = {"To": to, "Body": body}
        if self._settings.messaging_service_sid:
            form["MessagingServiceSid"] = self._settings.messaging_service_sid
        else:
            form["From"] = self._settings.twilio_number
        return form

    def _backoff(self, attempt: int, retry_after: Optional[float]) -> float:
        delay = self._settings.send_backoff_seconds * 2 ** (attempt - 1)
        delay = min(delay * random.uniform(0.8, 1.2), MAX_BACKOFF_SECONDS)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
        return delay

    async def send(self, to: str, body: str, conversation_id: str) -> SendResult:
        tries = self._settings.send_max_tries
        problem = "no attempt"
        for attempt in range(1, tries + 1):
            retry_after: Optional[float] = None
            try:
                async with self._client().post(self._url, data=self._form(to, body),
                                               auth=self._auth) as resp:
                    if 200 <= resp.status < 300:
                        return SendResult(SendOutcome.SENT)
                    code = await self._error_code(resp)
                    problem = f"HTTP {resp.status}, Twilio error {code}"
                    if resp.status != 429 and resp.status < 500:
                        if code in UNSUBSCRIBED_ERROR_CODES:
                            return SendResult(SendOutcome.UNSUBSCRIBED, problem)
                        return SendResult(SendOutcome.FAILED, f"{problem}, not retried")
                    retry_after = _retry_after_seconds(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                problem = f"{type(exc).__name__}"
            if attempt < tries:
                delay = self._backoff(attempt, retry_after)
                logger.warning("SMS for conversation %s: attempt %d/%d failed (%s); "
                               "retrying in %.2fs", conversation_id, attempt, tries,
                               problem, delay)
                await self._sleep(delay)
        return SendResult(SendOutcome.FAILED, f"{tries} attempts, last: {problem}")

    @staticmethod
    async def _error_code(resp: aiohttp.ClientResponse) -> Optional[int]:
        """Twilio's numeric error code; its message may quote the number, so it is not kept."""
        try:
            body = await resp.json(content_type=None)
            return int(body.get("code")) if isinstance(body, dict) and body.get("code") else None
        except Exception:
            return None


# ---------------------------------------------------------------- the channel


class SmsCollector(CollectingOutputChannel):
    """Collects one turn's bot messages; named "twilio" so channel-specific
    responses (`channel: twilio` in the domain) are chosen."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME


class _FormParams(dict):
    """Form fields as name -> list of values, the way RequestValidator reads a MultiDict."""

    def getall(self, name: str) -> List[str]:
        return self[name]

    def first(self, name: str) -> str:
        values = self.get(name) or [""]
        return values[0]


def parse_form(body: bytes) -> _FormParams:
    """x-www-form-urlencoded body with blank values kept (Twilio signs them)."""
    params = _FormParams()
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"),
                                 keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params


def validation_url(request_url: str, configured_url: str) -> str:
    """The URL whose signature we check: the configured public URL, if any."""
    return configured_url or request_url


def _twiml() -> HTTPResponse:
    return response.text(EMPTY_TWIML, status=200, content_type="text/xml; charset=utf-8")


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class SmsInput(InputChannel):
    """Twilio Programmable Messaging webhook; see the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SmsInput":
        return cls(SmsSettings.load(credentials))

    def __init__(self, settings: SmsSettings, *, state: Optional[StateStore] = None,
                 opt_outs: Optional[OptOutStore] = None,
                 ids: Optional[ConversationIds] = None,
                 sender: Optional[TwilioMessageSender] = None) -> None:
        self.settings = settings
        problems = settings.problems()
        self.enabled = not problems
        self._tasks: Set[asyncio.Task] = set()
        self.locks = KeyedLocks()
        # raw numbers: this process's memory only, never a shared store
        self.numbers = InMemoryStateStore(max_entries=50_000)
        # last opt-out/in seen here: a fallback if the database cannot be read
        self._recent_opt_outs = InMemoryStateStore(max_entries=50_000)
        if not self.enabled:
            logger.warning("SMS channel (Twilio) is OFF: %s not set. /webhooks/twilio/webhook "
                           "answers 503 until it is configured.", ", ".join(problems))
            return
        self.validator = RequestValidator(settings.auth_token)
        self.ids = ids or ConversationIds(load_id_secret())
        self.state = state or make_state_store(settings)
        self.opt_outs = opt_outs or OptOutStore(load_settings().database_url)
        self.sender = sender or TwilioMessageSender(settings)
        logger.info("SMS channel (Twilio) on; signatures checked against %s",
                    settings.webhook_url or "the request URL")

    # ---- HTTP

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("twilio_sms_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"status": "not_configured"}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        @webhook.listener("after_server_stop")
        async def close_sender(app: Any, loop: Any) -> None:
            if self.enabled:
                await self.sender.close()

        return webhook

    async def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        if not self.enabled:
            return response.text("SMS channel not configured", status=503)
        body = request.body or b""
        if len(body) > MAX_WEBHOOK_BODY_BYTES:
            return response.text("Request too large", status=413)
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        params = parse_form(body) if content_type.lower() == \
            "application/x-www-form-urlencoded" else _FormParams()
        signature = request.headers.get("X-Twilio-Signature") or ""
        url = validation_url(request.url, self.settings.webhook_url)
        if not signature or not self.validator.validate(url, params, signature):
            logger.warning("Rejected an SMS webhook call with a %s X-Twilio-Signature "
                           "(checked against %s; behind a proxy, set TWILIO_WEBHOOK_URL "
                           "to the URL configured at Twilio)",
                           "wrong" if signature else "missing", url)
            return response.text("Forbidden", status=403)

        number = params.first("From").strip()
        message_sid = (params.first("MessageSid") or params.first("SmsMessageSid")
                       or params.first("SmsSid")).strip()
        if not number or not message_sid:
            return response.text("From and MessageSid are required", status=400)
        try:
            first_time = await self.state.add(f"sid:{message_sid}", "1",
                                              self.settings.dedup_ttl_seconds)
        except Exception:  # de-duplication is best effort; never lose the message
            logger.exception("SMS de-duplication store failed; processing %s anyway",
                             message_sid)
            first_time = True
        if not first_time:
            logger.info("Twilio retry of %s ignored (already received)", message_sid)
            return _twiml()
        self._spawn(self._process(on_new_message, number, params.first("Body"),
                                  message_sid, request.app))
        return _twiml()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- one turn

    async def _process(self, on_new_message: OnNewMessage, number: str, body: str,
                       message_sid: str, app: Any) -> None:
        conversation_id = self.ids.for_number(number)
        await self.numbers.set(conversation_id, number, self.settings.number_ttl_seconds)
        async with self.locks.hold(conversation_id):
            try:
                await self._turn(on_new_message, conversation_id, body, message_sid, app)
            except Exception:
                logger.exception("SMS turn %s failed for conversation %s",
                                 message_sid, conversation_id)

    async def _turn(self, on_new_message: OnNewMessage, conversation_id: str, body: str,
                    message_sid: str, app: Any) -> None:
        keyword = sms_text.carrier_keyword(body)
        state = await self._opt_out_state(conversation_id)
        opted_out = state is not False  # unknown (database down) counts as opted out

        if keyword in sms_text.OPT_OUT_KEYWORDS:
            await self._set_opt_out(conversation_id, True, keyword)
            form_cancelled = await self._cancel_open_form(
                on_new_message, conversation_id, message_sid, app)
            if state is True:
                logger.info("Repeated opt-out from conversation %s; nothing sent",
                            conversation_id)
                return
            logger.info("Conversation %s opted out (%s)", conversation_id, keyword)
            await self._deliver(conversation_id, self.opt_out_text(form_cancelled))
            return
        if keyword in sms_text.HELP_KEYWORDS:
            await self._deliver(conversation_id, self.help_text())
            return
        if keyword in ("START", "UNSTOP") or (keyword == "YES" and opted_out):
            await self._set_opt_out(conversation_id, False, keyword)
            logger.info("Conversation %s opted in (%s)", conversation_id, keyword)
            await self._deliver(conversation_id, self.opt_in_text())
            return
        if opted_out:
            logger.info("Message %s from opted-out conversation %s not processed",
                        message_sid, conversation_id)
            return

        if not await sender_rate_limiter().allow(self.name(), conversation_id):
            # every SMS reply costs money: a flooding number gets no answer
            logger.warning("Rate limit: message %s from conversation %s dropped",
                           message_sid, conversation_id)
            return
        text = sanitize_user_text(await self._map_choice(conversation_id, body))
        collector = SmsCollector()
        with turn_slots().slot() as admitted:
            if admitted:
                failed = await run_turn(on_new_message, UserMessage(
                    text, collector, conversation_id, input_channel=self.name(),
                    message_id=message_sid))
        if not admitted:  # too many turns in flight: a polite text, not a long wait
            logger.warning("Busy: MAX_CONCURRENT_TURNS turns in flight; message %s from "
                           "conversation %s answered with the busy text", message_sid,
                           conversation_id)
            await self._deliver(conversation_id,
                                BUSY_TEXT.format(phone=load_settings().office_phone))
            return
        messages = collector.messages
        if failed or not messages:  # maybe not recorded for staff: give the phone number
            messages = messages + [technical_trouble_reply()]
        reply, choices = sms_text.render_turn(messages)
        await self._remember_choices(conversation_id, choices)
        await self._deliver(conversation_id, reply)

    async def _opt_out_state(self, conversation_id: str) -> Optional[bool]:
        """The database decides; if it cannot be read, what this process last recorded,
        else None: unknown, which the caller treats as opted out (fail closed: better
        no reply than a text to an opted-out number)."""
        try:
            return await self.opt_outs.is_opted_out(conversation_id)
        except Exception:
            known = await self._recent_opt_outs.get(conversation_id)
            logger.exception("Could not read the opt-out state of %s; treating it as %s",
                             conversation_id, "opted in" if known == "0" else "opted out")
            return None if known is None else known == "1"

    async def _set_opt_out(self, conversation_id: str, opted_out: bool,
                           keyword: Optional[str]) -> None:
        await self._recent_opt_outs.set(conversation_id, "1" if opted_out else "0", 7 * 86400)
        try:
            await self.opt_outs.set(conversation_id, opted_out, keyword)
        except Exception:
            logger.exception("Opt-%s of conversation %s NOT saved in the database (kept in "
                             "this process's memory only); record it by hand",
                             "out" if opted_out else "in", conversation_id)

    async def _cancel_open_form(self, on_new_message: OnNewMessage, conversation_id: str,
                                message_sid: str, app: Any) -> bool:
        """An opt-out in the middle of the appointment form also cancels the form
        (its reply is not sent: the opt-out confirmation says so)."""
        store = getattr(getattr(getattr(app, "ctx", None), "agent", None),
                        "tracker_store", None)
        if store is None:
            return False
        try:
            tracker = await store.retrieve(conversation_id)
            if tracker is None or not tracker.active_loop_name:
                return False
            await on_new_message(UserMessage("/cancel", SmsCollector(), conversation_id,
                                             input_channel=self.name(),
                                             message_id=message_sid))
            return True
        except Exception:
            logger.exception("Could not cancel the open form of conversation %s",
                             conversation_id)
            return False

    async def _map_choice(self, conversation_id: str, body: str) -> str:
        number = sms_text.choice_number(body)
        if number is None:
            return body
        try:
            raw = await self.state.get(f"choices:{conversation_id}")
            payloads = json.loads(raw) if raw else []
        except Exception:
            logger.exception("Could not read the reply menu of %s", conversation_id)
            return body
        if 1 <= number <= len(payloads):
            return payloads[number - 1]
        return body

    async def _remember_choices(self, conversation_id: str, choices: List[str]) -> None:
        key = f"choices:{conversation_id}"
        try:
            if choices:
                await self.state.set(key, json.dumps(choices), self.settings.choices_ttl_seconds)
            else:
                await self.state.delete(key)
        except Exception:
            logger.exception("Could not store the reply menu of %s", conversation_id)

    async def _deliver(self, conversation_id: str, text: str) -> None:
        """Send the text in parts, in order; stop at the first part that fails."""
        parts = sms_text.split_sms(text, self.settings.max_part_chars)
        number = await self.numbers.get(conversation_id)
        if number is None:
            logger.error("No number in memory for conversation %s; reply not sent",
                         conversation_id)
            return
        for index, part in enumerate(parts, start=1):
            result = await self.sender.send(number, part, conversation_id)
            if result.outcome is SendOutcome.SENT:
                continue
            if result.outcome is SendOutcome.UNSUBSCRIBED:
                logger.info("Twilio says conversation %s has opted out (%s); reply not sent",
                            conversation_id, result.detail)
                if await self._opt_out_state(conversation_id) is not True:
                    await self._set_opt_out(conversation_id, True, "twilio")
                return
            logger.error("SMS reply to conversation %s NOT delivered: part %d of %d failed "
                         "(%s); the conversation is recorded", conversation_id, index,
                         len(parts), result.detail)
            return

    # ---- fixed texts (carrier keywords)

    @staticmethod
    def help_text() -> str:
        s = load_settings()
        return (f"{s.practice_name}: automated answers about Achilles tendon rupture. "
                f"Office: {s.office_phone}. In an emergency, call 911. "
                "Reply STOP to opt out. Msg & data rates may apply.")

    @staticmethod
    def opt_out_text(form_cancelled: bool = False) -> str:
        s = load_settings()
        cancelled = (" Your appointment request was cancelled; nothing was sent to the office."
                     if form_cancelled else "")
        return (f"You are unsubscribed from {s.practice_name} texts and will get no more "
                f"messages.{cancelled} Reply START to resubscribe. Office: {s.office_phone}.")

    @staticmethod
    def opt_in_text() -> str:
        s = load_settings()
        return (f"You are subscribed again to {s.practice_name} texts. Ask a question about "
                f"Achilles tendon rupture, or call {s.office_phone}. Reply HELP for help, "
                "STOP to opt out.")
