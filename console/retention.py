"""Deletes conversations whose last event is older than N days, with their console rows.

Deleted: the conversation's `events`, its summary, review, and intent corrections
(export corrections first if the team still needs them). Appointment requests are
deleted when older than the cut-off and closed; open ones are kept and reported.
The audit log is kept (it records who saw what; it holds no message text).
Appointment-form answers left in `pending_form_answers` (stores/form_answers.py)
are deleted once older than FORM_ANSWERS_TTL_MINUTES, and with their conversation.

`python -m console serve` (so `make run`) runs this job itself: at start, then
every RETENTION_INTERVAL_MINUTES (60), with RETENTION_DAYS (90; 0 turns it off),
on one node at a time when several consoles share a database (console/jobs.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import List

import sqlalchemy as sa

from console import audit
from console.db import (
    access_log,
    appointment_requests,
    conversation_reviews,
    conversation_summaries,
    events,
    events_table_exists,
    intent_corrections,
    utcnow,
)
from console.tables import flagged_turns, inbox_items
from stores import form_answers, phone_vault
from stores.form_answers import pending_form_answers

logger = logging.getLogger(__name__)
SCHEDULER_USER = "retention-job"

CHUNK = 500


@dataclass
class RetentionResult:
    conversations: int = 0
    events: int = 0
    console_rows: int = 0
    appointments: int = 0
    open_appointments_kept: int = 0
    form_answers: int = 0


def forget_worklists(conn: sa.engine.Connection, senders: List[str]) -> int:
    """Issue 20's rows of expired conversations: flagged turns, closed inbox items,
    and the SMS call-back number unless an inbox item is still open (like open
    appointment requests, those are kept)."""
    count = conn.execute(
        flagged_turns.delete().where(flagged_turns.c.sender_id.in_(senders))
    ).rowcount
    count += conn.execute(
        inbox_items.delete()
        .where(inbox_items.c.sender_id.in_(senders))
        .where(inbox_items.c.status == "done")
    ).rowcount
    still_open = set(
        conn.execute(
            sa.select(inbox_items.c.sender_id).where(inbox_items.c.sender_id.in_(senders))
        ).scalars()
    )
    return count + phone_vault.forget(conn, [s for s in senders if s not in still_open])


def old_senders(conn: sa.engine.Connection, cutoff_ts: float) -> List[str]:
    last = sa.func.max(events.c.timestamp)
    query = sa.select(events.c.sender_id).group_by(events.c.sender_id).having(last < cutoff_ts)
    return [r[0] for r in conn.execute(query)]


def run_retention(
    engine: sa.engine.Engine, days: int, username: str, dry_run: bool = False
) -> RetentionResult:
    if days < 1:
        raise ValueError("--days must be at least 1")
    cutoff = utcnow() - dt.timedelta(days=days)
    result = RetentionResult()
    has_events = events_table_exists(engine)
    with engine.begin() as conn:
        senders = old_senders(conn, cutoff.timestamp()) if has_events else []
        # Summaries whose events are gone already (deleted elsewhere) go too.
        orphans = [
            r[0]
            for r in conn.execute(
                sa.select(conversation_summaries.c.sender_id).where(
                    conversation_summaries.c.last_at < cutoff.timestamp()
                )
            )
        ]
        targets = list(dict.fromkeys(senders + orphans))
        result.conversations = len(targets)
        old_appts = sa.and_(appointment_requests.c.created_at < cutoff)
        result.open_appointments_kept = (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(appointment_requests)
                .where(old_appts)
                .where(appointment_requests.c.status != "closed")
            ).scalar()
            or 0
        )
        if dry_run:
            if has_events:
                for i in range(0, len(targets), CHUNK):
                    result.events += (
                        conn.execute(
                            sa.select(sa.func.count())
                            .select_from(events)
                            .where(events.c.sender_id.in_(targets[i : i + CHUNK]))
                        ).scalar()
                        or 0
                    )
            result.appointments = (
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(appointment_requests)
                    .where(old_appts)
                    .where(appointment_requests.c.status == "closed")
                ).scalar()
                or 0
            )
            return result
        for i in range(0, len(targets), CHUNK):
            chunk = targets[i : i + CHUNK]
            if has_events:
                result.events += conn.execute(
                    events.delete().where(events.c.sender_id.in_(chunk))
                ).rowcount
            result.form_answers += conn.execute(
                pending_form_answers.delete().where(pending_form_answers.c.sender_id.in_(chunk))
            ).rowcount
            for table in (conversation_summaries, conversation_reviews, intent_corrections):
                result.console_rows += conn.execute(
                    table.delete().where(table.c.sender_id.in_(chunk))
                ).rowcount
            result.console_rows += forget_worklists(conn, chunk)
        result.appointments = conn.execute(
            appointment_requests.delete()
            .where(old_appts)
            .where(appointment_requests.c.status == "closed")
        ).rowcount
        result.form_answers += form_answers.purge_expired(conn, form_answers.ttl_seconds())
        # the console's access log is kept as long as the conversations
        conn.execute(access_log.delete().where(access_log.c.at < cutoff))
        audit.record(
            conn,
            username,
            "retention",
            detail=(
                f"days={days} conversations={result.conversations} events={result.events} "
                f"console_rows={result.console_rows} appointments={result.appointments} "
                f"open_appointments_kept={result.open_appointments_kept} "
                f"form_answers={result.form_answers}"
            ),
        )
    return result
