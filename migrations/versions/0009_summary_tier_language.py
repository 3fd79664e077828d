"""The escalation tier and the language of each conversation summary (issue 20: the
conversation list filters by tier and by language, and the overview counts them from
the same columns): conversation_summaries.tier ("911", "urgent" or NULL) and
conversation_summaries.language (the language slot's last value, NULL when never set).

Rows folded before it are filled here from Rasa's `events` (when that table is in this
database): the tier from the safety replies and intents, the more severe one winning,
and the language from the last `language` slot event. A database that already has the
columns (made by the code's create_all, stores/schema.py) keeps them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "conversation_summaries"
# console/summaries.py TIER_ACTIONS / TIER_INTENTS, as they were at this revision
TIER_EVENTS = {
    "911": (("action", "utter_emergency"), ("user", "emergency")),
    "urgent": (("action", "utter_urgent_problem"), ("user", "urgent_problem")),
}


def _columns(bind) -> set:
    return {c["name"] for c in sa.inspect(bind).get_columns(TABLE)}


def _backfill(bind) -> None:
    if not sa.inspect(bind).has_table("events"):
        return
    meta = sa.MetaData()
    events = sa.Table("events", meta, autoload_with=bind)
    summaries = sa.Table(TABLE, meta, autoload_with=bind)
    # the urgent tier first, then the 911 tier over it: the more severe one wins
    for tier in ("urgent", "911"):
        matches = sa.or_(
            *[
                sa.and_(
                    events.c.type_name == kind,
                    (events.c.action_name if kind == "action" else events.c.intent_name) == name,
                )
                for kind, name in TIER_EVENTS[tier]
            ]
        )
        escalated = sa.select(events.c.sender_id).where(matches)
        bind.execute(
            summaries.update().where(summaries.c.sender_id.in_(escalated)).values(tier=tier)
        )
    last = (
        sa.select(sa.func.max(events.c.id))
        .where(events.c.type_name == "slot")
        .where(events.c.action_name == "language")
        .group_by(events.c.sender_id)
    )
    rows = bind.execute(
        sa.select(events.c.sender_id, events.c.data).where(events.c.id.in_(last))
    ).all()
    updates = []
    for sender_id, data in rows:
        try:
            value = json.loads(data or "{}").get("value")
        except (ValueError, AttributeError):
            value = None
        if isinstance(value, str) and value.strip():
            updates.append({"_sender": sender_id, "_language": value.strip()[:8]})
    if updates:
        bind.execute(
            summaries.update()
            .where(summaries.c.sender_id == sa.bindparam("_sender"))
            .values(language=sa.bindparam("_language")),
            updates,
        )


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(TABLE):
        return
    present = _columns(bind)
    if "tier" not in present:
        op.add_column(TABLE, sa.Column("tier", sa.String(8)))
        op.create_index("ix_conversation_summaries_tier", TABLE, ["tier"])
    if "language" not in present:
        op.add_column(TABLE, sa.Column("language", sa.String(8)))
        op.create_index("ix_conversation_summaries_language", TABLE, ["language"])
    if not present >= {"tier", "language"}:
        _backfill(bind)


def downgrade() -> None:
    op.drop_index("ix_conversation_summaries_language", TABLE)
    op.drop_index("ix_conversation_summaries_tier", TABLE)
    op.drop_column(TABLE, "language")
    op.drop_column(TABLE, "tier")
