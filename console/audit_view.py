"""The audit log page (issue 20): filters by user, action and date, readable action
names (console/audit_actions.yml), the conversation's number linked to its
transcript instead of its sender id, and paging with the filters kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Mapping

import sqlalchemy as sa
import yaml

from console import queries
from console.db import audit_log, conversation_numbers

ACTIONS_FILE = Path(__file__).resolve().parent / "audit_actions.yml"
PAGE_SIZE = 50


@cache
def action_names() -> Dict[str, str]:
    raw = yaml.safe_load(ACTIONS_FILE.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in raw.items()}


def action_name(code: str) -> str:
    return action_names().get(code or "", (code or "").replace("_", " "))


@dataclass
class AuditFilters:
    user: str = ""
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        try:
            page = max(1, int(args.get("page") or 1))
        except ValueError:
            page = 1
        return cls(
            user=(args.get("user") or "").strip()[:120],
            action=(args.get("action") or "").strip()[:64],
            date_from=(args.get("date_from") or "").strip()[:10],
            date_to=(args.get("date_to") or "").strip()[:10],
            page=page,
        )

    def as_args(self, **overrides: Any) -> Dict[str, Any]:
        values = {**asdict(self), **overrides}
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}


def _filtered(filters: AuditFilters, tz: dt.tzinfo, columns: List[Any]) -> sa.sql.Select:
    query = sa.select(*columns)
    if filters.user:
        query = query.where(audit_log.c.username == filters.user)
    if filters.action:
        query = query.where(audit_log.c.action == filters.action)
    start, end = queries.parse_date(filters.date_from), queries.parse_date(filters.date_to)
    if start:
        moment = dt.datetime.fromtimestamp(queries.day_start(start, tz), dt.timezone.utc)
        query = query.where(audit_log.c.at >= moment)
    if end:
        moment = dt.datetime.fromtimestamp(
            queries.day_start(end + dt.timedelta(days=1), tz), dt.timezone.utc
        )
        query = query.where(audit_log.c.at < moment)
    return query


def page(conn: sa.engine.Connection, filters: AuditFilters, tz: dt.tzinfo) -> Dict[str, Any]:
    total = conn.execute(_filtered(filters, tz, [sa.func.count()]).select_from(audit_log)).scalar()
    pages = max(1, -(-(total or 0) // PAGE_SIZE))
    current = min(filters.page, pages)
    rows = conn.execute(
        _filtered(filters, tz, [audit_log])
        .order_by(audit_log.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((current - 1) * PAGE_SIZE)
    ).all()
    numbers = conversation_numbers(conn, (r.sender_id for r in rows if r.sender_id))
    users = list(conn.execute(sa.select(audit_log.c.username).distinct()).scalars())
    actions = list(conn.execute(sa.select(audit_log.c.action).distinct()).scalars())
    return dict(
        rows=rows,
        numbers=numbers,
        total=total or 0,
        page=current,
        pages=pages,
        users=sorted(users, key=str.lower),
        actions=sorted(actions, key=lambda a: action_name(a).lower()),
    )
