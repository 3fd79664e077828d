"""Issue 20: the "Needs action" inbox (inbox_items, inbox_seen), the unanswered-topics
report (flagged_turns, topic_themes: console/tables.py) and SMS call-back numbers kept
encrypted (sms_contact_numbers: stores/phone_vault.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _missing(name: str) -> bool:
    """A database whose tables came from the code's create_all is adopted as it is."""
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if not _missing("inbox_items"):
        return
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("trigger_event_id", sa.Integer, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(64)),
        sa.Column("language", sa.String(8)),
        sa.Column("trigger_text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("assignee", sa.String(120)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(120)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_inbox_items_sender_id", "inbox_items", ["sender_id"])
    op.create_index("ix_inbox_items_kind", "inbox_items", ["kind"])
    op.create_index("ix_inbox_items_created_at", "inbox_items", ["created_at"])
    op.create_index("ix_inbox_items_status", "inbox_items", ["status"])
    op.create_table(
        "inbox_seen",
        sa.Column("username", sa.String(120), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "flagged_turns",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("embedding", sa.LargeBinary),
        sa.Column("theme_id", sa.Integer),
    )
    op.create_index("ix_flagged_turns_sender_id", "flagged_turns", ["sender_id"])
    op.create_index("ix_flagged_turns_at", "flagged_turns", ["at"])
    op.create_index("ix_flagged_turns_theme_id", "flagged_turns", ["theme_id"])
    op.create_table(
        "topic_themes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("decision", sa.String(16)),
        sa.Column("centroid", sa.LargeBinary),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("weekly", sa.Text, nullable=False),
        sa.Column("trend", sa.String(8), nullable=False),
        sa.Column("examples", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True)),
        sa.Column("updated_by", sa.String(120)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "sms_contact_numbers",
        sa.Column("conversation_id", sa.String(255), primary_key=True),
        sa.Column("number_token", sa.Text, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in ("sms_contact_numbers", "topic_themes", "flagged_turns", "inbox_seen"):
        op.drop_table(name)
    op.drop_table("inbox_items")
