"""The "Needs action" inbox: what the office must call back about (issue 20).

Items are found in Rasa's `events` by `collect` (run with the summary refresh,
console/jobs.py): every run of one of TRIGGERS makes an item, unless the same
conversation already has an open item of that kind. The patient message that
triggered it is stored masked. Staff set the status (new, called, no answer,
done), the assignee and a call note (console/views/inbox.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import sqlalchemy as sa

from console.db import (
    appointment_requests,
    events,
    events_table_exists,
    json_object,
    read_meta,
    write_meta,
)
from console.tables import inbox_items, inbox_seen

# action -> kind
TRIGGERS = {
    "utter_emergency": "911",
    "utter_urgent_problem": "urgent",
    "action_handoff": "person",
    "action_submit_appointment": "appointment",
}
KINDS = {
    "911": "911 — confirm the patient is safe",
    "urgent": "Urgent — call the office now",
    "appointment": "Appointment request",
    "person": "Asked for a person",
}
KIND_ORDER = {"911": 0, "urgent": 1, "appointment": 2, "person": 3}
STATUSES = {"new": "New", "called": "Called", "no_answer": "No answer", "done": "Done"}
OPEN_STATUSES = ("new", "called", "no_answer")
# inbox status -> appointment request status (console/views/appointments.py)
APPOINTMENT_STATUS = {"new": "new", "called": "called_back", "no_answer": "new", "done": "closed"}
WATERMARK_KEY = "inbox_watermark"
LOOKBACK_IDS = 5000
TRIGGER_TEXT_MAX = 500
LANGUAGE_SLOT = "language"
FORM_NAME = "appointment_form"


def _trigger_message(conn: sa.engine.Connection, sender_id: str, action_id: int, kind: str):
    """The patient message behind the action: the last one before it; for an
    appointment request, the one that opened the form."""
    before = action_id
    if kind == "appointment":
        opened = conn.execute(
            sa.select(sa.func.min(events.c.id))
            .where(events.c.sender_id == sender_id)
            .where(events.c.type_name == "active_loop")
            .where(events.c.action_name == FORM_NAME)
            .where(events.c.id < action_id)
            .where(
                events.c.id
                > sa.func.coalesce(
                    sa.select(sa.func.max(events.c.id))
                    .where(events.c.sender_id == sender_id)
                    .where(events.c.type_name.in_(("action",)))
                    .where(events.c.action_name == "action_submit_appointment")
                    .where(events.c.id < action_id)
                    .scalar_subquery(),
                    0,
                )
            )
        ).scalar()
        before = opened or action_id
    return conn.execute(
        sa.select(events.c.data)
        .where(events.c.sender_id == sender_id)
        .where(events.c.type_name == "user")
        .where(events.c.id < before)
        .order_by(events.c.id.desc())
        .limit(1)
    ).first()


def _language(conn: sa.engine.Connection, sender_id: str, action_id: int) -> str:
    row = conn.execute(
        sa.select(events.c.data)
        .where(events.c.sender_id == sender_id)
        .where(events.c.type_name == "slot")
        .where(events.c.action_name == LANGUAGE_SLOT)
        .where(events.c.id < action_id)
        .order_by(events.c.id.desc())
        .limit(1)
    ).first()
    value = json_object(row.data).get("value") if row else None
    return str(value)[:8] if isinstance(value, str) and value else "en"


def collect(engine: sa.engine.Engine, masker: Any, lookback: int = LOOKBACK_IDS) -> int:
    """Adds the items for trigger actions not seen yet; returns how many were added."""
    if not events_table_exists(engine):
        return 0
    found_at = dt.datetime.now(dt.timezone.utc)
    with engine.connect() as conn:
        watermark = int(read_meta(conn, WATERMARK_KEY) or 0)
        rows = conn.execute(
            sa.select(events.c.id, events.c.sender_id, events.c.action_name, events.c.timestamp)
            .where(events.c.type_name == "action")
            .where(events.c.action_name.in_(list(TRIGGERS)))
            .where(events.c.id > max(0, watermark - lookback))
            .order_by(events.c.id)
        ).all()
        top = conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
        if not rows:
            new_items: List[Dict[str, Any]] = []
        else:
            known = set(
                conn.execute(
                    sa.select(inbox_items.c.trigger_event_id).where(
                        inbox_items.c.trigger_event_id >= rows[0].id
                    )
                ).scalars()
            )
            open_pairs = {
                (r.sender_id, r.kind)
                for r in conn.execute(
                    sa.select(inbox_items.c.sender_id, inbox_items.c.kind)
                    .where(inbox_items.c.sender_id.in_(list({r.sender_id for r in rows})))
                    .where(inbox_items.c.status != "done")
                )
            }
            new_items = []
            for row in rows:
                kind = TRIGGERS[row.action_name]
                if row.id in known or (row.sender_id, kind) in open_pairs:
                    continue
                message = _trigger_message(conn, row.sender_id, row.id, kind)
                payload = json_object(message.data) if message else {}
                new_items.append(
                    dict(
                        sender_id=row.sender_id,
                        kind=kind,
                        trigger_event_id=row.id,
                        created_at=dt.datetime.fromtimestamp(
                            float(row.timestamp or 0), dt.timezone.utc
                        ),
                        channel=(str(payload.get("input_channel") or "") or None),
                        language=_language(conn, row.sender_id, row.id),
                        trigger_text=masker.mask(payload.get("text") or "")[:TRIGGER_TEXT_MAX],
                        found_at=found_at,
                        status="new",
                        note="",
                    )
                )
                open_pairs.add((row.sender_id, kind))
    with engine.begin() as conn:
        if new_items:
            conn.execute(inbox_items.insert(), new_items)
        write_meta(conn, WATERMARK_KEY, str(max(watermark, top)))
    return len(new_items)


@dataclass
class InboxFilters:
    kind: str = ""
    status: str = "open"
    channel: str = ""
    assignee: str = ""

    @classmethod
    def from_args(cls, args: Any) -> InboxFilters:
        kind = args.get("kind") or ""
        status = args.get("status") or "open"
        return cls(
            kind=kind if kind in KINDS else "",
            status=status if status in STATUSES or status in ("open", "all") else "open",
            channel=(args.get("channel") or "")[:64],
            assignee=(args.get("assignee") or "")[:120],
        )

    def as_args(self) -> Dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


MAX_ROWS = 500


def items(conn: sa.engine.Connection, filters: InboxFilters) -> List[Any]:
    query = sa.select(inbox_items)
    if filters.kind:
        query = query.where(inbox_items.c.kind == filters.kind)
    if filters.status == "open":
        query = query.where(inbox_items.c.status.in_(OPEN_STATUSES))
    elif filters.status in STATUSES:
        query = query.where(inbox_items.c.status == filters.status)
    if filters.channel:
        query = query.where(inbox_items.c.channel == filters.channel)
    if filters.assignee:
        query = query.where(inbox_items.c.assignee == filters.assignee)
    rows = conn.execute(query.order_by(inbox_items.c.created_at).limit(MAX_ROWS)).all()
    # the most urgent first, then the longest waiting
    return sorted(rows, key=lambda r: (r.status == "done", KIND_ORDER.get(r.kind, 9)))


def channels(conn: sa.engine.Connection) -> List[str]:
    return [c for c in conn.execute(sa.select(inbox_items.c.channel).distinct()).scalars() if c]


def appointment_requests_for(
    conn: sa.engine.Connection, sender_ids: Sequence[str]
) -> Dict[str, Any]:
    """The latest appointment request of each conversation."""
    if not sender_ids:
        return {}
    found: Dict[str, Any] = {}
    for row in conn.execute(
        sa.select(appointment_requests)
        .where(appointment_requests.c.conversation_id.in_(list(sender_ids)))
        .order_by(appointment_requests.c.id)
    ):
        found[row.conversation_id] = row
    return found


def last_seen(conn: sa.engine.Connection, username: str) -> Optional[dt.datetime]:
    return conn.execute(
        sa.select(inbox_seen.c.seen_at).where(inbox_seen.c.username == username)
    ).scalar()


def mark_seen(conn: sa.engine.Connection, username: str, when: dt.datetime) -> None:
    if not conn.execute(
        inbox_seen.update().where(inbox_seen.c.username == username).values(seen_at=when)
    ).rowcount:
        conn.execute(inbox_seen.insert().values(username=username, seen_at=when))


def waiting(created: Optional[dt.datetime], now: dt.datetime) -> str:
    """ "3 h 20 min", "2 d 4 h", "5 min"."""
    if created is None:
        return ""
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    minutes = max(0, int((now - created).total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
