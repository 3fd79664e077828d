"""Twilio MessageSids already received: sms_seen_messages (issue 21).

The SMS channel's de-duplication was in memory (or Redis) only, so a captured,
correctly signed Twilio request replayed after a restart was answered again. Each
MessageSid is now inserted once here (channels/sms/seen.py). A database that
already has the table (made by create_all before adoption) keeps it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("sms_seen_messages"):
        return
    op.create_table(
        "sms_seen_messages",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("message_sid"),
    )
    op.create_index(
        op.f("ix_sms_seen_messages_received_at"),
        "sms_seen_messages",
        ["received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_seen_messages_received_at"), table_name="sms_seen_messages")
    op.drop_table("sms_seen_messages")
