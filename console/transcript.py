"""A conversation's events as a masked transcript (chat bubbles)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import sqlalchemy as sa

from console.db import events, intent_corrections
from privacy.masking import MASK_TOKENS, Masker

NAME_SLOTS = ("patient_name",)
HIDDEN_ACTIONS = {"action_listen"}


@dataclass
class Item:
    kind: str  # user | bot | session | loop
    event_id: int
    timestamp: float
    text: str = ""
    intent: Optional[str] = None
    confidence: Optional[float] = None
    runner_up: Optional[str] = None
    runner_up_confidence: Optional[float] = None
    red_flag: Optional[str] = None
    channel: Optional[str] = None
    action: Optional[str] = None
    buttons: List[str] = field(default_factory=list)
    correction: Optional[str] = None
    in_form: bool = False  # an answer typed into the appointment form: not a question


def _json(data: Optional[str]) -> Dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def load_events(conn: sa.engine.Connection, sender_id: str) -> List[Any]:
    return conn.execute(
        sa.select(events).where(events.c.sender_id == sender_id).order_by(events.c.id)
    ).all()


def sensitive_names(rows: List[Any]) -> List[str]:
    """Values the patient typed into name slots (masked wherever they recur).

    Only conversations stored before the tracker store redacted the form's answers
    (stores/tracker_store.py) still have them; newer ones hold "<name>"."""
    names = []
    for row in rows:
        if row.type_name == "slot" and row.action_name in NAME_SLOTS:
            value = _json(row.data).get("value")
            if isinstance(value, str) and value.strip() and value.strip() not in MASK_TOKENS:
                names.append(value.strip())
    return list(dict.fromkeys(names))


def runner_up(parse_data: Dict[str, Any], predicted: Optional[str]):
    for entry in parse_data.get("intent_ranking") or []:
        if isinstance(entry, dict) and entry.get("name") and entry.get("name") != predicted:
            return entry.get("name"), entry.get("confidence")
    return None, None


def build(conn: sa.engine.Connection, sender_id: str, masker: Masker) -> List[Item]:
    rows = load_events(conn, sender_id)
    names = sensitive_names(rows)
    corrections = {
        r.event_id: r.corrected_intent
        for r in conn.execute(
            sa.select(intent_corrections.c.event_id, intent_corrections.c.corrected_intent).where(
                intent_corrections.c.sender_id == sender_id
            )
        )
    }
    items: List[Item] = []
    last_action: Optional[str] = None
    active_loop: Optional[str] = None
    for row in rows:
        ts = float(row.timestamp or 0)
        if row.type_name == "user":
            data = _json(row.data)
            parse = data.get("parse_data") or {}
            intent = parse.get("intent") or {}
            predicted = intent.get("name") or row.intent_name
            second, second_conf = runner_up(parse, predicted)
            items.append(
                Item(
                    kind="user",
                    event_id=row.id,
                    timestamp=ts,
                    text=masker.mask(data.get("text") or "", names),
                    intent=predicted,
                    confidence=intent.get("confidence"),
                    runner_up=second,
                    runner_up_confidence=second_conf,
                    red_flag=triage_label(parse),
                    channel=data.get("input_channel"),
                    correction=corrections.get(row.id),
                    in_form=bool(active_loop),
                )
            )
        elif row.type_name == "action":
            last_action = row.action_name
        elif row.type_name == "bot":
            data = _json(row.data)
            buttons = [
                masker.mask(str(b.get("title") or ""), names)
                for b in ((data.get("data") or {}).get("buttons") or [])
                if isinstance(b, dict)
            ]
            items.append(
                Item(
                    kind="bot",
                    event_id=row.id,
                    timestamp=ts,
                    text=masker.mask(data.get("text") or "", names),
                    action=last_action,
                    buttons=buttons,
                )
            )
        elif row.type_name == "session_started":
            active_loop = None
            items.append(Item(kind="session", event_id=row.id, timestamp=ts))
        elif row.type_name == "active_loop":
            active_loop = row.action_name or None
            items.append(Item(kind="loop", event_id=row.id, timestamp=ts, action=row.action_name))
    return items


def user_event(conn: sa.engine.Connection, sender_id: str, event_id: int) -> Optional[Any]:
    return conn.execute(
        sa.select(events)
        .where(events.c.id == event_id)
        .where(events.c.sender_id == sender_id)
        .where(events.c.type_name == "user")
    ).first()


def is_form_answer(conn: sa.engine.Connection, sender_id: str, event_id: int) -> bool:
    """Was the message typed while a form was open (an answer, not a question)?"""
    loop = conn.execute(
        sa.select(events.c.action_name)
        .where(events.c.sender_id == sender_id)
        .where(events.c.type_name == "active_loop")
        .where(events.c.id < event_id)
        .order_by(events.c.id.desc())
        .limit(1)
    ).first()
    return bool(loop and loop.action_name)


def masked_user_text(conn: sa.engine.Connection, sender_id: str, row: Any, masker: Masker) -> str:
    names = sensitive_names(load_events(conn, sender_id))
    return masker.mask(_json(row.data).get("text") or "", names)


def triage_label(parse: dict) -> Optional[str]:
    """What safety triage saw in a message (nlu_components/triage.py), for staff."""
    triage = parse.get("triage") or {}
    if triage.get("tier"):
        categories = ", ".join(triage.get("categories") or [])
        how = f", by {triage['decided_by']}" if triage.get("decided_by") else ""
        return f"{triage['tier']} ({categories}{how})" if categories else f"{triage['tier']}{how}"
    if triage.get("pending"):
        return "sign waiting for post-op context: " + ", ".join(triage["pending"])
    return parse.get("red_flag")  # conversations stored before the two tiers
