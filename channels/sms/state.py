"""Short-lived state of the SMS channel with expiry: MessageSid marks (Twilio
retries are dropped) and the numbered reply menus.

`InMemoryStateStore` serves one replica; with several, SMS_STATE_STORE=redis
gives `RedisStateStore`, so a retry or a "1" reaching another replica finds the
same state. Raw phone numbers never go to the shared store.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Optional, Tuple

from channels.settings import RedisSettings, SmsSettings


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

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items: OrderedDict[str, Tuple[float, str]] = OrderedDict()
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
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> RedisStateStore:
        import redis.asyncio as redis  # installed with rasa; only needed here

        where = RedisSettings.load(env)
        client = redis.Redis(
            host=where.host,
            port=where.port,
            db=where.db,
            password=where.password,
            decode_responses=True,
            # Redis down or hung: fail fast; every caller copes
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
        )
        return cls(client)

    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._client.set(self._prefix + key, value, nx=True, px=self._ms(ttl)))

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
