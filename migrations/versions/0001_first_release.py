"""The first release's tables, before the columns the later revisions add.

The action server's appointment requests, the tracker store's pending form answers,
the SMS opt-outs and the console's tables.

Idempotent on purpose: databases made before the migrations got their tables from
`create_all` in whichever services ran, so any of these may exist already (with
their data); only the missing ones are created. stores/schema.py `adopt_unversioned`
runs this on such a database before stamping it.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def create_missing(name: str, *columns: sa.Column) -> None:
    """op.create_table (with the indexes of `index=True` columns), unless it exists."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns)


def upgrade() -> None:
    # actions/appointment_store.py
    create_missing(
        "appointment_requests",
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
    )
    # stores/form_answers.py
    create_missing(
        "pending_form_answers",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("slot", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False, index=True),
    )
    # channels/sms/opt_outs.py
    create_missing(
        "sms_opt_outs",
        sa.Column("number_hash", sa.String(80), primary_key=True),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("keyword", sa.String(16)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # console/db.py
    create_missing(
        "console_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(120), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.Column("is_active", sa.Boolean, nullable=False),
    )
    create_missing(
        "console_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("remote_addr", sa.String(64)),
    )
    create_missing(
        "console_login_throttle",
        sa.Column("username", sa.String(120), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_failure_at", sa.DateTime(timezone=True)),
    )
    create_missing(
        "console_audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(255), index=True),
        sa.Column("detail", sa.Text),
        sa.Column("remote_addr", sa.String(64)),
    )
    create_missing(
        "conversation_reviews",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("reviewed", sa.Boolean, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(120)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    create_missing(
        "intent_corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False, index=True),
        sa.Column("event_id", sa.Integer, nullable=False, unique=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("predicted_intent", sa.String(255)),
        sa.Column("corrected_intent", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_missing(
        "conversation_summaries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False, unique=True),
        sa.Column("first_event_id", sa.Integer, nullable=False),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False, index=True),
        sa.Column("last_at", sa.Float, nullable=False, index=True),
        sa.Column("channel", sa.String(64), index=True),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("first_question", sa.Text),
        sa.Column("first_question_intent", sa.String(255)),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("intents", sa.Text, nullable=False),
        sa.Column("intent_counts", sa.Text, nullable=False),
        sa.Column("fell_back", sa.Boolean, nullable=False, index=True),
        sa.Column("emergency", sa.Boolean, nullable=False, index=True),
        sa.Column("handoff", sa.Boolean, nullable=False, index=True),
        sa.Column("appointment", sa.Boolean, nullable=False),
        sa.Column("active_loop", sa.String(255)),
    )
    create_missing(
        "console_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "the first release's tables hold the practice's data; they are not dropped by a downgrade"
    )
