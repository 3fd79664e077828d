"""The console's tables for the day's work (issue 20): the "Needs action" inbox and
the unanswered-topics report. Same database and rules as console/db.py: a change
here needs a migration (migrations/versions/0008_inbox_topics_phone_vault.py).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per thing the office must act on (console/inbox.py): an appointment
# request, an urgent or 911 escalation, a patient who asked for a person. Found in
# `events` by the background fold; status, assignee and note are the staff's.
inbox_items = sa.Table(
    "inbox_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False, index=True),  # 911|urgent|person|appointment
    sa.Column("trigger_event_id", sa.Integer, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    # when the inbox found it ("new since you last looked" compares this)
    sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("channel", sa.String(64)),
    sa.Column("language", sa.String(8)),
    sa.Column("trigger_text", sa.Text, nullable=False, default=""),  # masked
    sa.Column("status", sa.String(16), nullable=False, server_default="new", index=True),
    sa.Column("assignee", sa.String(120)),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("updated_by", sa.String(120)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)

# When each user last opened the inbox ("new since you last looked").
inbox_seen = sa.Table(
    "inbox_seen",
    metadata,
    sa.Column("username", sa.String(120), primary_key=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

# Patient turns the page did not answer (console/topics.py): a named hand-off,
# a fallback, "Did you mean…?", out of scope, another language. The text is masked;
# the embedding is the assistant's MiniLM sentence vector (float16 bytes).
flagged_turns = sa.Table(
    "flagged_turns",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("embedding", sa.LargeBinary),
    sa.Column("theme_id", sa.Integer, index=True),
)

# Themes of flagged turns (clusters), recomputed by the background job; the staff's
# name and decision stay with the theme whose centre is nearest the next run's.
topic_themes = sa.Table(
    "topic_themes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),  # from the most central messages
    sa.Column("name", sa.Text),  # given by staff
    sa.Column("decision", sa.String(16)),  # add_to_page | not_for_bot | NULL
    sa.Column("centroid", sa.LargeBinary),  # float32 bytes
    sa.Column("message_count", sa.Integer, nullable=False, default=0),
    sa.Column("weekly", sa.Text, nullable=False, default="[]"),  # JSON [[week, count], ...]
    sa.Column("trend", sa.String(8), nullable=False, default="flat"),  # up | down | flat
    sa.Column("examples", sa.Text, nullable=False, default="[]"),  # JSON, masked
    sa.Column("reasons", sa.Text, nullable=False, default="{}"),  # JSON reason -> count
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("computed_at", sa.DateTime(timezone=True)),
    sa.Column("updated_by", sa.String(120)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)
