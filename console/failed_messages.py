"""The message that failed, per conversation (issue 20), for the conversation list and
its CSV export, which otherwise show only the first question: the last patient turn the
page did not answer (`flagged_turns`, console/topics.py: a named hand-off, "Did you
mean…?", a fallback, out of scope, another language) or the message behind a hand-off
to a person or an escalation ("Needs action" items, console/inbox.py), whichever came
last. Both are stored masked; the label says why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable

import sqlalchemy as sa

from console import inbox, topics
from console.tables import inbox_items

# the "Needs action" kinds whose message is one that failed (an appointment request is not)
INBOX_KINDS = ("person", "911", "urgent")


@dataclass(frozen=True)
class FailedMessage:
    text: str  # masked
    reason: str  # readable: why it is shown
    event_id: int


def latest(conn: sa.engine.Connection, sender_ids: Iterable[str]) -> Dict[str, FailedMessage]:
    senders = list(dict.fromkeys(sender_ids))
    if not senders:
        return {}
    found: Dict[str, FailedMessage] = {
        sender: FailedMessage(row.text, topics.REASONS.get(row.reason, row.reason), row.event_id)
        for sender, row in topics.latest_flagged(conn, senders).items()
    }
    last_item = (
        sa.select(sa.func.max(inbox_items.c.trigger_event_id))
        .where(inbox_items.c.sender_id.in_(senders))
        .where(inbox_items.c.kind.in_(INBOX_KINDS))
        .group_by(inbox_items.c.sender_id)
    )
    for row in conn.execute(
        sa.select(
            inbox_items.c.sender_id,
            inbox_items.c.kind,
            inbox_items.c.trigger_text,
            inbox_items.c.trigger_event_id,
        ).where(inbox_items.c.trigger_event_id.in_(last_item))
    ):
        earlier = found.get(row.sender_id)
        if row.trigger_text and (earlier is None or row.trigger_event_id > earlier.event_id):
            found[row.sender_id] = FailedMessage(
                row.trigger_text, inbox.KINDS[row.kind], row.trigger_event_id
            )
    return found
