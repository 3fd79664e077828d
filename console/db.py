"""Tables the console reads (Rasa's `events`, `appointment_requests`) and owns.

The console's own tables live in the same database (DATABASE_URL); the
migrations (migrations/, stores/schema.py) create and change them, and every
console process makes sure they are current at start. Rasa's `events` table is
only read (and deleted from by the retention command); its definition here
mirrors Rasa 3.6's SQLTrackerStore so that benchmarks and tests can seed
realistic rows, and the console never creates it in a real deployment (Rasa does).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import Any, Dict, Optional

import sqlalchemy as sa

from actions.appointment_store import appointment_requests
from stores.schema import upgrade_to_head

# ---- Rasa's tracker store table (read only) ----
rasa_metadata = sa.MetaData()
events = sa.Table(
    "events",
    rasa_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)

# ---- the console's own tables ----
# A change here needs a migration (README "Database schema"); tests/test_migrations.py
# fails until there is one.
metadata = sa.MetaData()

users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(120), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
    sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    # reviewer | callback | admin (console/auth.py ROLES); migrations/versions/0002
    sa.Column("role", sa.String(16), nullable=False, server_default="reviewer"),
    sa.Column("totp_secret", sa.String(64)),  # base32; NULL = no second factor enrolled
    sa.Column("totp_last_step", sa.BigInteger),  # last time step used (no code is accepted twice)
)

# One row per login. The browser's session cookie (signed) carries a random token;
# only its SHA-256 is stored. A session ends at logout, after CONSOLE_SESSION_IDLE_MINUTES
# without a request, CONSOLE_SESSION_MAX_HOURS after the login, or when the user's
# password changes or the user is disabled (console/auth.py).
sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("remote_addr", sa.String(64)),
)

# Failed logins per (lower-cased) user name, whether or not the user exists, so
# the lock-out does not reveal which names are real.
login_throttle = sa.Table(
    "console_login_throttle",
    metadata,
    sa.Column("username", sa.String(120), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("last_failure_at", sa.DateTime(timezone=True)),
)

audit_log = sa.Table(
    "console_audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("username", sa.String(120), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("sender_id", sa.String(255), index=True),
    sa.Column("detail", sa.Text),
    sa.Column("remote_addr", sa.String(64)),
    # sha256(previous row's row_hash + this row's content): console/audit.py
    sa.Column("row_hash", sa.String(64)),
)

# Every request to the console (not the static files): who, when, method, path and
# status, never the query string (search terms go in POST bodies). Admins read it on
# the Access log page; retention deletes rows older than RETENTION_DAYS.
access_log = sa.Table(
    "console_access_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("username", sa.String(120)),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(300), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("remote_addr", sa.String(64)),
)

conversation_reviews = sa.Table(
    "conversation_reviews",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("reviewed", sa.Boolean, nullable=False, default=False),
    sa.Column("tags", sa.Text, nullable=False, default=""),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("updated_by", sa.String(120)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

intent_corrections = sa.Table(
    "intent_corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("event_id", sa.Integer, nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("predicted_intent", sa.String(255)),
    sa.Column("corrected_intent", sa.String(255), nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per conversation, folded incrementally from `events` (console/summaries.py).
conversation_summaries = sa.Table(
    "conversation_summaries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, unique=True),
    sa.Column("first_event_id", sa.Integer, nullable=False),
    sa.Column("last_event_id", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False, index=True),
    sa.Column("last_at", sa.Float, nullable=False, index=True),
    sa.Column("channel", sa.String(64), index=True),
    sa.Column("turns", sa.Integer, nullable=False, default=0),
    sa.Column("first_question", sa.Text),
    sa.Column("first_question_intent", sa.String(255)),
    sa.Column("search_text", sa.Text, nullable=False, default=""),
    sa.Column("intents", sa.Text, nullable=False, default=","),
    sa.Column("intent_counts", sa.Text, nullable=False, default="{}"),
    sa.Column("fell_back", sa.Boolean, nullable=False, default=False, index=True),
    sa.Column("emergency", sa.Boolean, nullable=False, default=False, index=True),
    sa.Column("handoff", sa.Boolean, nullable=False, default=False, index=True),
    sa.Column("appointment", sa.Boolean, nullable=False, default=False),
    sa.Column("active_loop", sa.String(255)),
    # migration 0009: the most severe escalation tier ("911", "urgent") and the
    # language slot's last value (NULL: never set, answered in English)
    sa.Column("tier", sa.String(8), index=True),
    sa.Column("language", sa.String(8), index=True),
)

console_meta = sa.Table(
    "console_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

__all__ = [
    "appointment_requests",
    "access_log",
    "audit_log",
    "console_meta",
    "conversation_reviews",
    "conversation_summaries",
    "events",
    "intent_corrections",
    "login_throttle",
    "sessions",
    "users",
    "engine_for",
    "utcnow",
    "as_utc",
    "events_table_exists",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """SQLite returns naive datetimes; every datetime the project stores is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


@cache
def engine_for(database_url: str) -> sa.engine.Engine:
    """The shared engine (stores/db.py), the schema brought to head (stores/schema.py:
    safe when several console processes start at once). The audit chain's head is
    made by `console.audit.open_engine` (the console's processes use that), or at the
    first audit row of an empty log (audit imports this module, not the reverse)."""
    return upgrade_to_head(database_url)


def events_table_exists(engine: sa.engine.Engine) -> bool:
    return sa.inspect(engine).has_table("events")


# the events columns the background jobs fold (summaries, unanswered topics)
EVENT_ROW_COLUMNS = (
    events.c.id,
    events.c.sender_id,
    events.c.type_name,
    events.c.timestamp,
    events.c.intent_name,
    events.c.action_name,
    events.c.data,
)


def read_meta(conn: sa.engine.Connection, key: str) -> Optional[str]:
    """A value of console_meta (watermarks, last runs)."""
    return conn.execute(sa.select(console_meta.c.value).where(console_meta.c.key == key)).scalar()


def write_meta(conn: sa.engine.Connection, key: str, value: str) -> None:
    if not conn.execute(
        console_meta.update().where(console_meta.c.key == key).values(value=value)
    ).rowcount:
        conn.execute(console_meta.insert().values(key=key, value=value))


def json_object(data: Optional[str]) -> Dict[str, Any]:
    """An event's JSON data as a dict ({} when missing or not an object)."""
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def conversation_numbers(conn: sa.engine.Connection, sender_ids) -> Dict[str, int]:
    """The console's conversation number per sender id (shown instead of the id)."""
    senders = list(set(sender_ids))
    if not senders:
        return {}
    summaries = conversation_summaries
    query = sa.select(summaries.c.sender_id, summaries.c.id)
    return dict(conn.execute(query.where(summaries.c.sender_id.in_(senders))).all())
