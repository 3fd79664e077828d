"""The schema of the project's own tables, kept current by Alembic (migrations/).

Every process that uses the tables calls `upgrade_to_head` at start (the action
server, Rasa's tracker store, the console); `make migrate` and
`.venv/bin/alembic upgrade head` (alembic.ini) run the same migrations by hand.

- Once per process and database: later calls return at once.
- Several processes at once: the whole upgrade is one transaction holding the
  schema lock (PostgreSQL: the advisory lock of stores/sql.py `lock_schema`;
  SQLite: the database's write lock, taken by BEGIN IMMEDIATE). The others wait,
  then find the database at head.
- A database made before the migrations existed (tables from `create_all`,
  columns from console/db.py's old in-place `migrate()`, no `alembic_version`)
  is adopted: the tables it lacks are created as the first release had them,
  it is stamped with the newest revision whose columns it already has, and
  the upgrade goes on from there. Nothing is dropped.
- Tables that are not the project's (Rasa's `events`, anything else in the
  database) are never touched, and autogenerate ignores them.

Rasa's own `events` table is Rasa's: its tracker store creates it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from functools import cache
from pathlib import Path
from typing import Dict, Iterator, Optional, Set, Union

import sqlalchemy as sa

# Importing alembic logs the set-up of its autogenerate plugins at INFO: 7 lines of
# noise at every start of every process.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from alembic.config import Config  # noqa: E402
from alembic.operations import Operations  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

from stores import db  # noqa: E402
from stores.sql import lock_schema  # noqa: E402

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BASELINE = "0001"  # the first release's tables (migrations/versions/0001_first_release.py)

# The tables the migrations own. tests/test_migrations.py checks that this is
# exactly what the table definitions in TABLE_MODULES describe.
PROJECT_TABLES = frozenset(
    {
        "appointment_requests",
        "pending_form_answers",
        "sms_opt_outs",
        "console_users",
        "console_sessions",
        "console_login_throttle",
        "console_audit_log",
        "conversation_reviews",
        "intent_corrections",
        "conversation_summaries",
        "console_meta",
        "console_access_log",
        "sms_seen_messages",
        # issue 20: the "Needs action" inbox, the unanswered-topics report, SMS call-back numbers
        "inbox_items",
        "inbox_seen",
        "flagged_turns",
        "topic_themes",
        "sms_contact_numbers",
    }
)
# Modules whose module-level `metadata` defines those tables (for autogenerate and
# the test that compares the migrated schema with the code). Imported only then.
TABLE_MODULES = (
    "actions.appointment_store",
    "stores.form_answers",
    "console.db",
    "channels.sms.opt_outs",
    "channels.sms.seen",
    "console.tables",
    "stores.phone_vault",
)

# Revisions after the baseline whose columns console/db.py's `migrate()` used to
# add in place, with the columns that show a database already has them.
PRE_ALEMBIC_REVISIONS = (
    ("0002", {"console_users": {"role"}}),
    ("0003", {"console_users": {"totp_secret", "totp_last_step"}}),
    ("0004", {"console_audit_log": {"row_hash"}}),
)

_upgraded: Set[str] = set()
_upgrade_guard = threading.Lock()


def alembic_config(connection: Optional[sa.engine.Connection] = None) -> Config:
    """The migrations' configuration without alembic.ini (which is for the CLI).
    With `connection`, env.py uses it (already in a locked transaction)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
        config.attributes["adopt_unversioned"] = True
    return config


@contextlib.contextmanager
def locked_transaction(engine: sa.engine.Engine) -> Iterator[sa.engine.Connection]:
    """A connection in a transaction that holds the schema lock until it commits."""
    with engine.connect() as conn:
        with conn.begin():
            if conn.dialect.name == "sqlite":
                # pysqlite opens its transaction lazily and never before DDL: take
                # the write lock now, so DDL and the version row commit together
                # and other processes wait here (up to the busy timeout).
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                lock_schema(conn)
            yield conn


def _key(engine: sa.engine.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def upgrade_to_head(target: Union[str, sa.engine.Engine]) -> sa.engine.Engine:
    """Brings the project's tables in `target` (a database URL, opened with
    stores/db.py's engine, or an engine) to the newest revision; returns the engine."""
    engine = db.engine_for(target) if isinstance(target, str) else target
    with _upgrade_guard:  # other threads wait until the schema is there
        if _key(engine) in _upgraded:
            return engine
        with locked_transaction(engine) as conn:
            if not _at_head(conn):  # alembic runs (and logs) only when there is work
                from alembic import command

                command.upgrade(alembic_config(conn), "head")
        _upgraded.add(_key(engine))
    return engine


def _at_head(connection: sa.engine.Connection) -> bool:
    if not sa.inspect(connection).has_table("alembic_version"):
        return False
    stored = {
        row[0] for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))
    }
    return stored == {head_revision()}


def current_revision(engine: sa.engine.Engine) -> Optional[str]:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@cache
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _pre_existing_columns(connection: sa.engine.Connection) -> Optional[Dict[str, Set[str]]]:
    """The project's tables and their columns, if the database predates the
    migrations (no alembic_version); None if it is versioned or has none of them."""
    inspector = sa.inspect(connection)
    names = set(inspector.get_table_names())
    if "alembic_version" in names or not names & PROJECT_TABLES:
        return None
    return {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in names & PROJECT_TABLES
    }


def applied_revision(columns: Dict[str, Set[str]]) -> str:
    """The newest revision a pre-Alembic database already has (columns are added in
    revision order, so the first one missing ends the run)."""
    applied = BASELINE
    for revision, needed in PRE_ALEMBIC_REVISIONS:
        if not all(wanted <= columns.get(table, set()) for table, wanted in needed.items()):
            break
        applied = revision
    return applied


def adopt_unversioned(connection: sa.engine.Connection, script: ScriptDirectory) -> Optional[str]:
    """Stamps a database made before the migrations (see the module docstring) and
    returns the revision it was stamped with; None when there was nothing to adopt."""
    columns = _pre_existing_columns(connection)
    if columns is None:
        return None
    applied = applied_revision(columns)
    context = MigrationContext.configure(connection)
    # Which services ran decides which tables exist (the console made all of its own,
    # the action server only appointment_requests, ...): the baseline creates the rest.
    with Operations.context(context):
        script.get_revision(BASELINE).module.upgrade()
    context.stamp(script, applied)
    logger.warning(
        "database made before the schema migrations: adopted at revision %s "
        "(%d of the project's tables were there)",
        applied,
        len(columns),
    )
    return applied


def owned_metadata() -> sa.MetaData:
    """The table definitions in the code (TABLE_MODULES) in one MetaData."""
    combined = sa.MetaData()
    for name in TABLE_MODULES:
        for table in importlib.import_module(name).metadata.tables.values():
            table.to_metadata(combined)
    return combined


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Autogenerate looks at the project's tables only: a table in the database that
    no migration made (Rasa's `events`, ...) is not proposed for dropping."""
    if type_ == "table":
        return name in PROJECT_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in PROJECT_TABLES
