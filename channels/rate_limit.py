"""Per-sender rate limiting for the public webhooks (`limits` library).

A flood from one sender gets a polite refusal and does not slow other senders.
Limits are per conversation id; the window is moving (no burst at a boundary).

Storage (RATE_LIMIT_STORAGE_URI):
- unset / `async+memory://`: in this process (one replica, `make run`);
- `redis://host:port/db` (or `async+redis://...`): shared by every replica, so
  a sender gets RATE_LIMIT_PER_SENDER in total, not per replica. It runs the
  moving-window Lua script that ships with `limits` (the same algorithm as its
  in-memory storage) through the `redis` package's asyncio client, which Rasa
  already installs for its lock store (limits 2.4's own async Redis storage
  would need another client library, coredis).

If the storage fails (Redis down), the message is let through and the error
logged: the turn itself then fails on the same Redis (lock store) and the
patient gets the channel's technical-trouble reply with the office phone,
rather than a wrong "you're sending too fast".
"""
from __future__ import annotations

import logging
import os
import time
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from limits.util import get_package_data

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = "20/minute"  # a patient types far slower; buttons stay well under it
RATE_LIMITED_TEXT = ("You're sending messages faster than I can answer. Please wait a "
                     "minute and try again, or call the office at {phone}.")
REDIS_SCHEMES = ("redis", "rediss")
KEY_PREFIX = "achilles:ratelimit:"
REDIS_TIMEOUT_S = 2.0


def redis_url(storage_uri: str) -> str:
    """`async+redis://h:p/0` -> `redis://h:p/0`; '' if the URI is not Redis."""
    uri = storage_uri.strip()
    if uri.lower().startswith("async+"):
        uri = uri[len("async+"):]
    return uri if uri.split("://", 1)[0].lower() in REDIS_SCHEMES else ""


class RedisMovingWindow:
    """`limits`' moving window (its acquire_moving_window.lua) on Redis, asyncio."""

    SCRIPT = get_package_data("resources/redis/lua_scripts/acquire_moving_window.lua")

    def __init__(self, url: str, client: Any = None) -> None:
        if client is None:
            import redis.asyncio as redis  # installed with rasa (its Redis lock store)

            client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                          socket_connect_timeout=REDIS_TIMEOUT_S)
        self.client = client
        self.script = client.register_script(self.SCRIPT)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        key = KEY_PREFIX + item.key_for(*identifiers)
        return bool(await self.script(keys=[key], args=[time.time(), item.amount,
                                                        item.get_expiry(), 1]))


class SenderRateLimiter:
    def __init__(self, limit: str, storage_uri: str) -> None:
        self.item = parse(limit)
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
            logger.error("Rate-limit storage failed (%s: %s); message from a %s conversation "
                         "let through", type(error).__name__, error, channel)
            return True


@lru_cache(maxsize=1)
def sender_rate_limiter() -> SenderRateLimiter:
    return SenderRateLimiter(
        os.environ.get("RATE_LIMIT_PER_SENDER") or DEFAULT_LIMIT,
        os.environ.get("RATE_LIMIT_STORAGE_URI") or "async+memory://",
    )
