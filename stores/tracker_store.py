"""Rasa's SQL tracker store, reporting failures to the channel that runs the turn.

Rasa wraps every tracker store in a FailSafeTrackerStore that swallows errors
(a failed read gives an empty tracker, a failed write goes to memory), so a turn
"succeeds" even when the conversation was not recorded for staff. This subclass
marks the current turn when the database fails; the channels (channels/turn.py)
then add the office phone number to the reply. Same configuration as `type: SQL`.

Personal answers of the appointment form never reach the `events` table (issue
#10). When events are written:
  - a patient message the form took as the name or phone becomes "<name>" /
    "<phone>" (text and parse data), and so does one the form rejected ("555 01 23",
    "three one zero five five five…": a rejected answer is still one); only a safety
    report or a topic question typed instead is kept, masked (privacy/masking.py);
  - `patient_name` / `patient_phone` slot values become "<name>" / "<phone>";
  - the bot's messages (the consent summary "Name: … Phone: …", "Thank you,
    Maria … we will call you at …") get the same tokens.
The real values are kept in `pending_form_answers` (stores/form_answers.py) while
the form is open and put back when the conversation is read, so the form and the
consent summary work across turns, processes and replicas; submitting,
cancelling and the safety pause set the slots to None, which deletes them, and
rows left behind expire after FORM_ANSWERS_TTL_MINUTES.

Why redact when writing rather than after the request is stored or cancelled:
a patient who types a name and number and then closes the tab never reaches
"stored" or "cancelled", a crash or restart can skip any clean-up step, and every
copy of the events table (backups, replicas, exports) would hold the values in
the meantime. Redacting on the way in has no such window; the only raw copy is
one short-lived row per answer, deleted by every way out of the form.

Same table, same rows, less work per turn (found by profiling, bench/README.md):
- reading a conversation selects only the `data` column of Rasa's own query
  instead of building an ORM object per event;
- saving does not count the conversation's stored events again (Rasa runs a
  `count(*)` with a sub-query on every save to know which events are new): the
  number read at the start of the turn is kept on the tracker. Turns of one
  conversation run one at a time (the lock store), so nothing else wrote to it
  in between; any other save (a tracker not read here, a second save of the
  same tracker) counts them as Rasa does. The new events, redacted as above in
  every case, go out in one multi-row INSERT (executemany) instead of the ORM's
  unit of work.

With several replicas configured (settings/replicas.py) the store refuses to
start unless they share everything they must.

The engine is re-created with `hide_parameters=True` (errors never show the
values being written), and a SQLite file is created owner-only
(stores/private_storage.py).
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import (
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from privacy.masking import NAME, PHONE, Masker, mask_names
from settings.replicas import check_cluster_config
from stores import form_answers
from stores.private_storage import secure_database_url
from stores.schema import upgrade_to_head

logger = logging.getLogger(__name__)

FORM_NAME = "appointment_form"
REQUESTED_SLOT = "requested_slot"
# slot -> what the events table holds instead of its value
REDACTED_SLOTS: Dict[str, str] = {"patient_name": NAME, "patient_phone": PHONE}
PURGE_EVERY_SECONDS = 60.0


@dataclass
class TurnStorageHealth:
    failed: bool = False


_current_turn: contextvars.ContextVar[Optional[TurnStorageHealth]] = contextvars.ContextVar(
    "turn_storage_health", default=None
)


def begin_turn() -> TurnStorageHealth:
    """Call before handing a message to Rasa; check `.failed` afterwards."""
    health = TurnStorageHealth()
    _current_turn.set(health)
    return health


def _mark_failed() -> None:
    health = _current_turn.get()
    if health is not None:
        health.failed = True


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


_MASKER: Optional[Masker] = None


def _masker() -> Masker:
    global _MASKER
    if _MASKER is None:
        from settings.practice import load_settings

        _MASKER = Masker([load_settings().office_phone])
    return _MASKER


# A message typed at the name or phone question that the form did not take is
# kept (masked) only when staff and the triage need its words: a safety report, or a
# topic question the form answered instead. Anything else is redacted like an
# accepted answer: "three one zero five five five…", "555 01 88", a name with a digit.
KEPT_INTENTS = frozenset({"emergency", "urgent_problem"})


def rejected_answer(text: str, slot: str, names: Sequence[str], intent: Optional[str]) -> str:
    """What the events table keeps of a message the form asked for `slot` and did not
    take (issue 21): the slot's token, or the masked text for a safety report or a
    question (privacy/masking.py masks numbers however they are typed)."""
    question = bool(intent) and intent.startswith("ask_") and "?" in text
    if intent in KEPT_INTENTS or question:
        return _masker().mask(text, names)
    return REDACTED_SLOTS[slot]


def redacted_event_dicts(
    events: Sequence[Event], start: int
) -> Tuple[List[Dict[str, Any]], List[Tuple[str, Optional[str]]]]:
    """What to store for events[start:], and the form answers they set (slot, value).

    `events` is the whole tracker (so a message is judged by the form state
    before it and the slots set after it in the same turn)."""
    loop: Optional[str] = None
    requested: Optional[str] = None
    asked: Dict[int, str] = {}  # user event index -> slot being asked
    values: Dict[str, List[str]] = {slot: [] for slot in REDACTED_SLOTS}
    for i, event in enumerate(events):
        if isinstance(event, (Restarted, SessionStarted)):
            loop = requested = None
        elif isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, SlotSet):
            if event.key == REQUESTED_SLOT:
                requested = event.value
            elif (
                event.key in REDACTED_SLOTS
                and isinstance(event.value, str)
                and event.value
                and event.value not in REDACTED_SLOTS.values()
            ):
                values[event.key].append(event.value)
        elif isinstance(event, UserUttered):
            if loop == FORM_NAME and requested in REDACTED_SLOTS:
                asked[i] = requested

    def accepted(i: int, slot: str) -> bool:
        """The form kept this message as the slot's value (last setting in the turn)."""
        value: Optional[Any] = None
        for event in events[i + 1 :]:
            if isinstance(event, UserUttered):
                break
            if isinstance(event, SlotSet) and event.key == slot:
                value = event.value
        return value is not None

    names = values["patient_name"]
    phones = sorted(set(values["patient_phone"]), key=len, reverse=True)

    def bot_text(text: str) -> str:
        for phone in phones:
            text = text.replace(phone, PHONE)
        return mask_names(text, names) if names else text

    stored: List[Dict[str, Any]] = []
    answers: List[Tuple[str, Optional[str]]] = []
    for i in range(start, len(events)):
        event = events[i]
        data = event.as_dict()
        if i in asked and isinstance(event, UserUttered) and event.text:
            slot = asked[i]
            raw = event.text
            intent = (event.intent or {}).get(INTENT_NAME_KEY)
            replacement = (
                REDACTED_SLOTS[slot]
                if accepted(i, slot)
                else rejected_answer(raw, slot, names, intent)
            )
            data = _map_strings(data, lambda s, raw=raw, new=replacement: s.replace(raw, new))
        elif isinstance(event, SlotSet) and event.key in REDACTED_SLOTS:
            answers.append((event.key, None if event.value is None else str(event.value)))
            if event.value is not None:
                data["value"] = REDACTED_SLOTS[event.key]
        elif isinstance(event, BotUttered) and (names or phones):
            data = _map_strings(data, bot_text)
        stored.append(data)
    return stored, answers


class ObservedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, host: Optional[Text] = None, **kwargs: Any) -> None:
        # every Rasa server loads this store (endpoints.yml): with several replicas
        # configured it refuses to start unless they share everything they must
        check_cluster_config("rasa")
        if host and "://" in host:
            secure_database_url(host)  # owner-only SQLite file before Rasa creates it
        super().__init__(*args, host=host, **kwargs)
        # Rasa 3.6 creates its engine without hide_parameters: re-create it with it,
        # so a failed write never puts message text into an exception or a log.
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, hide_parameters=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        upgrade_to_head(self.engine)  # pending_form_answers (stores/schema.py)
        self.form_answers_ttl = form_answers.ttl_seconds()
        self._last_purge = 0.0

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """As Rasa's (only the `data` column), with the form's answers put back where
        "<name>"/"<phone>" is stored, and the number of stored events kept."""
        with self.session_scope() as session:
            rows = (
                self._event_query(
                    session,
                    sender_id,
                    fetch_events_from_all_sessions=fetch_events_from_all_sessions,
                )
                .with_entities(self.SQLEvent.data)
                .all()
            )
            if not (self.domain and rows):
                return None
            pending = form_answers.answers(session, sender_id, self.form_answers_ttl)
        events = [json.loads(data) for (data,) in rows]
        for event in events:
            if (
                event.get("event") == SlotSet.type_name
                and event.get("name") in REDACTED_SLOTS
                and event.get("value") == REDACTED_SLOTS[event["name"]]
            ):
                # expired or already handled: the form asks again
                event["value"] = pending.get(event["name"])
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            # what the count(*) would give at save time (same query, module docstring)
            tracker.__dict__[STORED_EVENTS] = len(rows)
        return tracker

    async def _save_redacted(self, tracker: DialogueStateTracker) -> None:
        """Rasa's SQLTrackerStore.save, writing redacted events (one executemany) and
        the form answers."""
        await self.stream_events(tracker)  # no event broker is configured (endpoints.yml)
        known = tracker.__dict__.pop(STORED_EVENTS, None)
        events = list(tracker.events)
        with self.session_scope() as session:
            if known is None or known > len(events):  # not read here: count as Rasa does
                stored = self._event_query(
                    session, tracker.sender_id, fetch_events_from_all_sessions=False
                ).count()
            else:
                stored = known
            rows, answers = redacted_event_dicts(events, stored)
            values = [
                dict(
                    sender_id=tracker.sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=(data.get("parse_data") or {})
                    .get("intent", {})
                    .get(INTENT_NAME_KEY)
                    if isinstance(event, UserUttered)
                    else None,
                    action_name=data.get("name"),
                    data=json.dumps(data),
                )
                for event, data in zip(itertools.islice(events, stored, None), rows)
            ]
            if values:
                session.execute(self.SQLEvent.__table__.insert(), values)
            for slot, value in answers:
                form_answers.set_answer(session, tracker.sender_id, slot, value)
            now = time.time()
            if now - self._last_purge >= PURGE_EVERY_SECONDS:
                form_answers.purge_expired(session, self.form_answers_ttl, now)
                self._last_purge = now
            session.commit()

    async def retrieve(self, sender_id: str) -> Any:
        try:
            return await super().retrieve(sender_id)
        except Exception:
            _mark_failed()
            raise

    async def retrieve_full_tracker(self, sender_id: str) -> Any:
        try:
            return await super().retrieve_full_tracker(sender_id)
        except Exception:
            _mark_failed()
            raise

    async def save(self, tracker: Any) -> None:
        try:
            await self._save_redacted(tracker)
        except Exception:
            _mark_failed()
            raise


# the number of this session's events in the store when the tracker was read
STORED_EVENTS = "_achilles_events_in_store"
