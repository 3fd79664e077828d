"""Rasa's SQL tracker store, reporting failures to the channel that runs the turn.

Rasa wraps every tracker store in a FailSafeTrackerStore that swallows errors
(a failed read gives an empty tracker, a failed write goes to memory), so a turn
"succeeds" even when the conversation was not recorded for staff. This subclass
marks the current turn when the database fails; the channels (channels/rest.py)
then add the office phone number to the reply. Same configuration as `type: SQL`.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any, Optional

from rasa.core.tracker_store import SQLTrackerStore

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
            await super().save(tracker)
        except Exception:
            _mark_failed()
            raise
