"""Per-sender rate limiting for the public webhooks (`limits` library).

A flood from one sender gets a polite refusal and does not slow other senders.
Limits are per conversation id; the window is moving (no burst at a boundary).
Storage is in-process by default; for several replicas set
RATE_LIMIT_STORAGE_URI=async+redis://host:6379 (needs the `coredis` package).
"""
from __future__ import annotations

import os
from functools import lru_cache

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

DEFAULT_LIMIT = "20/minute"  # a patient types far slower; buttons stay well under it
RATE_LIMITED_TEXT = ("You're sending messages faster than I can answer. Please wait a "
                     "minute and try again, or call the office at {phone}.")


class SenderRateLimiter:
    def __init__(self, limit: str, storage_uri: str) -> None:
        self.item = parse(limit)
        # the limiter only keeps a weak reference to its storage: we hold it
        self.storage = storage_from_string(storage_uri)
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def allow(self, channel: str, sender_id: str) -> bool:
        return await self.limiter.hit(self.item, channel, sender_id)


@lru_cache(maxsize=1)
def sender_rate_limiter() -> SenderRateLimiter:
    return SenderRateLimiter(
        os.environ.get("RATE_LIMIT_PER_SENDER") or DEFAULT_LIMIT,
        os.environ.get("RATE_LIMIT_STORAGE_URI") or "async+memory://",
    )
