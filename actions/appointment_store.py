"""Appointment requests, stored for staff in the project's own database.

The table lives next to Rasa's tracker store (same DATABASE_URL: SQLite file by
default, PostgreSQL by configuration) so the staff console reads both from one
place. Names and phone numbers are stored here, where staff need them to call back
(the tracker store keeps them out of the conversation's events:
stores/tracker_store.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa

from stores.schema import upgrade_to_head

metadata = sa.MetaData()

appointment_requests = sa.Table(
    "appointment_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("patient_name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("preferred_time", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("consent", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, server_default="new"),
    sa.Column("status_changed_by", sa.String(120)),
    sa.Column("status_changed_at", sa.DateTime(timezone=True)),
    # the conversation's language ("en", "es"): staff call back in it (migration 0005)
    sa.Column("language", sa.String(8)),
)


def engine_for(database_url: str) -> sa.engine.Engine:
    """The shared engine (stores/db.py: owner-only file, no values in errors), the
    schema brought to head once per process (stores/schema.py, migrations/)."""
    return upgrade_to_head(database_url)


# A retried turn (the patient sends "yes" again after a replica died between the
# action server storing the request and Rasa saving the conversation) re-runs the
# submission: the same request from the same conversation this recently is the
# same request, not a second one.
DUPLICATE_WINDOW = dt.timedelta(minutes=30)


def save_request(
    database_url: str,
    *,
    conversation_id: str,
    channel: Optional[str],
    patient_name: str,
    phone: str,
    preferred_time: str,
    reason: str,
    consent: bool,
    language: Optional[str] = None,
) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    values = dict(
        conversation_id=conversation_id,
        patient_name=patient_name,
        phone=phone,
        preferred_time=preferred_time,
        reason=reason,
    )
    with engine_for(database_url).begin() as conn:
        same = sa.and_(*(appointment_requests.c[k] == v for k, v in values.items()))
        existing = conn.execute(
            sa.select(appointment_requests.c.id)
            .where(same)
            .where(appointment_requests.c.created_at >= now - DUPLICATE_WINDOW)
            .order_by(appointment_requests.c.id.desc())
            .limit(1)
        ).scalar()
        if existing is not None:
            return int(existing)
        result = conn.execute(
            appointment_requests.insert().values(
                created_at=now,
                channel=channel,
                consent=consent,
                status="new",
                language=language,
                **values,
            )
        )
        return int(result.inserted_primary_key[0])
