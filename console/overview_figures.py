"""The overview's comparisons (issue 20): channel and language splits and
escalations by tier, this period against the one before, with the list links the
charts click through to (console/views/overview.py, static/overview.js)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Dict, Optional

import sqlalchemy as sa

from console import queries
from console.db import conversation_summaries as cs

TIER_NAMES = {"911": "911 tier (call 911)", "urgent": "Urgent tier (call the office now)"}
CHANNEL_NAMES = {"twilio": "SMS", "socketio": "Website chat", "rest": "Web (REST)"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def _window(tz: dt.tzinfo, first: dt.date, last: dt.date):
    return queries.day_start(first, tz), queries.day_start(last + dt.timedelta(days=1), tz)


def _period(conn: sa.engine.Connection, tz: dt.tzinfo, first: dt.date, last: dt.date):
    """Counts of one period, from the summaries' columns: the same ones the list's
    filters read, so a count and the list it links to agree."""
    start, end = _window(tz, first, last)
    rows = conn.execute(
        sa.select(cs.c.channel, cs.c.tier, queries.language_expr().label("language"))
        .where(cs.c.started_at >= start)
        .where(cs.c.started_at < end)
    ).all()
    return {
        "conversations": len(rows),
        "channels": Counter(r.channel or "unknown" for r in rows),
        "languages": Counter(r.language for r in rows),
        "tiers": Counter(r.tier for r in rows if r.tier),
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def compare(
    conn: sa.engine.Connection, tz: dt.tzinfo, days: int, today: Optional[dt.date] = None
) -> Dict[str, Any]:
    today = today or dt.datetime.now(tz).date()
    first = today - dt.timedelta(days=days - 1)
    prev_last = first - dt.timedelta(days=1)
    prev_first = prev_last - dt.timedelta(days=days - 1)
    this = _period(conn, tz, first, today)
    last = _period(conn, tz, prev_first, prev_last)
    dates = {"date_from": first.isoformat(), "date_to": today.isoformat()}

    def split(key: str, names: Dict[str, str], filter_name: str):
        keys = sorted(set(this[key]) | set(last[key]), key=lambda k: -this[key].get(k, 0))
        return [
            {
                "key": k,
                "name": names.get(k, k),
                "this": this[key].get(k, 0),
                "this_pct": _pct(this[key].get(k, 0), this["conversations"]),
                "last": last[key].get(k, 0),
                "last_pct": _pct(last[key].get(k, 0), last["conversations"]),
                "link": queries.ListFilters.from_args({**dates, filter_name: k}).as_args(),
            }
            for k in keys
        ]

    tiers = [
        {
            "key": k,
            "name": TIER_NAMES[k],
            "this": this["tiers"].get(k, 0),
            "last": last["tiers"].get(k, 0),
            "link": queries.ListFilters.from_args({**dates, "tier": k}).as_args(),
        }
        for k in ("911", "urgent")
    ]
    return {
        "this_period": f"{first.isoformat()} – {today.isoformat()}",
        "last_period": f"{prev_first.isoformat()} – {prev_last.isoformat()}",
        "conversations": {"this": this["conversations"], "last": last["conversations"]},
        "channels": split("channels", CHANNEL_NAMES, "channel"),
        "languages": split("languages", LANGUAGE_NAMES, "language"),
        "tiers": tiers,
        "last_first": prev_first,
        "last_last": prev_last,
    }
