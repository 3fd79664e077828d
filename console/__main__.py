"""`python -m console <command>`: serve, create-user, export-corrections, retention."""
from __future__ import annotations

import datetime as dt
import getpass
import logging
import sys
from pathlib import Path

import click

from console.settings import load_console_settings


def cli_user() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli"


@click.group()
def main() -> None:
    """Staff console of the Achilles assistant."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="Interface (default: $HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: $CONSOLE_PORT or 8090).")
@click.option("--threads", default=8, show_default=True)
def serve(host, port, threads) -> None:
    """Runs the console web server (waitress)."""
    from cluster.settings import check_cluster_config
    from console.app import create_app
    check_cluster_config("console")  # with several replicas: shared database and secrets
    settings = load_console_settings()
    app = create_app(settings)
    started = dt.datetime.now()
    app.extensions["console"]["refresh"](force=True)
    logging.getLogger("console").info("summaries up to date in %.1fs",
                                      (dt.datetime.now() - started).total_seconds())
    from console.jobs import BackgroundJobs
    background = BackgroundJobs.from_env(app.extensions["console"]["engine"],
                                         app.extensions["console"]["refresh"])
    if background.enabled:
        background.start()
    host, port = host or settings.host, port or settings.port
    click.echo(f"Staff console: http://{host}:{port}/  (Ctrl-C stops it)")
    import waitress
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="console")
    finally:
        background.stop()


@main.command("create-user")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--update", is_flag=True, help="Set a new password for an existing user.")
def create_user(username, password_stdin, update) -> None:
    """Creates a staff user (asks for the password; there is no default)."""
    from console import auth
    from console.db import engine_for
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        auth.check_new_password(password)
        outcome = auth.create_user(engine_for(load_console_settings().database_url),
                                   username, password, update=update)
    except auth.UserError as error:
        raise click.ClickException(str(error))
    click.echo(f"User {username} {outcome}.")


@main.command("export-corrections")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="YAML file to write ('-' for stdout).")
def export_corrections(out) -> None:
    """Writes staff intent corrections as Rasa NLU YAML for the team to review."""
    from console import audit, exports
    from console.db import engine_for, intent_corrections
    import sqlalchemy as sa
    engine = engine_for(load_console_settings().database_url)
    user = cli_user()
    with engine.begin() as conn:
        text, count = exports.corrections_yaml(conn, user, dt.datetime.now(dt.timezone.utc))
        senders = [r[0] for r in conn.execute(sa.select(intent_corrections.c.sender_id).distinct())]
        audit.record_many(conn, user, "export_corrections", senders, detail=f"out={out}")
    if out == "-":
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {count} corrections to {out}", err=True)


@main.command()
@click.option("--days", required=True, type=click.IntRange(min=1),
              help="Delete conversations whose last message is older than this.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def retention(days, dry_run) -> None:
    """Deletes old conversations (events + console rows)."""
    from console.db import engine_for
    from console.jobs import retention_once
    engine = engine_for(load_console_settings().database_url)
    result = retention_once(engine, days, cli_user(), dry_run=dry_run)
    if result is None:  # cron on several nodes: one of them does it
        click.echo("Retention is running on another node; nothing done here.")
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {result.conversations} conversations ({result.events} events, "
               f"{result.console_rows} console rows) and {result.appointments} closed appointment "
               f"requests older than {days} days; kept {result.open_appointments_kept} open "
               f"appointment requests older than that.")


@main.command("refresh-summaries")
@click.option("--rebuild", is_flag=True, help="Drop the summaries and fold every event again.")
def refresh_summaries(rebuild) -> None:
    """Brings the conversation summaries up to date (the server also does this)."""
    from console.db import engine_for
    from console import jobs
    engine = engine_for(load_console_settings().database_url)
    n = jobs.refresh_summaries(engine, rebuild=rebuild)
    if n is None:
        raise click.ClickException("Another node has been refreshing the summaries for "
                                   "a while; try again later.")
    click.echo(f"Folded {n} events.")


if __name__ == "__main__":
    main(prog_name="python -m console")
