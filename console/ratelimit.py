"""Per-process sliding-window counters for failed logins (per client IP, and all together).

A login attempt takes a slot before the password is checked, so parallel requests
cannot all slip past the limit; a successful login gives its slot back. Kept in
memory: each console process counts for itself (the per-user lock-out is in the
database and holds across processes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Callable, Deque, Dict, Tuple


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float], max_keys: int = 10000
    ) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window_seconds, clock, max_keys
        self._hits: OrderedDict[str, Deque[float]] = OrderedDict()
        self._warned: Dict[str, float] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> Deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:  # oldest keys first
                old, _ = self._hits.popitem(last=False)
                self._warned.pop(old, None)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def acquire(self, key: str) -> Tuple[bool, int, bool]:
        """(allowed, seconds until a slot frees up, first refusal in this window)."""
        if self.limit <= 0:
            return True, 0, False
        now = self.clock()
        with self._lock:
            hits = self._prune(key, now)
            if len(hits) < self.limit:
                hits.append(now)
                return True, 0, False
            retry = max(1, int(hits[0] + self.window - now + 0.999))
            first = self._warned.get(key, float("-inf")) <= now - self.window
            if first:
                self._warned[key] = now
            return False, retry, first

    def release(self, key: str) -> None:
        """Gives back the newest slot of `key` (a login that succeeded)."""
        if self.limit <= 0:
            return
        with self._lock:
            hits = self._hits.get(key)
            if hits:
                hits.pop()
