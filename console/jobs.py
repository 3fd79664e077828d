"""The console's background jobs, each run by one node at a time.

- Summary refresh (console/summaries.py): on list/overview requests and at start
  (`Refresher`, at most every 2 s per process), and every CONSOLE_REFRESH_SECONDS
  (default 60, 0 = off) in the background while `serve` runs, so the summaries
  stay warm.
- Retention (console/retention.py): in `serve` at start and every
  RETENTION_INTERVAL_MINUTES (60) with RETENTION_DAYS (90; 0 turns it off), and
  `python -m console retention --days N` (e.g. from cron).

With several console processes (or cron on several machines) on one PostgreSQL
database, every run holds a PostgreSQL advisory lock (stores/sql.py
`single_node`): a refresh waits for another node's refresh to finish (then finds
little left to fold), retention is skipped when another node is running it, and
the scheduled run records its time in `console_meta` so the other nodes skip it
until the interval has passed.
On SQLite (one machine) a lock in the process stands in for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Callable, Mapping, Optional

import sqlalchemy as sa

from console import inbox, queries, summaries, topics
from console.db import console_meta, utcnow
from console.retention import SCHEDULER_USER, RetentionResult, run_retention
from console.settings import explicit_retention_days, refresh_seconds, retention_interval_minutes
from stores.sql import single_node

logger = logging.getLogger(__name__)

REFRESH_JOB = "console_summary_refresh"
RETENTION_JOB = "console_retention"
RETENTION_LAST_RUN_KEY = "retention_last_run"
TOPICS_JOB = "console_topics"
TOPICS_INTERVAL_S = 900.0
REFRESH_FLAG_LOOKBACK = 500  # the unanswered-topics report is recomputed every 15 minutes
REFRESH_WAIT_S = 15.0
REFRESH_MIN_SECONDS = 2.0


def refresh_summaries(
    engine: sa.engine.Engine, rebuild: bool = False, wait_s: float = REFRESH_WAIT_S
) -> Optional[int]:
    """Folds new events; None if another node held the refresh for `wait_s`."""
    with single_node(engine, REFRESH_JOB, wait=True, timeout_s=wait_s) as mine:
        if not mine:
            logger.info(
                "summary refresh skipped: another node has been refreshing for %.0fs", wait_s
            )
            return None
        applied = summaries.rebuild(engine) if rebuild else summaries.refresh(engine)
        inbox.collect(engine, summaries.masker())  # the "Needs action" items (issue 20)
        # turns the page did not answer, without their vectors (the topics job adds
        # them); a short look-back here, the job's own run looks further back
        topics.flag_new_turns(engine, summaries.masker(), lookback=REFRESH_FLAG_LOOKBACK)
        return applied


class Refresher:
    """Folds new events into summaries, at most every `min_seconds` per process.

    When no event id is above the watermark the fold is skipped (one index
    lookup); the full look-back, which also catches ids committed out of order,
    still runs at least every FULL_CHECK_SECONDS."""

    FULL_CHECK_SECONDS = 30.0

    def __init__(self, engine: sa.engine.Engine, min_seconds: float = REFRESH_MIN_SECONDS):
        self.engine, self.min_seconds = engine, min_seconds
        self.lock, self.last, self.last_full = threading.Lock(), 0.0, 0.0

    def __call__(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last < self.min_seconds:
            return
        with self.lock:  # one refresh at a time; the others wait and then skip
            now = time.monotonic()
            if not force and now - self.last < self.min_seconds:
                return
            if (
                force
                or now - self.last_full >= self.FULL_CHECK_SECONDS
                or summaries.has_new_events(self.engine)
            ):
                refresh_summaries(self.engine)  # one node at a time
                self.last_full = now
            self.last = time.monotonic()


def retention_once(
    engine: sa.engine.Engine, days: int, username: str, dry_run: bool = False
) -> Optional[RetentionResult]:
    """Runs retention unless another node is running it (then None)."""
    with single_node(engine, RETENTION_JOB, wait=False) as mine:
        if not mine:
            return None
        return run_retention(engine, days, username, dry_run=dry_run)


def topics_once(engine: sa.engine.Engine, tz: dt.tzinfo) -> Optional[dict]:
    """The unanswered-topics job (console/topics.py) unless another node runs it."""
    with single_node(engine, TOPICS_JOB, wait=False) as mine:
        if not mine:
            return None
        return topics.run(engine, summaries.masker(), tz)


def _get_meta(conn: sa.engine.Connection, key: str) -> Optional[str]:
    return conn.execute(sa.select(console_meta.c.value).where(console_meta.c.key == key)).scalar()


def _set_meta(conn: sa.engine.Connection, key: str, value: str) -> None:
    if (
        conn.execute(
            console_meta.update().where(console_meta.c.key == key).values(value=value)
        ).rowcount
        == 0
    ):
        conn.execute(console_meta.insert().values(key=key, value=value))


def scheduled_retention(
    engine: sa.engine.Engine, days: int, interval_s: float, now: Callable[[], dt.datetime] = utcnow
) -> Optional[RetentionResult]:
    """The scheduled run (RETENTION_DAYS every RETENTION_INTERVAL_MINUTES): at most
    one node at a time, and skipped when any node ran it less than `interval_s` ago
    (the time of the last run is kept in `console_meta`). None when not run here."""
    with single_node(engine, RETENTION_JOB, wait=False) as mine:
        if not mine:
            return None
        started = now()
        with engine.connect() as conn:
            last = _get_meta(conn, RETENTION_LAST_RUN_KEY)
        try:
            last_ts = float(last) if last else None
        except ValueError:
            last_ts = None
        # a little slack, so that one node's schedule is not skipped by its own last run
        if last_ts is not None and started.timestamp() - last_ts < interval_s * 0.9:
            return None
        result = run_retention(engine, days, SCHEDULER_USER)
        with engine.begin() as conn:
            _set_meta(conn, RETENTION_LAST_RUN_KEY, repr(started.timestamp()))
        logger.info(
            "retention (%d days): deleted %d conversations, %d events, %d closed "
            "appointment requests, %d expired form answers",
            days,
            result.conversations,
            result.events,
            result.appointments,
            result.form_answers,
        )
        return result


def daily_retention(
    engine: sa.engine.Engine, days: int, now: Callable[[], dt.datetime] = utcnow
) -> Optional[RetentionResult]:
    """`scheduled_retention` at most once a day across all nodes; None when not due."""
    return scheduled_retention(engine, days, 86400.0, now=now)


class BackgroundJobs(threading.Thread):
    """Runs in `serve`: summary refresh every `refresh_s` (CONSOLE_REFRESH_SECONDS),
    retention at start and every `retention_interval_s` (RETENTION_DAYS,
    RETENTION_INTERVAL_MINUTES; None or 0 days = off), each on one node at a time."""

    def __init__(
        self,
        engine: sa.engine.Engine,
        refresh: Callable[..., None],
        refresh_s: float,
        retention_days: Optional[int],
        retention_interval_s: float = 3600.0,
        tick_s: float = 60.0,
        topics_interval_s: float = TOPICS_INTERVAL_S,
        tz: Optional[dt.tzinfo] = None,
    ) -> None:
        super().__init__(name="console-jobs", daemon=True)
        self.engine, self.refresh = engine, refresh
        self.refresh_s, self.tick_s = refresh_s, tick_s
        self.retention_days, self.retention_interval_s = retention_days, retention_interval_s
        self.topics_interval_s = topics_interval_s
        self.tz = tz or queries.zone("America/Los_Angeles")
        self.stopped = threading.Event()

    @classmethod
    def from_settings(
        cls, engine: sa.engine.Engine, refresh: Callable[..., None], settings
    ) -> BackgroundJobs:
        """What `serve` runs: console/settings.py's RETENTION_DAYS (default 90) and
        RETENTION_INTERVAL_MINUTES (60), CONSOLE_REFRESH_SECONDS (60)."""
        if settings.retention_days < 0:
            raise ValueError("RETENTION_DAYS must be 0 (off) or more")
        if settings.retention_interval_minutes <= 0:
            raise ValueError("RETENTION_INTERVAL_MINUTES must be more than 0")
        return cls(
            engine,
            refresh,
            settings.refresh_seconds,
            settings.retention_days or None,
            settings.retention_interval_minutes * 60,
            tz=queries.zone(settings.timezone),
        )

    @classmethod
    def from_env(
        cls,
        engine: sa.engine.Engine,
        refresh: Callable[..., None],
        env: Optional[Mapping[str, str]] = None,
    ) -> BackgroundJobs:
        """Only what `env` sets: retention when CONSOLE_RETENTION_DAYS (at least 1;
        the cluster branch's name) or RETENTION_DAYS (0: off) is given
        (console/settings.py `explicit_retention_days`)."""
        return cls(
            engine,
            refresh,
            refresh_seconds(env),
            explicit_retention_days(env),
            retention_interval_minutes(env) * 60,
        )

    @property
    def enabled(self) -> bool:
        return self.refresh_s > 0 or bool(self.retention_days)

    def _retention(self) -> None:
        try:
            if (
                scheduled_retention(self.engine, self.retention_days, self.retention_interval_s)
                is None
            ):
                logger.info("retention: not due here (another node runs or ran it)")
        except Exception:  # keep the schedule; the next run tries again
            logger.exception("retention run failed")

    def _topics(self) -> None:
        try:
            topics_once(self.engine, self.tz)
        except Exception:  # keep the schedule; the next run tries again
            logger.exception("unanswered-topics job failed")

    def run(self) -> None:
        last_refresh = time.monotonic()
        last_retention = float("-inf")  # at start, then every interval
        last_topics = float("-inf")
        waits = [self.tick_s] + [
            s for s in (self.refresh_s, self.retention_interval_s, self.topics_interval_s) if s > 0
        ]
        wait_s = min(waits)
        while not self.stopped.is_set():
            now = time.monotonic()
            if self.retention_days and now - last_retention >= self.retention_interval_s:
                last_retention = now
                self._retention()
            try:
                if self.refresh_s > 0 and now - last_refresh >= self.refresh_s:
                    self.refresh(force=True)
                    last_refresh = time.monotonic()
            except Exception:  # keep the thread alive; the next tick tries again
                logger.exception("console summary refresh failed")
            if self.topics_interval_s > 0 and now - last_topics >= self.topics_interval_s:
                last_topics = now
                self._topics()
            self.stopped.wait(wait_s)

    def stop(self) -> None:
        self.stopped.set()
