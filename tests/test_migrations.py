"""The schema migrations of the project's own tables (migrations/, stores/schema.py).

Every scenario runs on SQLite and, when Debian's PostgreSQL is installed (as for
tests/cluster/), on a throwaway PostgreSQL server started here (fsync off, a few
seconds): a fresh database reaches head; a first-release database keeps its rows
and gets the role backfill; databases made by the create_all code of before the
migrations are adopted; several processes upgrading one fresh database at once.
At head the schema is exactly what the table definitions in the code describe
(alembic's autogenerate comparison), so a model change without a migration fails.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from servers import PROJECT_ROOT
from stores import schema
from stores.db import engine_for

NOW = dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc)
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of our own (cluster/postgres.py) for this module."""
    from cluster.packages import postgres_bin
    from cluster.postgres import DB_USER, PostgresServer
    from cluster.processes import free_port, wait_until

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="achilles-migrations-test-"))
    root.chmod(0o755)  # the postgres user must reach its data directory
    (root / "logs").mkdir()
    server = PostgresServer(root, root / "logs", free_port(), durable=False)
    server.prepare()
    proc = server.proc().start()
    try:
        wait_until(lambda: server.sql("SELECT 1") == "1", 60, "postgres", proc)
        password = server.create_database()
        yield SimpleNamespace(server=server, user=DB_USER, password=password)
    finally:
        proc.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request, tmp_path):
    """A function returning the URL of a new, empty database on the backend."""

    def make() -> str:
        number = next(_numbers)
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'db{number}.db'}"
        pg = request.getfixturevalue("postgres")
        pg.server.sql(f"CREATE DATABASE migrations_{number} OWNER {pg.user}")
        return (
            f"postgresql://{pg.user}:{pg.password}@127.0.0.1:{pg.server.port}/migrations_{number}"
        )

    return make


