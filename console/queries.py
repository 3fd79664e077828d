"""Conversation list filters and overview numbers, all read from the summaries."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Mapping, Optional, Tuple

import sqlalchemy as sa

from console.db import appointment_requests
from console.db import conversation_reviews as cr
from console.db import conversation_summaries as cs
from console.summaries import DEFAULT_LANGUAGE, TIERS

PAGE_SIZE = 50
KNOWN_CHANNELS = ("rest", "socketio", "twilio")
FLAG_NAMES = ("fallback", "emergency", "handoff", "appointment")


def zone(name: str) -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # no tz database on the machine: UTC
        return dt.timezone.utc


def parse_date(value: Optional[str]) -> Optional[dt.date]:
    try:
        return dt.date.fromisoformat((value or "").strip()) if value else None
    except ValueError:
        return None


def day_start(day: dt.date, tz: dt.tzinfo) -> float:
    return dt.datetime.combine(day, dt.time.min).replace(tzinfo=tz).timestamp()


MAX_PAGE = 100_000  # a larger ?page= is 404, not an OverflowError


@dataclass
class ListFilters:
    date_from: str = ""
    date_to: str = ""
    channel: str = ""
    intent: str = ""
    fallback: bool = False
    emergency: bool = False
    handoff: bool = False
    appointment: bool = False
    tier: str = ""  # "", "911", "urgent": the conversation's most severe escalation
    language: str = ""  # "", or a language code ("en" also matches never set)
    reviewed: str = ""  # "", "yes", "no"
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListFilters:
        def flag(name: str) -> bool:
            return (args.get(name) or "") in {"1", "on", "true", "yes"}

        raw_page = str(args.get("page") or "1").strip()
        if raw_page.isdigit() and len(raw_page) <= 7:
            page = max(1, int(raw_page))
        elif raw_page.isdigit():
            page = MAX_PAGE + 1  # huge: the view answers 404 (SQLite offsets overflow)
        else:
            page = 1
        reviewed = args.get("reviewed") or ""
        tier = (args.get("tier") or "").strip()
        language = (args.get("language") or "").strip().lower()
        return cls(
            date_from=(args.get("date_from") or "").strip()[:10],
            date_to=(args.get("date_to") or "").strip()[:10],
            channel=(args.get("channel") or "").strip()[:64],
            intent=(args.get("intent") or "").strip()[:255],
            fallback=flag("fallback"),
            emergency=flag("emergency"),
            handoff=flag("handoff"),
            appointment=flag("appointment"),
            tier=tier if tier in TIERS else "",
            language=language[:8] if language.replace("-", "").isalnum() else "",
            reviewed=reviewed if reviewed in {"yes", "no"} else "",
            q=(args.get("q") or "").strip()[:200],
            page=page,
        )

    def as_args(self, **overrides: Any) -> Dict[str, Any]:
        """Query-string arguments reproducing these filters (for links)."""
        out: Dict[str, Any] = {}
        for f in fields(self):
            value = overrides.get(f.name, getattr(self, f.name))
            if isinstance(value, bool):
                if value:
                    out[f.name] = "1"
            elif value not in ("", None) and not (f.name == "page" and value == 1):
                out[f.name] = value
        return out

    def describe(self) -> str:
        return json.dumps(self.as_args(page=1), sort_keys=True)


def appointment_expr() -> sa.sql.ColumnElement:
    requested = (
        sa.select(sa.literal(1))
        .where(appointment_requests.c.conversation_id == cs.c.sender_id)
        .exists()
    )
    return sa.or_(cs.c.appointment.is_(True), requested)


def language_expr() -> sa.sql.ColumnElement:
    """The conversation's language ("en" when the language slot was never set)."""
    return sa.func.coalesce(cs.c.language, DEFAULT_LANGUAGE)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered_select(filters: ListFilters, tz: dt.tzinfo, columns: List[Any]) -> sa.sql.Select:
    reviewed = sa.func.coalesce(cr.c.reviewed, sa.false())
    query = sa.select(*columns).select_from(cs.outerjoin(cr, cr.c.sender_id == cs.c.sender_id))
    start, end = parse_date(filters.date_from), parse_date(filters.date_to)
    if start:
        query = query.where(cs.c.started_at >= day_start(start, tz))
    if end:
        query = query.where(cs.c.started_at < day_start(end + dt.timedelta(days=1), tz))
    if filters.channel:
        query = query.where(cs.c.channel == filters.channel)
    if filters.intent:
        query = query.where(cs.c.intents.like(f"%,{_like_escape(filters.intent)},%", escape="\\"))
    if filters.fallback:
        query = query.where(cs.c.fell_back.is_(True))
    if filters.emergency:
        query = query.where(cs.c.emergency.is_(True))
    if filters.handoff:
        query = query.where(cs.c.handoff.is_(True))
    if filters.appointment:
        query = query.where(appointment_expr())
    if filters.tier:
        query = query.where(cs.c.tier == filters.tier)
    if filters.language:
        query = query.where(language_expr() == filters.language)
    if filters.reviewed == "yes":
        query = query.where(reviewed.is_(True))
    elif filters.reviewed == "no":
        query = query.where(reviewed.is_(False))
    if filters.q:
        for word in filters.q.lower().split()[:8]:
            query = query.where(cs.c.search_text.like(f"%{_like_escape(word)}%", escape="\\"))
    return query


