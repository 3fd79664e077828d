"""The audit log: who viewed, exported or changed what, when, and from where.

The rows form a hash chain: each row stores
``row_hash = sha256(previous row's row_hash + this row's content)`` (the first row
follows GENESIS), and `console_meta` keeps the hash of the last row and the number
of rows. Changing, deleting or inserting a row, or cutting rows off the end,
breaks the chain: `python -m console verify-audit` walks it and names the first row
that does not match. Someone who can write to the database could rebuild the whole
chain; writing down the head hash that verify-audit prints (e.g. daily, somewhere
else) makes that detectable too.

Rows are appended under a lock (a write to the head row in `console_meta` first:
on SQLite that takes the database's write lock, on PostgreSQL the row's lock), so
the chain follows the order of the ids even with several threads or processes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Union

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from console.db import as_utc, audit_log, console_meta, engine_for, utcnow

GENESIS = "0" * 64
HEAD_KEY = "audit_chain_head"
MAX_DETAIL_CHARS = 4000


def _content(at, username, action, sender_id, detail, remote_addr) -> str:
    at = as_utc(at)
    return json.dumps(
        [
            at.isoformat(timespec="microseconds") if at else None,
            username,
            action,
            sender_id,
            detail,
            remote_addr,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def row_hash(prev_hash: str, row) -> str:
    """sha256(prev_hash + the row's content); `row` is a mapping or a result row."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    content = _content(
        get("at"),
        get("username"),
        get("action"),
        get("sender_id"),
        get("detail"),
        get("remote_addr"),
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _lock_head(conn: sa.engine.Connection) -> dict:
    """Locks the chain head (a write first) and returns {"hash", "rows"}."""
    locked = conn.execute(
        console_meta.update()
        .where(console_meta.c.key == HEAD_KEY)
        .values(value=console_meta.c.value)
    ).rowcount
    if not locked:
        if conn.execute(sa.select(audit_log.c.id).limit(1)).first() is not None:
            raise RuntimeError("the audit chain head is missing (open_engine rebuilds it)")
        head = {"hash": GENESIS, "rows": 0}  # an empty log: its first row starts the chain
        conn.execute(console_meta.insert().values(key=HEAD_KEY, value=json.dumps(head)))
        return head
    value = conn.execute(
        sa.select(console_meta.c.value).where(console_meta.c.key == HEAD_KEY)
    ).scalar()
    return json.loads(value)


def _append(conn: sa.engine.Connection, rows: List[dict]) -> None:
    if not rows:
        return
    head = _lock_head(conn)
    prev = head["hash"]
    for row in rows:
        if row.get("detail"):
            row["detail"] = row["detail"][:MAX_DETAIL_CHARS]
        else:
            row["detail"] = None
        row["username"] = (row.get("username") or "?")[:120]
        row["remote_addr"] = (row.get("remote_addr") or None) and row["remote_addr"][:64]
        row["row_hash"] = prev = row_hash(prev, row)
    conn.execute(audit_log.insert(), rows)
    conn.execute(
        console_meta.update()
        .where(console_meta.c.key == HEAD_KEY)
        .values(value=json.dumps({"hash": prev, "rows": head["rows"] + len(rows)}))
    )


def record(
    conn: sa.engine.Connection,
    username: str,
    action: str,
    sender_id: Optional[str] = None,
    detail: Optional[str] = None,
    remote_addr: Optional[str] = None,
) -> None:
    _append(
        conn,
        [
            dict(
                at=utcnow(),
                username=username,
                action=action,
                sender_id=sender_id,
                detail=detail,
                remote_addr=remote_addr,
            )
        ],
    )


def record_many(
    conn: sa.engine.Connection,
    username: str,
    action: str,
    sender_ids: Iterable[str],
    detail: Union[None, str, Sequence[str]] = None,
    remote_addr: Optional[str] = None,
) -> None:
    """One row per conversation, so "who saw conversation X" is a simple query.
    `detail` is one text for every row, or one per sender."""
    now = utcnow()
    senders = list(sender_ids)
    details = list(detail) if isinstance(detail, (list, tuple)) else [detail] * len(senders)
    _append(
        conn,
        [
            dict(
                at=now,
                username=username,
                action=action,
                sender_id=s,
                detail=d,
                remote_addr=remote_addr,
            )
            for s, d in zip(senders, details)
        ],
    )


def open_engine(database_url: str) -> sa.engine.Engine:
    """The console's engine (console.db.engine_for) with the audit chain's head made
    (and a log of an older console chained): every console process opens it so."""
    engine = engine_for(database_url)
    ensure_chain(engine)
    return engine


def ensure_chain(engine: sa.engine.Engine) -> None:
    """Creates the chain head at start. Rows written before the chain existed (an
    older console: no row has a hash yet) are chained once, in id order. Existing row
    hashes are never recomputed: if the head is missing while hashed rows exist (it was
    deleted), it is rebuilt from the last row, with a warning and an audit row, and
    verify-audit still checks every row."""
    import logging

    with engine.begin() as conn:
        if (
            conn.execute(
                sa.select(console_meta.c.key).where(console_meta.c.key == HEAD_KEY)
            ).first()
            is not None
        ):
            return
    rebuilt = False
    try:
        with engine.begin() as conn:
            conn.execute(
                console_meta.insert().values(
                    key=HEAD_KEY, value=json.dumps({"hash": GENESIS, "rows": 0})
                )
            )
            _lock_head(conn)
            last_hashed = conn.execute(
                sa.select(audit_log.c.id, audit_log.c.row_hash)
                .where(audit_log.c.row_hash.isnot(None))
                .order_by(audit_log.c.id.desc())
                .limit(1)
            ).first()
            if last_hashed is not None:
                count = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(audit_log)
                    .where(audit_log.c.id <= last_hashed.id)
                ).scalar()
                prev, rebuilt = last_hashed.row_hash, True
            else:
                prev, count = GENESIS, 0
                for row in conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all():
                    prev = row_hash(prev, row)
                    conn.execute(
                        audit_log.update().where(audit_log.c.id == row.id).values(row_hash=prev)
                    )
                    count += 1
            conn.execute(
                console_meta.update()
                .where(console_meta.c.key == HEAD_KEY)
                .values(value=json.dumps({"hash": prev, "rows": count}))
            )
    except IntegrityError:
        return  # another process created it at the same moment
    if rebuilt:
        logging.getLogger(__name__).warning(
            "the audit chain head was missing from console_meta and was rebuilt from the "
            "last audit row; run `python -m console verify-audit`"
        )
        with engine.begin() as conn:
            record(
                conn,
                "console",
                "audit_head_rebuilt",
                detail="chain head missing at start; rebuilt from the last row",
            )


