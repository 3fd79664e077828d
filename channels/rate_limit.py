"""Limits on the public channels: per sender, per client address, and in flight.

- Per sender (RATE_LIMIT_PER_SENDER, default 20/minute): a flood from one
  conversation gets a polite refusal and does not slow other senders.
- Per client address (RATE_LIMIT_PER_IP, default 120/minute, REST and the
  widget together): conversation ids are chosen by the client, so rotating
  them must not get around the limit. The address is the TCP peer; only with
  TRUSTED_PROXY_COUNT=N (our own reverse proxies in front of Rasa, default 0)
  is X-Forwarded-For read, and then only the entry the outermost of those N
  proxies wrote: anything a client writes into the header itself is ignored.
  SMS is not limited per address (every webhook comes from Twilio, signed).
- In flight (MAX_CONCURRENT_TURNS, default 100 per Rasa process): turns being
  answered at once on every public channel (REST, widget, SMS); one more gets
  a polite "busy, call the office" (REST: 503) instead of a long queue.
- Widget connections per client address (WIDGET_CONNECTIONS_PER_IP, default
  20; channels/socketio.py).
The variables and their defaults are read through channels/settings.py.

Limits use the `limits` library with a moving window (no burst at a boundary).
The per-sender and per-address limits share one storage (RATE_LIMIT_STORAGE_URI):
- unset / `async+memory://`: in this process (one replica, `make run`);
- `redis://host:port/db` (or `async+redis://...`): shared by every replica, so
  a sender gets RATE_LIMIT_PER_SENDER (and an address RATE_LIMIT_PER_IP) in
  total, not per replica. It runs the moving-window Lua script that ships with
  `limits` (the same algorithm as its in-memory storage) through the `redis`
  package's asyncio client, which Rasa already installs for its lock store
  (limits 2.4's own async Redis storage would need another client library,
  coredis).
The in-flight cap and the widget connection cap count in each Rasa process.

If the storage fails (Redis down), the message is let through and the error
logged: the turn itself then fails on the same Redis (lock store) and the
patient gets the channel's technical-trouble reply with the office phone,
rather than a wrong "you're sending too fast".
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from functools import lru_cache
from typing import Any, Iterable, Iterator, Optional, Union

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from limits.util import get_package_data

from channels import settings

logger = logging.getLogger(__name__)

RATE_LIMITED_TEXT = (
    "You're sending messages faster than I can answer. Please wait a "
    "minute and try again, or call the office at {phone}."
)
BUSY_TEXT = (
    "Sorry, I'm answering many people right now and can't take your message. "
    "Please try again in a few minutes, or call the office at {phone}. "
    "In an emergency, call 911."
)
BUSY_RETRY_AFTER_SECONDS = 30


REDIS_SCHEMES = ("redis", "rediss")
KEY_PREFIX = "achilles:ratelimit:"
REDIS_TIMEOUT_S = 2.0


def redis_url(storage_uri: str) -> str:
    """`async+redis://h:p/0` -> `redis://h:p/0`; '' if the URI is not Redis."""
    uri = storage_uri.strip()
    if uri.lower().startswith("async+"):
        uri = uri[len("async+") :]
    return uri if uri.split("://", 1)[0].lower() in REDIS_SCHEMES else ""


class RedisMovingWindow:
    """`limits`' moving window (its acquire_moving_window.lua) on Redis, asyncio."""

    SCRIPT = get_package_data("resources/redis/lua_scripts/acquire_moving_window.lua")

    def __init__(self, url: str, client: Any = None) -> None:
        if client is None:
            import redis.asyncio as redis  # installed with rasa (its Redis lock store)

            client = redis.Redis.from_url(
                url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
        self.client = client
        self.script = client.register_script(self.SCRIPT)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        key = KEY_PREFIX + item.key_for(*identifiers)
        return bool(
            await self.script(keys=[key], args=[time.time(), item.amount, item.get_expiry(), 1])
        )


class SenderRateLimiter:
    def __init__(
        self, limit: str, storage_uri: str, ip_limit: str = settings.DEFAULT_RATE_LIMIT_PER_IP
    ) -> None:
        self.item = parse(limit)
        self.ip_item = parse(ip_limit)
        url = redis_url(storage_uri)
        if url:
            self.backend: Any = RedisMovingWindow(url)
            self.shared = True
        else:
            # the limiter only keeps a weak reference to its storage: we hold it
            self.storage = storage_from_string(storage_uri)
            self.backend = MovingWindowRateLimiter(self.storage)
            self.shared = False

    async def allow(self, channel: str, sender_id: str) -> bool:
        try:
            return await self.backend.hit(self.item, channel, sender_id)
        except Exception as error:  # storage down: let the turn run (module docstring)
            logger.error(
                "Rate-limit storage failed (%s: %s); message from a %s conversation let through",
                type(error).__name__,
                error,
                channel,
            )
            return True

    async def allow_ip(self, address: str) -> bool:
        """One turn from `address` (any public channel but SMS); same storage and
        same fail-open rule as `allow`."""
        try:
            return await self.backend.hit(self.ip_item, "ip", address)
        except Exception as error:  # storage down: let the turn run (module docstring)
            logger.error(
                "Rate-limit storage failed (%s: %s); message from a client address let through",
                type(error).__name__,
                error,
            )
            return True


@lru_cache(maxsize=1)
def sender_rate_limiter() -> SenderRateLimiter:
    return SenderRateLimiter(
        settings.rate_limit_per_sender(),
        settings.rate_limit_storage_uri(),
        settings.rate_limit_per_ip(),
    )


# ------------------------------------------------------------ client address


def _address(value: str) -> Optional[str]:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(
    peer: str, forwarded_for: Union[None, str, Iterable[str]], trusted_proxies: int
) -> str:
    """The patient's address as far as we can trust it.

    With no trusted proxy, the TCP peer. With N, each of our proxies appended
    the address it received the request from to X-Forwarded-For, so the N-th
    entry from the right is what the outermost one saw; entries further left
    came from the client and prove nothing. A header shorter than N, or an
    entry that is not an address, falls back to the peer (i.e. our proxy).
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return peer
    headers = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    entries = [part.strip() for header in headers for part in header.split(",") if part.strip()]
    if len(entries) < trusted_proxies:
        return peer
    return _address(entries[-trusted_proxies]) or peer


def request_client_address(request) -> str:
    """client_address() of a Sanic request (TRUSTED_PROXY_COUNT from the environment)."""
    peer = request.ip or "unknown"
    return client_address(
        peer, request.headers.getall("x-forwarded-for", []), settings.trusted_proxy_count()
    )


# ------------------------------------------------------------ turns in flight


class TurnSlots:
    """Counts turns being answered in this process (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """`with slots.slot() as admitted:` admitted is False when all slots are taken."""
        if self.in_flight >= self.limit:
            yield False
            return
        self.in_flight += 1
        try:
            yield True
        finally:
            self.in_flight -= 1


@lru_cache(maxsize=1)
def turn_slots() -> TurnSlots:
    return TurnSlots(settings.max_concurrent_turns())
