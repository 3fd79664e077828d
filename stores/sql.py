"""SQL helpers shared by the action server, the SMS channel and the console.

- `lock_schema`: several replicas start at once and each makes sure the schema
  is current; on PostgreSQL two concurrent `CREATE TABLE`s of the same name fail
  (duplicate pg_type row), so every schema change (the migrations, stores/schema.py)
  holds one transaction-scoped advisory lock.
- `single_node`: a job that must run on one node at a time (console summary
  refresh, retention) holds a PostgreSQL session advisory lock while it runs;
  other nodes skip it (or wait, if asked). On SQLite (one machine, `make run`)
  a lock inside this process stands in for it.

SQLAlchemy Core only; no Rasa import.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from typing import Dict, Iterator

import sqlalchemy as sa

logger = logging.getLogger(__name__)

_local_locks: Dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def is_postgresql(engine: sa.engine.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, derived from the job name."""
    digest = hashlib.sha256(f"achilles:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The name keeps the key that `create_tables` (create_all) used before the migrations
# existed, so a process still running older code and one running the migrations wait
# for each other during a rolling upgrade.
SCHEMA_LOCK = "create_tables"


def lock_schema(conn: sa.engine.Connection) -> None:
    """PostgreSQL: waits for, then holds until the transaction ends, the lock every
    schema change of the project's tables takes. Other databases: nothing."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(SCHEMA_LOCK)}
        )


def _local_lock(engine: sa.engine.Engine, name: str) -> threading.Lock:
    key = f"{engine.url!r}:{name}"
    with _local_guard:
        return _local_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def single_node(
    engine: sa.engine.Engine, name: str, wait: bool = False, timeout_s: float = 30.0
) -> Iterator[bool]:
    """Yields True if this process now runs job `name` and no other node does.

    wait=False: yields False at once when another node holds the job.
    wait=True: waits up to `timeout_s` for it (then yields False).
    The lock is released when the block ends, or when the connection dies.
    """
    if not is_postgresql(engine):
        lock = _local_lock(engine, name)
        acquired = lock.acquire(timeout=timeout_s) if wait else lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
        return

    key = advisory_key(name)
    conn = engine.connect()
    acquired = False
    try:
        deadline = time.monotonic() + (timeout_s if wait else 0.0)
        while True:
            with conn.begin():
                acquired = bool(
                    conn.execute(
                        sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                    ).scalar()
                )
            if acquired or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        yield acquired
    finally:
        try:
            if acquired:
                with conn.begin():
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        except Exception:  # the session is gone, and with it the lock
            logger.warning(
                "could not release advisory lock %s; dropping the connection", name, exc_info=True
            )
            conn.invalidate()
        finally:
            conn.close()
