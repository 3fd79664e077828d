"""The appointment form's personal answers while the form is open (no Rasa imports).

The tracker store (stores/tracker_store.py) writes "<name>" and "<phone>" into
Rasa's `events` table instead of what the patient typed, and keeps the real
values here, one row per conversation and slot, only until the form ends:
submitted (then they are in `appointment_requests`, with consent), cancelled,
paused by a safety escalation, or left alone for FORM_ANSWERS_TTL_MINUTES
(default 60, Rasa's session length): expired rows are ignored when a
conversation is read and deleted by the tracker store and the retention job.
"""

from __future__ import annotations

import time
from typing import Dict, Optional

import sqlalchemy as sa

from settings.env import SettingsError, env_float

DEFAULT_TTL_MINUTES = 60.0

# A change to the table needs a migration (README "Database schema").
metadata = sa.MetaData()

pending_form_answers = sa.Table(
    "pending_form_answers",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("slot", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
)


def ttl_seconds(env=None) -> float:
    try:
        minutes = env_float("FORM_ANSWERS_TTL_MINUTES", DEFAULT_TTL_MINUTES, env)
    except SettingsError:
        minutes = DEFAULT_TTL_MINUTES
    return max(1.0, minutes) * 60.0


def set_answer(
    conn, sender_id: str, slot: str, value: Optional[str], now: Optional[float] = None
) -> None:
    """Stores (or, for None, forgets) one answer."""
    conn.execute(
        pending_form_answers.delete()
        .where(pending_form_answers.c.sender_id == sender_id)
        .where(pending_form_answers.c.slot == slot)
    )
    if value is not None:
        conn.execute(
            pending_form_answers.insert().values(
                sender_id=sender_id,
                slot=slot,
                value=str(value),
                updated_at=time.time() if now is None else now,
            )
        )


def answers(conn, sender_id: str, ttl: float, now: Optional[float] = None) -> Dict[str, str]:
    """The conversation's answers that have not expired."""
    cutoff = (time.time() if now is None else now) - ttl
    rows = conn.execute(
        sa.select(pending_form_answers.c.slot, pending_form_answers.c.value)
        .where(pending_form_answers.c.sender_id == sender_id)
        .where(pending_form_answers.c.updated_at >= cutoff)
    )
    return {row.slot: row.value for row in rows}


def purge_expired(conn, ttl: float, now: Optional[float] = None) -> int:
    cutoff = (time.time() if now is None else now) - ttl
    return (
        conn.execute(
            pending_form_answers.delete().where(pending_form_answers.c.updated_at < cutoff)
        ).rowcount
        or 0
    )
