"""SMS opt-outs: the `sms_opt_outs` table, its store, and the fail-closed rule.

Kept in the project database (DATABASE_URL, the tracker store's), keyed by the
hashed number, so an opt-out survives restarts and is shared by replicas. The
table is defined and created here, and only here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from typing import Optional

import sqlalchemy as sa

from channels.sms.state import InMemoryStateStore
from stores.schema import upgrade_to_head

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

sms_opt_outs = sa.Table(
    "sms_opt_outs",
    metadata,
    # the keyed hash of the number, i.e. the SMS conversation id; never the number
    sa.Column("number_hash", sa.String(80), primary_key=True),
    sa.Column("opted_out", sa.Boolean, nullable=False),
    sa.Column("keyword", sa.String(16)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


class OptOutStore:
    """Opt-out state in the project database (SQLAlchemy Core, same DATABASE_URL
    as the tracker store). Blocking calls run in a worker thread."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._engine: Optional[sa.engine.Engine] = None
        self._lock = threading.Lock()

    def _get_engine(self) -> sa.engine.Engine:
        with self._lock:
            if self._engine is None:
                # the shared engine with the tables migrated (stores/schema.py; safe
                # when several replicas start at once)
                self._engine = upgrade_to_head(self._url)
            return self._engine

    def is_opted_out_sync(self, number_hash: str) -> bool:
        with self._get_engine().connect() as conn:
            value = conn.execute(
                sa.select(sms_opt_outs.c.opted_out).where(sms_opt_outs.c.number_hash == number_hash)
            ).scalar()
        return bool(value)

    def set_sync(self, number_hash: str, opted_out: bool, keyword: Optional[str]) -> None:
        values = dict(
            opted_out=opted_out, keyword=keyword, updated_at=dt.datetime.now(dt.timezone.utc)
        )
        engine = self._get_engine()
        for _ in range(2):
            with engine.begin() as conn:
                updated = conn.execute(
                    sms_opt_outs.update()
                    .where(sms_opt_outs.c.number_hash == number_hash)
                    .values(**values)
                ).rowcount
            if updated:
                return
            try:
                with engine.begin() as conn:
                    conn.execute(sms_opt_outs.insert().values(number_hash=number_hash, **values))
                return
            except sa.exc.IntegrityError:  # another replica inserted it: update it
                continue

    async def is_opted_out(self, number_hash: str) -> bool:
        return await asyncio.to_thread(self.is_opted_out_sync, number_hash)

    async def set(self, number_hash: str, opted_out: bool, keyword: Optional[str]) -> None:
        await asyncio.to_thread(self.set_sync, number_hash, opted_out, keyword)


class OptOuts:
    """The opt-out state the channel acts on. The database decides; if it cannot be
    read, what this process last recorded, else None: unknown, which the caller
    treats as opted out (fail closed: better no reply than a text to an
    opted-out number). `store`: an `OptOutStore` or anything with its two
    async methods."""

    RECENT_TTL_SECONDS = 7 * 86400

    def __init__(self, store: OptOutStore) -> None:
        self.store = store
        # last opt-out/in seen here: a fallback if the database cannot be read
        self._recent = InMemoryStateStore(max_entries=50_000)

    async def state(self, conversation_id: str) -> Optional[bool]:
        try:
            return await self.store.is_opted_out(conversation_id)
        except Exception:
            known = await self._recent.get(conversation_id)
            logger.exception(
                "Could not read the opt-out state of %s; treating it as %s",
                conversation_id,
                "opted in" if known == "0" else "opted out",
            )
            return None if known is None else known == "1"

    async def record(self, conversation_id: str, opted_out: bool, keyword: Optional[str]) -> None:
        await self._recent.set(conversation_id, "1" if opted_out else "0", self.RECENT_TTL_SECONDS)
        try:
            await self.store.set(conversation_id, opted_out, keyword)
        except Exception:
            logger.exception(
                "Opt-%s of conversation %s NOT saved in the database (kept in "
                "this process's memory only); record it by hand",
                "out" if opted_out else "in",
                conversation_id,
            )
