"""The one SQLAlchemy engine factory for the project's own tables.

The action server (appointment requests), the SMS channel (opt-outs) and the
staff console all open DATABASE_URL through `engine_for`, so every engine gets
the same safe defaults:
- owner-only SQLite file and folder (stores/private_storage.py);
- `hide_parameters`: a failed statement's exception, and any log line made
  from it, shows the SQL but never the values (message text, names, numbers);
- `pool_pre_ping`: a PostgreSQL connection dropped by a restart is replaced
  instead of failing the next patient's turn;
- SQLite: wait up to 30 s for another process's short write lock (Rasa's
  tracker store writes to the same file under `make run`), and allow the
  connection to be used from the worker threads the async code hands it to.

One engine per URL per process (cached). The tables are made and changed by the
migrations (stores/schema.py `upgrade_to_head`).
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from stores.private_storage import secure_database_url

SQLITE_BUSY_TIMEOUT_S = 30


@cache
def engine_for(database_url: str) -> sa.engine.Engine:
    """The process's engine for `database_url`, created on first use."""
    secure_database_url(database_url)
    connect_args = {}
    if sa.engine.make_url(database_url).get_backend_name() == "sqlite":
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    return sa.create_engine(
        database_url,
        future=True,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args=connect_args,
    )
