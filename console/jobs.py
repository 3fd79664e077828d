"""The console's background jobs, each run by one node at a time.

- Summary refresh (console/summaries.py): on list/overview requests and at start
  (Refresher in console/app.py), and every CONSOLE_REFRESH_SECONDS (default 60,
  0 = off) in the background while `serve` runs, so the summaries stay warm.
- Retention (console/retention.py): `python -m console retention --days N` from
  cron, and/or, with CONSOLE_RETENTION_DAYS=N, once a day from `serve`.

With several console processes (or cron on several machines) on one PostgreSQL
database, every run holds a PostgreSQL advisory lock (stores/sql.py
`single_node`): a refresh waits for another node's refresh to finish (then finds
little left to fold), retention is skipped when another node is running it, and
the daily run records its date in `console_meta` so the other nodes skip that day.
On SQLite (one machine) a lock in the process stands in for it.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import Callable, Mapping, Optional

import sqlalchemy as sa

from console import summaries
from console.db import console_meta, utcnow
from console.retention import RetentionResult, run_retention
from stores.sql import single_node

logger = logging.getLogger(__name__)

REFRESH_JOB = "console_summary_refresh"
RETENTION_JOB = "console_retention"
RETENTION_LAST_RUN_KEY = "retention_last_run"
REFRESH_WAIT_S = 15.0
DAILY_JOB_USER = "console:daily-retention"


def refresh_summaries(engine: sa.engine.Engine, rebuild: bool = False,
                      wait_s: float = REFRESH_WAIT_S) -> Optional[int]:
    """Folds new events; None if another node held the refresh for `wait_s`."""
    with single_node(engine, REFRESH_JOB, wait=True, timeout_s=wait_s) as mine:
        if not mine:
            logger.info("summary refresh skipped: another node has been refreshing for "
                        "%.0fs", wait_s)
            return None
        return summaries.rebuild(engine) if rebuild else summaries.refresh(engine)


def retention_once(engine: sa.engine.Engine, days: int, username: str,
                   dry_run: bool = False) -> Optional[RetentionResult]:
    """Runs retention unless another node is running it (then None)."""
    with single_node(engine, RETENTION_JOB, wait=False) as mine:
        if not mine:
            return None
        return run_retention(engine, days, username, dry_run=dry_run)


def _get_meta(conn: sa.engine.Connection, key: str) -> Optional[str]:
    return conn.execute(sa.select(console_meta.c.value)
                        .where(console_meta.c.key == key)).scalar()


def _set_meta(conn: sa.engine.Connection, key: str, value: str) -> None:
    if conn.execute(console_meta.update().where(console_meta.c.key == key)
                    .values(value=value)).rowcount == 0:
        conn.execute(console_meta.insert().values(key=key, value=value))


def daily_retention(engine: sa.engine.Engine, days: int,
                    now: Callable[[], dt.datetime] = utcnow) -> Optional[RetentionResult]:
    """Retention at most once per UTC day across all nodes; None when not due here."""
    with single_node(engine, RETENTION_JOB, wait=False) as mine:
        if not mine:
            return None
        today = now().date().isoformat()
        with engine.connect() as conn:
            if _get_meta(conn, RETENTION_LAST_RUN_KEY) == today:
                return None
        result = run_retention(engine, days, DAILY_JOB_USER)
        with engine.begin() as conn:
            _set_meta(conn, RETENTION_LAST_RUN_KEY, today)
        logger.info("daily retention (%d days): %d conversations, %d events deleted",
                    days, result.conversations, result.events)
        return result


class BackgroundJobs(threading.Thread):
    """Runs in `serve`: summary refresh every `refresh_s`, daily retention if set."""

    def __init__(self, engine: sa.engine.Engine, refresh: Callable[..., None],
                 refresh_s: float, retention_days: Optional[int],
                 tick_s: float = 60.0) -> None:
        super().__init__(name="console-jobs", daemon=True)
        self.engine, self.refresh = engine, refresh
        self.refresh_s, self.retention_days, self.tick_s = refresh_s, retention_days, tick_s
        self.stopped = threading.Event()

    @classmethod
    def from_env(cls, engine: sa.engine.Engine, refresh: Callable[..., None],
                 env: Optional[Mapping[str, str]] = None) -> "BackgroundJobs":
        env = os.environ if env is None else env
        refresh_s = float(env.get("CONSOLE_REFRESH_SECONDS") or 60)
        days = (env.get("CONSOLE_RETENTION_DAYS") or "").strip()
        retention_days = int(days) if days else None
        if retention_days is not None and retention_days < 1:
            raise ValueError("CONSOLE_RETENTION_DAYS must be at least 1")
        return cls(engine, refresh, refresh_s, retention_days)

    @property
    def enabled(self) -> bool:
        return self.refresh_s > 0 or self.retention_days is not None

    def run(self) -> None:
        last_refresh = time.monotonic()
        last_retention_check = float("-inf")
        while not self.stopped.wait(min(self.tick_s, self.refresh_s or self.tick_s)):
            now = time.monotonic()
            try:
                if self.refresh_s > 0 and now - last_refresh >= self.refresh_s:
                    self.refresh(force=True)
                    last_refresh = time.monotonic()
                if self.retention_days and now - last_retention_check >= 3600:
                    last_retention_check = now
                    daily_retention(self.engine, self.retention_days)
            except Exception:  # keep the thread alive; the next tick tries again
                logger.exception("console background job failed")

    def stop(self) -> None:
        self.stopped.set()
