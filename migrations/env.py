"""Alembic's environment for the project's own tables (stores/schema.py explains the set-up).

Two ways in:
- stores/schema.py `upgrade_to_head` (every process at start) passes a connection
  that already holds the schema lock;
- the command line (alembic.ini: `make migrate`, `alembic upgrade head`) opens
  DATABASE_URL, or `-x database_url=...`, and takes the lock here.
"""

from __future__ import annotations

import logging.config

from alembic import context

from stores import db, schema

config = context.config


def database_url() -> str:
    from actions.config import load_settings  # the project's one reader of DATABASE_URL

    return (
        context.get_x_argument(as_dictionary=True).get("database_url")
        or load_settings().database_url
    )


def cli_command() -> str:
    """The alembic command being run from the command line ("" when called from code)."""
    command = getattr(config.cmd_opts, "cmd", None)
    return getattr(command[0], "__name__", "") if command else ""


def is_upgrade() -> bool:
    """Only an upgrade adopts a database made before the migrations; `current`,
    `check` and the like leave it as it is."""
    return bool(config.attributes.get("adopt_unversioned")) or cli_command() == "upgrade"


def target_metadata():
    """The code's table definitions, for autogenerate only (importing them all pulls in
    Rasa, through the SMS channel, which a plain upgrade does not need)."""
    if getattr(config.cmd_opts, "autogenerate", False) or cli_command() == "check":
        return schema.owned_metadata()
    return None


def run_migrations(connection) -> None:
    if is_upgrade():
        schema.adopt_unversioned(connection, context.script)
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        include_object=schema.include_object,
        compare_type=True,
    )
    with context.begin_transaction():  # the caller's transaction: nothing begins here
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit(
            "SQL scripts (--sql) are not supported: adopting a database made "
            "before the migrations needs to look at it. Run the upgrade itself."
        )
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    if config.config_file_name:
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    with schema.locked_transaction(db.engine_for(database_url())) as connection:
        run_migrations(connection)


main()