def list_columns() -> List[Any]:
    return [
        cs.c.id,
        cs.c.sender_id,
        cs.c.started_at,
        cs.c.last_at,
        cs.c.channel,
        cs.c.turns,
        cs.c.first_question,
        cs.c.fell_back,
        cs.c.emergency,
        cs.c.handoff,
        appointment_expr().label("appointment"),
        cs.c.tier,
        language_expr().label("language"),
        sa.func.coalesce(cr.c.reviewed, sa.false()).label("reviewed"),
        cr.c.tags,
    ]


def list_page(
    conn: sa.engine.Connection, filters: ListFilters, tz: dt.tzinfo
) -> Tuple[List[Any], int]:
    total = conn.execute(filtered_select(filters, tz, [sa.func.count()])).scalar() or 0
    query = (
        filtered_select(filters, tz, list_columns())
        .order_by(cs.c.started_at.desc(), cs.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    )
    return conn.execute(query).all(), int(total)


def count_rows(conn: sa.engine.Connection, filters: ListFilters, tz: dt.tzinfo) -> int:
    return int(conn.execute(filtered_select(filters, tz, [sa.func.count()])).scalar() or 0)


def all_rows(conn: sa.engine.Connection, filters: ListFilters, tz: dt.tzinfo) -> List[Any]:
    query = filtered_select(filters, tz, list_columns()).order_by(
        cs.c.started_at.desc(), cs.c.id.desc()
    )
    return conn.execute(query).all()


def channels(conn: sa.engine.Connection) -> List[str]:
    found = {c for (c,) in conn.execute(sa.select(cs.c.channel).distinct()) if c}
    return sorted(found | set(KNOWN_CHANNELS))


def languages(conn: sa.engine.Connection) -> List[str]:
    """The languages conversations were held in (for the list's filter)."""
    found = {c for (c,) in conn.execute(sa.select(language_expr()).distinct()) if c}
    return sorted(found | {DEFAULT_LANGUAGE})


def overview(
    conn: sa.engine.Connection, tz: dt.tzinfo, days: int, today: Optional[dt.date] = None
) -> Dict[str, Any]:
    """Per-day series and top intents for the last `days` days (office time zone)."""
    today = today or dt.datetime.now(tz).date()
    first = today - dt.timedelta(days=days - 1)
    rows = conn.execute(
        sa.select(
            cs.c.started_at,
            cs.c.fell_back,
            cs.c.handoff,
            cs.c.emergency,
            cs.c.intent_counts,
            appointment_expr().label("appointment"),
        )
        .where(cs.c.started_at >= day_start(first, tz))
        .where(cs.c.started_at < day_start(today + dt.timedelta(days=1), tz))
    ).all()
    per_day: Dict[str, Counter] = defaultdict(Counter)
    intents: Counter = Counter()
    for row in rows:
        day = dt.datetime.fromtimestamp(row.started_at, tz).date().isoformat()
        c = per_day[day]
        c["conversations"] += 1
        c["fallback"] += bool(row.fell_back)
        c["handoff"] += bool(row.handoff)
        c["emergency"] += bool(row.emergency)
        c["appointment"] += bool(row.appointment)
        intents.update(json.loads(row.intent_counts or "{}"))
    labels = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]

    def rate(day: str, key: str) -> float:
        n = per_day[day]["conversations"]
        return round(100.0 * per_day[day][key] / n, 1) if n else 0.0

    totals = Counter()
    for c in per_day.values():
        totals.update(c)
    n = totals["conversations"]
    return {
        "days": days,
        "labels": labels,
        "conversations": [per_day[d]["conversations"] for d in labels],
        "fallback_rate": [rate(d, "fallback") for d in labels],
        "handoff_rate": [rate(d, "handoff") for d in labels],
        "emergency": [per_day[d]["emergency"] for d in labels],
        "top_intents": intents.most_common(12),
        "totals": {
            "conversations": n,
            "fallback": totals["fallback"],
            "handoff": totals["handoff"],
            "emergency": totals["emergency"],
            "appointment": totals["appointment"],
            "fallback_rate": round(100.0 * totals["fallback"] / n, 1) if n else 0.0,
            "handoff_rate": round(100.0 * totals["handoff"] / n, 1) if n else 0.0,
        },
    }
