"""Per-conversation summaries, folded incrementally from Rasa's `events` table.

The conversation list never parses events per request: it reads
`conversation_summaries`, one row per sender_id, which records the id of the last
event folded into it (`last_event_id`). A refresh reads only events newer than
that, per conversation:

    events e LEFT JOIN conversation_summaries s ON s.sender_id = e.sender_id
    WHERE e.id > watermark - LOOKBACK AND (s.sender_id IS NULL OR e.id > s.last_event_id)

Patient text is stored here masked (privacy/masking.py: phones, e-mails, dates,
ids, addresses, names), both the first question and the search text, so this
table holds no more personal data than the console shows. A column added later is
filled for the rows already folded by its migration (0009: the escalation tier and
the language), or by `python -m console refresh-summaries --rebuild`.

`watermark` (console_meta) is the highest event id folded so far. LOOKBACK
re-checks the most recent ids because on PostgreSQL a lower id can commit after a
higher one from another conversation; within one conversation Rasa's lock store
serialises writes, so per-conversation `last_event_id` is exact. A row is updated
only if its last_event_id is still the one read (optimistic concurrency), so two
console processes refreshing at once never double-count. `rebuild()` starts over.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from console.db import (
    EVENT_ROW_COLUMNS,
    console_meta,
    events,
    events_table_exists,
    json_object,
    read_meta,
    write_meta,
)
from console.db import conversation_summaries as cs
from console.settings import office_phone
from privacy.masking import Masker

logger = logging.getLogger(__name__)

LOOKBACK_IDS = 5000
BATCH_EVENTS = 5000
SEARCH_TEXT_MAX = 20000
FIRST_QUESTION_MAX = 500
WATERMARK_KEY = "summary_watermark"
IN_CHUNK = 500

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset(
    {"action_clarify_or_handoff", "action_out_of_scope", "action_default_fallback"}
)
# the escalation tier, the more severe one winning (content/red_flags.yml's two tiers);
# both count as an escalation for staff (the "emergency" flag)
TIER_INTENTS = {"emergency": "911", "urgent_problem": "urgent"}
TIER_ACTIONS = {"utter_emergency": "911", "utter_urgent_problem": "urgent"}
TIERS = ("911", "urgent")  # most severe first
EMERGENCY_INTENTS = frozenset(TIER_INTENTS)
EMERGENCY_ACTIONS = frozenset(TIER_ACTIONS)
HANDOFF_ACTION = "action_handoff"
LANGUAGE_SLOT = "language"
DEFAULT_LANGUAGE = "en"  # no language slot set: the assistant answered in English
LANGUAGE_MAX = 8
SMALL_TALK_INTENTS = frozenset({"greet", "thanks", "affirm", "deny", "goodbye"})
APPOINTMENT_ACTION = "action_submit_appointment"


_MASKERS: Dict[str, Masker] = {}


def masker() -> Masker:
    """The console's masker (the office's public number stays visible)."""
    phone = office_phone()
    if phone not in _MASKERS:
        _MASKERS[phone] = Masker([phone])
    return _MASKERS[phone]


@dataclass
class Summary:
    sender_id: str
    first_event_id: int = 0
    last_event_id: int = 0
    started_at: float = 0.0
    last_at: float = 0.0
    channel: Optional[str] = None
    turns: int = 0
    first_question: Optional[str] = None
    first_question_intent: Optional[str] = None
    search_text: str = ""
    intent_counts: Dict[str, int] = field(default_factory=dict)
    fell_back: bool = False
    emergency: bool = False
    handoff: bool = False
    appointment: bool = False
    active_loop: Optional[str] = None
    tier: Optional[str] = None  # "911" | "urgent" | None
    language: Optional[str] = None  # the language slot's last value (None: never set)
    row_id: Optional[int] = None  # None: not stored yet
    stored_last_event_id: int = 0  # what the stored row had when read

    @classmethod
    def from_row(cls, row: Any) -> Summary:
        return cls(
            sender_id=row.sender_id,
            first_event_id=row.first_event_id,
            last_event_id=row.last_event_id,
            started_at=row.started_at,
            last_at=row.last_at,
            channel=row.channel,
            turns=row.turns,
            first_question=row.first_question,
            first_question_intent=row.first_question_intent,
            search_text=row.search_text or "",
            intent_counts=json.loads(row.intent_counts or "{}"),
            fell_back=bool(row.fell_back),
            emergency=bool(row.emergency),
            handoff=bool(row.handoff),
            appointment=bool(row.appointment),
            active_loop=row.active_loop,
            tier=row.tier,
            language=row.language,
            row_id=row.id,
            stored_last_event_id=row.last_event_id,
        )

    def apply(
        self,
        event_id: int,
        type_name: str,
        timestamp: Optional[float],
        intent_name: Optional[str],
        action_name: Optional[str],
        data: Optional[str],
    ) -> None:
        """Folds one event (in id order) into the summary."""
        if event_id <= self.last_event_id:
            return
        ts = float(timestamp or 0.0)
        if not self.first_event_id:
            self.first_event_id, self.started_at, self.last_at = event_id, ts, ts
        self.last_event_id = event_id
        self.started_at = min(self.started_at, ts) if self.started_at else ts
        self.last_at = max(self.last_at, ts)
        if type_name == "user":
            self._apply_user(intent_name, data)
        elif type_name == "action":
            self._raise_tier(TIER_ACTIONS.get(action_name or ""))
            if action_name in FALLBACK_ACTIONS:
                self.fell_back = True
            elif action_name in EMERGENCY_ACTIONS:
                self.emergency = True
            elif action_name == HANDOFF_ACTION:
                self.handoff = True
            elif action_name == APPOINTMENT_ACTION:
                self.appointment = True
        elif type_name == "active_loop":
            self.active_loop = action_name or None
        elif type_name == "slot" and action_name == LANGUAGE_SLOT:
            value = json_object(data).get("value")
            if isinstance(value, str) and value.strip():
                self.language = value.strip()[:LANGUAGE_MAX]

    def _raise_tier(self, tier: Optional[str]) -> None:
        if tier and (self.tier is None or TIERS.index(tier) < TIERS.index(self.tier)):
            self.tier = tier

    def _apply_user(self, intent_name: Optional[str], data: Optional[str]) -> None:
        self.turns += 1
        payload = json_object(data)
        text = masker().mask(payload.get("text") or "")
        if intent_name:
            if intent_name in EMERGENCY_INTENTS:
                self.emergency = True
                self._raise_tier(TIER_INTENTS.get(intent_name))
            # Inside the appointment form a name, phone number or time is taken as
            # the answer whatever intent it got: not a question (not counted) and
            # not a fallback the patient saw.
            if not self.active_loop:
                self.intent_counts[intent_name] = self.intent_counts.get(intent_name, 0) + 1
                if intent_name == FALLBACK_INTENT:
                    self.fell_back = True
        if not self.channel and payload.get("input_channel"):
            self.channel = str(payload["input_channel"])[:64]
        if text:
            # The first message, unless it was only a greeting and a real one follows.
            if self.first_question is None or (
                self.first_question_intent in SMALL_TALK_INTENTS
                and intent_name not in SMALL_TALK_INTENTS
            ):
                self.first_question = text[:FIRST_QUESTION_MAX]
                self.first_question_intent = intent_name
            if len(self.search_text) < SEARCH_TEXT_MAX:
                joined = (
                    (self.search_text + "\n" + text.lower()) if self.search_text else text.lower()
                )
                self.search_text = joined[:SEARCH_TEXT_MAX]

    def values(self) -> Dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "first_event_id": self.first_event_id,
            "last_event_id": self.last_event_id,
            "started_at": self.started_at,
            "last_at": self.last_at,
            "channel": self.channel,
            "turns": self.turns,
            "first_question": self.first_question,
            "first_question_intent": self.first_question_intent,
            "search_text": self.search_text,
            "intents": ","
            + ",".join(sorted(self.intent_counts))
            + ("," if self.intent_counts else ""),
            "intent_counts": json.dumps(self.intent_counts, sort_keys=True),
            "fell_back": self.fell_back,
            "emergency": self.emergency,
            "handoff": self.handoff,
            "appointment": self.appointment,
            "active_loop": self.active_loop,
            "tier": self.tier,
            "language": self.language,
        }


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def get_watermark(conn: sa.engine.Connection) -> int:
    value = read_meta(conn, WATERMARK_KEY)
    return int(value) if value else 0


def set_watermark(conn: sa.engine.Connection, value: int) -> None:
    write_meta(conn, WATERMARK_KEY, str(value))


def _load(conn: sa.engine.Connection, sender_ids: List[str]) -> Dict[str, Summary]:
    found: Dict[str, Summary] = {}
    for chunk in _chunks(sender_ids):
        for row in conn.execute(sa.select(cs).where(cs.c.sender_id.in_(chunk))):
            found[row.sender_id] = Summary.from_row(row)
    return found


def _store(conn: sa.engine.Connection, touched: Iterable[Summary]) -> None:
    inserts, updates = [], []
    for s in touched:
        if s.row_id is None:
            inserts.append(s.values())
        else:
            updates.append(dict(s.values(), _id=s.row_id, _old_last=s.stored_last_event_id))
    if inserts:
        conn.execute(cs.insert(), inserts)
    if updates:
        stmt = (
            cs.update()
            .where(cs.c.id == sa.bindparam("_id"))
            .where(cs.c.last_event_id == sa.bindparam("_old_last"))
            .values({k: sa.bindparam(k) for k in updates[0] if not k.startswith("_")})
        )
        conn.execute(stmt, updates)


def refresh(
    engine: sa.engine.Engine, lookback: int = LOOKBACK_IDS, batch: int = BATCH_EVENTS
) -> int:
    """Folds new events into the summaries; returns how many events were applied."""
    if not events_table_exists(engine):
        return 0
    with engine.connect() as conn:
        watermark = get_watermark(conn)
    low = max(0, watermark - lookback)
    applied = races = 0
    while True:
        query = (
            sa.select(*EVENT_ROW_COLUMNS)
            .select_from(events.outerjoin(cs, cs.c.sender_id == events.c.sender_id))
            .where(events.c.id > low)
            .where(sa.or_(cs.c.id.is_(None), events.c.id > cs.c.last_event_id))
            .order_by(events.c.id)
            .limit(batch)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
            if not rows:
                break
            senders = list(dict.fromkeys(r.sender_id for r in rows))
            states = _load(conn, senders)
        for row in rows:
            state = states.get(row.sender_id)
            if state is None:
                state = states[row.sender_id] = Summary(sender_id=row.sender_id)
            state.apply(
                row.id, row.type_name, row.timestamp, row.intent_name, row.action_name, row.data
            )
        touched = [states[s] for s in senders]
        try:
            with engine.begin() as conn:
                _store(conn, touched)
                watermark = max(watermark, rows[-1].id)
                set_watermark(conn, watermark)
        except IntegrityError:
            # Another console process inserted the same conversation first: its
            # row is there now; the next pass folds onto it.
            races += 1
            if races > 3:
                raise
            logger.info("summary refresh raced with another process; retrying")
            continue
        applied += len(rows)
        low = rows[-1].id
        if len(rows) < batch:
            break
    return applied


def has_new_events(engine: sa.engine.Engine) -> bool:
    """Cheap check (an index lookup): is there an event above the watermark?"""
    if not events_table_exists(engine):
        return False
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
        return top > get_watermark(conn)


def rebuild(engine: sa.engine.Engine) -> int:
    """Drops every summary and folds all events again."""
    with engine.begin() as conn:
        conn.execute(cs.delete())
        conn.execute(console_meta.delete().where(console_meta.c.key == WATERMARK_KEY))
    return refresh(engine)