@dataclass
class ChainReport:
    ok: bool
    rows: int
    head: str
    problem: str = ""
    bad_id: Optional[int] = None


def verify(engine: sa.engine.Engine, batch: int = 5000) -> ChainReport:
    """Walks the chain in id order; the first mismatch is reported."""
    prev, count, last_id = GENESIS, 0, 0
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(console_meta.c.value).where(console_meta.c.key == HEAD_KEY)
        ).scalar()
        head = json.loads(value) if value else None
        while True:
            rows = conn.execute(
                sa.select(audit_log)
                .where(audit_log.c.id > last_id)
                .order_by(audit_log.c.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                expected = row_hash(prev, row)
                if row.row_hash != expected:
                    if row.row_hash is None:
                        problem = f"row {row.id} has no hash (written outside the console?)"
                    else:
                        problem = (
                            f"row {row.id} does not match the chain: it was changed, or a "
                            f"row before it was changed, removed or inserted"
                        )
                    return ChainReport(False, count, prev, problem, row.id)
                prev, count, last_id = row.row_hash, count + 1, row.id
    if head is None:
        return ChainReport(False, count, prev, "the chain head is missing from console_meta")
    if head["hash"] != prev or head["rows"] != count:
        return ChainReport(
            False,
            count,
            prev,
            f"the chain ends after {count} rows at {prev[:16]}…, but the head "
            f"records {head['rows']} rows ending at {head['hash'][:16]}…: rows "
            f"at the end were removed (or the head was changed)",
        )
    return ChainReport(True, count, prev)
