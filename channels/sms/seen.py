"""Twilio MessageSids already received, kept in the project database (issue 21).

Twilio retries a webhook call it did not see answered, and a captured request (its
signature stays valid) can be sent again. The in-memory (or Redis) mark of
channels/sms/state.py forgot every MessageSid at a restart, so a replay after a
restart was answered again. Here each MessageSid is inserted once into
`sms_seen_messages` (same DATABASE_URL as the opt-outs; migration 0007): a second
insert of the same id fails on the primary key, on any replica, after any restart.
Rows older than SEEN_RETENTION_SECONDS (30 days; a MessageSid holds no personal
data) are deleted now and then. The table is defined here, and only here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Optional

import sqlalchemy as sa

from stores.schema import upgrade_to_head

SEEN_RETENTION_SECONDS = 30 * 86400
PURGE_EVERY_SECONDS = 3600

metadata = sa.MetaData()

sms_seen_messages = sa.Table(
    "sms_seen_messages",
    metadata,
    sa.Column("message_sid", sa.String(64), primary_key=True),
    sa.Column("received_at", sa.Float, nullable=False, index=True),
)


class SeenMessages:
    """`first_time(sid)`: True the first time a MessageSid is seen, False after."""

    def __init__(self, database_url: str, clock=time.time) -> None:
        self._url = database_url
        self._engine: Optional[sa.engine.Engine] = None
        self._lock = threading.Lock()
        self._clock = clock
        self._last_purge = 0.0

    def _get_engine(self) -> sa.engine.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = upgrade_to_head(self._url)
            return self._engine

    def first_time_sync(self, message_sid: str) -> bool:
        now = self._clock()
        engine = self._get_engine()
        try:
            with engine.begin() as conn:
                conn.execute(
                    sms_seen_messages.insert().values(message_sid=message_sid[:64], received_at=now)
                )
        except sa.exc.IntegrityError:
            return False
        if now - self._last_purge >= PURGE_EVERY_SECONDS:
            self._last_purge = now
            with engine.begin() as conn:
                conn.execute(
                    sms_seen_messages.delete().where(
                        sms_seen_messages.c.received_at < now - SEEN_RETENTION_SECONDS
                    )
                )
        return True

    async def first_time(self, message_sid: str) -> bool:
        return await asyncio.to_thread(self.first_time_sync, message_sid)
