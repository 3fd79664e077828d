"""Previous / next conversation from a transcript, in the order of the list it was
opened from (issue 20): the list's filters travel in the transcript's `back` link
(never its search words: console/views/conversations.py),
and the neighbours are the rows just before and after it in that list (newest
first, like console/queries.py `list_page`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

import sqlalchemy as sa

from console import queries
from console.db import conversation_summaries as cs


def filters_from_back(back: str) -> queries.ListFilters:
    """The list's filters from its URL. A `q` there is ignored, as the list itself
    ignores one in a query string (search words come only in a POST body, issue 21):
    previous / next then walk the list the `back` link shows."""
    args = dict(parse_qsl(urlsplit(back or "").query))
    args.pop("q", None)
    return queries.ListFilters.from_args(args)


def neighbours(
    conn: sa.engine.Connection, summary: Any, back: str, tz: dt.tzinfo
) -> Tuple[Optional[int], Optional[int]]:
    """(previous = newer, next = older) summary ids within the list's filters."""
    filters = filters_from_back(back)
    key = (summary.started_at, summary.id)
    newer = (
        queries.filtered_select(filters, tz, [cs.c.id])
        .where(
            sa.or_(cs.c.started_at > key[0], sa.and_(cs.c.started_at == key[0], cs.c.id > key[1]))
        )
        .order_by(cs.c.started_at.asc(), cs.c.id.asc())
        .limit(1)
    )
    older = (
        queries.filtered_select(filters, tz, [cs.c.id])
        .where(
            sa.or_(cs.c.started_at < key[0], sa.and_(cs.c.started_at == key[0], cs.c.id < key[1]))
        )
        .order_by(cs.c.started_at.desc(), cs.c.id.desc())
        .limit(1)
    )
    return conn.execute(newer).scalar(), conn.execute(older).scalar()
