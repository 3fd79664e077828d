"""Rasa's SQL tracker store, reporting failures to the channel that runs the turn.

Rasa wraps every tracker store in a FailSafeTrackerStore that swallows errors
(a failed read gives an empty tracker, a failed write goes to memory), so a turn
"succeeds" even when the conversation was not recorded for staff. This subclass
marks the current turn when the database fails; the channels (channels/rest.py)
then add the office phone number to the reply. Same configuration as `type: SQL`.

Same table, same rows, less work per turn (found by profiling, bench/README.md):
- reading a conversation selects only the `data` column of Rasa's own query
  instead of building an ORM object per event;
- saving does not count the conversation's stored events again (Rasa runs a
  `count(*)` with a sub-query on every save to know which events are new): the
  number read at the start of the turn is kept on the tracker. Turns of one
  conversation run one at a time (the lock store), so nothing else wrote to it
  in between; any other save (a tracker not read here, a second save of the
  same tracker) takes Rasa's own path. The new events go out in one
  multi-row INSERT (executemany) instead of the ORM's unit of work.
"""
from __future__ import annotations

import contextvars
import itertools
import json
from dataclasses import dataclass
from typing import Any, Optional

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from cluster.settings import check_cluster_config


@dataclass
class TurnStorageHealth:
    failed: bool = False


_current_turn: contextvars.ContextVar[Optional[TurnStorageHealth]] = contextvars.ContextVar(
    "turn_storage_health", default=None)


def begin_turn() -> TurnStorageHealth:
    """Call before handing a message to Rasa; check `.failed` afterwards."""
    health = TurnStorageHealth()
    _current_turn.set(health)
    return health


def _mark_failed() -> None:
    health = _current_turn.get()
    if health is not None:
        health.failed = True


class ObservedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # every Rasa server loads this store (endpoints.yml): with several replicas
        # configured it refuses to start unless they share everything they must
        check_cluster_config("rasa")
        super().__init__(*args, **kwargs)

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
            await self._save(tracker)
        except Exception:
            _mark_failed()
            raise

    # ---- less work per turn (module docstring)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool
                        ) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = (self._event_query(session, sender_id, fetch_events_from_all_sessions)
                    .with_entities(self.SQLEvent.data).all())
        if not (self.domain and rows):
            return None
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)
        if not fetch_events_from_all_sessions:
            # what _additional_events would count at save time (same query)
            tracker.__dict__[STORED_EVENTS] = len(rows)
        return tracker

    async def _save(self, tracker: DialogueStateTracker) -> None:
        stored = tracker.__dict__.pop(STORED_EVENTS, None)
        if stored is None or stored > len(tracker.events):
            await super().save(tracker)
            return
        await self.stream_events(tracker)
        rows = []
        for event in itertools.islice(tracker.events, stored, len(tracker.events)):
            data = event.as_dict()  # the columns exactly as SQLTrackerStore.save fills them
            rows.append(dict(
                sender_id=tracker.sender_id, type_name=event.type_name,
                timestamp=data.get("timestamp"),
                intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                action_name=data.get("name"), data=json.dumps(data)))
        if not rows:
            return
        with self.session_scope() as session:
            session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()


# the number of this session's events in the store when the tracker was read
STORED_EVENTS = "_achilles_events_in_store"
