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

Limits use the `limits` library with a moving window (no burst at a boundary).
Storage is in-process by default; for several replicas set
RATE_LIMIT_STORAGE_URI=async+redis://host:6379 (needs the `coredis` package).
"""
from __future__ import annotations

import contextlib
import ipaddress
import os
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Optional, Union

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

DEFAULT_LIMIT = "20/minute"  # a patient types far slower; buttons stay well under it
DEFAULT_IP_LIMIT = "120/minute"  # a few patients behind one address (clinic Wi-Fi, carrier NAT)
DEFAULT_MAX_CONCURRENT_TURNS = 100  # ~15 turns/s on 2 cores: about 7 s of queue
DEFAULT_CONNECTIONS_PER_IP = 20
RATE_LIMITED_TEXT = ("You're sending messages faster than I can answer. Please wait a "
                     "minute and try again, or call the office at {phone}.")
BUSY_TEXT = ("Sorry, I'm answering many people right now and can't take your message. "
             "Please try again in a few minutes, or call the office at {phone}. "
             "In an emergency, call 911.")
BUSY_RETRY_AFTER_SECONDS = 30


def _int_setting(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {raw!r}")
    return value


class SenderRateLimiter:
    def __init__(self, limit: str, storage_uri: str, ip_limit: str = DEFAULT_IP_LIMIT) -> None:
        self.item = parse(limit)
        self.ip_item = parse(ip_limit)
        # the limiter only keeps a weak reference to its storage: we hold it
        self.storage = storage_from_string(storage_uri)
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def allow(self, channel: str, sender_id: str) -> bool:
        return await self.limiter.hit(self.item, channel, sender_id)

    async def allow_ip(self, address: str) -> bool:
        """One turn from `address` (any public channel but SMS)."""
        return await self.limiter.hit(self.ip_item, "ip", address)


@lru_cache(maxsize=1)
def sender_rate_limiter() -> SenderRateLimiter:
    return SenderRateLimiter(
        os.environ.get("RATE_LIMIT_PER_SENDER") or DEFAULT_LIMIT,
        os.environ.get("RATE_LIMIT_STORAGE_URI") or "async+memory://",
        os.environ.get("RATE_LIMIT_PER_IP") or DEFAULT_IP_LIMIT,
    )


# ------------------------------------------------------------ client address

def trusted_proxy_count(env: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if env is None else env
    return _int_setting(env, "TRUSTED_PROXY_COUNT", 0, 0)


def _address(value: str) -> Optional[str]:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: Union[None, str, Iterable[str]],
                   trusted_proxies: int) -> str:
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
    return client_address(peer, request.headers.getall("x-forwarded-for", []),
                          trusted_proxy_count())


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
    return TurnSlots(_int_setting(os.environ, "MAX_CONCURRENT_TURNS",
                                  DEFAULT_MAX_CONCURRENT_TURNS, 1))


def connections_per_ip(env: Optional[Mapping[str, str]] = None) -> int:
    env = os.environ if env is None else env
    return _int_setting(env, "WIDGET_CONNECTIONS_PER_IP", DEFAULT_CONNECTIONS_PER_IP, 1)