def differences(engine: sa.engine.Engine, metadata: sa.MetaData = None):
    """What autogenerate would put into a new migration (nothing, at head)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": schema.include_object,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return compare_metadata(context, metadata or schema.owned_metadata())


def tables_of(engine: sa.engine.Engine):
    return set(sa.inspect(engine).get_table_names())


def assert_at_head(engine: sa.engine.Engine) -> None:
    assert schema.current_revision(engine) == schema.head_revision()
    assert tables_of(engine) >= schema.PROJECT_TABLES
    assert differences(engine) == []


# ---------------------------------------------------------------- the databases of before


def first_release_metadata() -> sa.MetaData:
    """The tables the first release's create_all made: the two that later got columns
    as they were then, the other six as they are still defined today."""
    metadata = sa.MetaData()
    today = schema.owned_metadata()
    for name in (
        "appointment_requests",
        "console_login_throttle",
        "conversation_reviews",
        "intent_corrections",
        "conversation_summaries",
        "console_meta",
    ):
        today.tables[name].to_metadata(metadata)
    sa.Table(
        "console_users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(120), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.Column("is_active", sa.Boolean, nullable=False, default=True),
    )
    sa.Table(
        "console_audit_log",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(255), index=True),
        sa.Column("detail", sa.Text),
        sa.Column("remote_addr", sa.String(64)),
    )
    return metadata


def create_all_of(url: str, *table_names: str) -> sa.engine.Engine:
    """Tables as today's code made them before the migrations: each service's
    create_all (of its own tables, columns and all), no alembic_version."""
    engine = engine_for(url)
    today = schema.owned_metadata()
    today.create_all(engine, tables=[today.tables[name] for name in table_names])
    return engine


def rows(engine: sa.engine.Engine, table: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")).all()


def insert_appointment(conn) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO appointment_requests (created_at, conversation_id, channel, patient_name, "
            "phone, consent) VALUES (:at, 'c-1', 'rest', 'Maria Lopez', '310 555 0123', :yes)"
        ),
        {"at": NOW, "yes": True},
    )


# ---------------------------------------------------------------- tests


def test_a_fresh_database_reaches_head(new_database):
    engine = schema.upgrade_to_head(new_database())
    assert_at_head(engine)
    assert schema.head_revision() == "0009"
    assert "events" not in tables_of(engine)  # Rasa's table is Rasa's to create


def test_the_code_and_the_migrations_describe_the_same_tables(new_database):
    """A model change without a migration is found: here a column only the code has."""
    assert set(schema.owned_metadata().tables) == schema.PROJECT_TABLES
    engine = schema.upgrade_to_head(new_database())
    changed = schema.owned_metadata()
    changed.tables["console_meta"].append_column(sa.Column("comment", sa.Text))
    found = differences(engine, changed)
    assert [d[0] for d in found] == ["add_column"] and found[0][3].name == "comment", found


def test_a_first_release_database_keeps_its_rows_and_users_become_admins(new_database):
    engine = engine_for(new_database())
    first_release_metadata().create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO console_users (username, password_hash, created_at, is_active) "
                "VALUES ('maria', 'scrypt:32768:8:1$salt$hash', :at, :yes), "
                "('omar', 'pbkdf2:sha256$salt$hash', :at, :no)"
            ),
            {"at": NOW, "yes": True, "no": False},
        )
        conn.execute(
            sa.text(
                "INSERT INTO console_audit_log (at, username, action, detail) "
                "VALUES (:at, 'maria', 'login', 'kept')"
            ),
            {"at": NOW},
        )
        insert_appointment(conn)
        conn.execute(sa.text("INSERT INTO console_meta (key, value) VALUES ('k', 'v')"))
    users_before = rows(engine, "console_users")

    schema.upgrade_to_head(engine)
    assert_at_head(engine)
    users = {r.username: r for r in rows(engine, "console_users")}
    assert {name: r.role for name, r in users.items()} == {"maria": "admin", "omar": "admin"}
    assert [tuple(r)[:6] for r in users.values()] == [tuple(r) for r in users_before]
    assert all(r.totp_secret is None and r.totp_last_step is None for r in users.values())
    audit = rows(engine, "console_audit_log")
    assert [(r.username, r.action, r.detail, r.row_hash) for r in audit] == [
        ("maria", "login", "kept", None)
    ]
    assert [(r.patient_name, r.phone, r.status) for r in rows(engine, "appointment_requests")] == [
        ("Maria Lopez", "310 555 0123", "new")
    ]
    assert [tuple(r) for r in rows(engine, "console_meta")] == [("k", "v")]
    with engine.begin() as conn:  # new users get the least privilege again
        conn.execute(
            sa.text(
                "INSERT INTO console_users (username, password_hash, created_at, "
                "is_active) VALUES ('new', 'x', :at, :yes)"
            ),
            {"at": NOW, "yes": True},
        )
    assert {r.username: r.role for r in rows(engine, "console_users")}["new"] == "reviewer"


# which tables a database made by the code of before the migrations has depends on
# which services ran; the revision it is stamped with, on the columns it has
SERVICES = {
    "everything": (list(schema.PROJECT_TABLES), "0004"),
    "action server only": (["appointment_requests"], "0001"),
    "tracker store and SMS only": (["pending_form_answers", "sms_opt_outs"], "0001"),
    "console without the SMS channel": (sorted(schema.PROJECT_TABLES - {"sms_opt_outs"}), "0004"),
}


@pytest.mark.parametrize("services", list(SERVICES))
def test_a_database_made_by_create_all_is_adopted(new_database, services, caplog):
    tables, stamped = SERVICES[services]
    engine = create_all_of(new_database(), *tables)
    with engine.begin() as conn:
        if "appointment_requests" in tables:
            insert_appointment(conn)
        if "console_users" in tables:
            conn.execute(
                sa.text(
                    "INSERT INTO console_users (username, password_hash, created_at, is_active, "
                    "role) VALUES ('rita', 'x', :at, :yes, 'reviewer')"
                ),
                {"at": NOW, "yes": True},
            )
    with caplog.at_level("WARNING", logger="stores.schema"):
        schema.upgrade_to_head(engine)
    assert f"adopted at revision {stamped}" in caplog.text
    assert_at_head(engine)
    if "appointment_requests" in tables:
        assert [r.patient_name for r in rows(engine, "appointment_requests")] == ["Maria Lopez"]
    if "console_users" in tables:  # roles given since are kept: no second backfill
        assert [(r.username, r.role) for r in rows(engine, "console_users")] == [
            ("rita", "reviewer")
        ]


def test_older_code_creating_the_sms_table_after_the_migrations_changes_nothing(new_database):
    """Older code (a replica not yet upgraded, during a rolling upgrade) ran
    create_all for the SMS table under the schema lock: after the migrations it
    changes nothing."""
    from stores.sql import lock_schema

    sms = schema.owned_metadata()
    engine = engine_for(new_database())
    schema.upgrade_to_head(engine)
    with engine.begin() as conn:
        lock_schema(conn)
        sms.create_all(conn, tables=[sms.tables["sms_opt_outs"]])
    assert_at_head(engine)


def test_the_command_line_upgrade(new_database, tmp_path):
    """What `make migrate` runs: alembic with alembic.ini, DATABASE_URL from the environment."""
    url = new_database()
    create_all_of(url, *schema.PROJECT_TABLES - {"sms_opt_outs"})
    for _ in range(2):  # the second run finds nothing to do
        done = subprocess.run(
            [str(Path(sys.executable).with_name("alembic")), "upgrade", "head"],
            cwd=PROJECT_ROOT,
            env={"DATABASE_URL": url, "PATH": "/usr/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert_at_head(engine_for(url))


UPGRADE_AT = """
import sys, time
from stores.schema import upgrade_to_head
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
upgrade_to_head(sys.argv[1])
"""


def test_several_processes_upgrade_one_fresh_database_at_once(new_database):
    url = new_database()
    start = time.time() + 3  # after every process has imported alembic
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_AT, url, str(start)],
            cwd=PROJECT_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, errors
    assert_at_head(engine_for(url))


def test_threads_return_only_once_the_schema_is_there(new_database):
    url = new_database()
    seen, barrier = [], threading.Barrier(6)

    def upgrade() -> None:
        barrier.wait()
        seen.append(tables_of(schema.upgrade_to_head(url)) >= schema.PROJECT_TABLES)

    threads = [threading.Thread(target=upgrade) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert seen == [True] * 6
    assert_at_head(engine_for(url))
