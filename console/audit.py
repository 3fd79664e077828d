"""The audit log: who viewed, exported or changed what, and when."""
from __future__ import annotations

from typing import Iterable, Optional

import sqlalchemy as sa

from console.db import audit_log, utcnow


def record(conn: sa.engine.Connection, username: str, action: str,
           sender_id: Optional[str] = None, detail: Optional[str] = None,
           remote_addr: Optional[str] = None) -> None:
    conn.execute(audit_log.insert().values(
        at=utcnow(), username=username, action=action, sender_id=sender_id,
        detail=(detail or None) and detail[:4000], remote_addr=remote_addr))


def record_many(conn: sa.engine.Connection, username: str, action: str,
                sender_ids: Iterable[str], detail: Optional[str] = None,
                remote_addr: Optional[str] = None) -> None:
    """One row per conversation, so "who saw conversation X" is a simple query."""
    now = utcnow()
    rows = [dict(at=now, username=username, action=action, sender_id=s,
                 detail=(detail or None) and detail[:4000], remote_addr=remote_addr)
            for s in sender_ids]
    if rows:
        conn.execute(audit_log.insert(), rows)
