"""`python -m console <command>`: serve, users (create-user, set-role, disable-user,
enable-user, list-users, enroll-totp, remove-totp), export-corrections, retention,
refresh-summaries, verify-audit."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import sys
from pathlib import Path
from typing import Optional

import click

from console.roles import ROLES
from console.settings import ConsoleSettings, load_console_settings
from stores.private_storage import restrict_umask, write_private_lines


def cli_user() -> str:
    try:
        return "cli:" + getpass.getuser()
    except Exception:
        return "cli"


@click.group()
def main() -> None:
    """Staff console of the Achilles assistant."""
    restrict_umask()  # files this process creates (database, secret key) are owner-only
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def console_bind_host(option: Optional[str], settings: ConsoleSettings) -> str:
    """--host, else CONSOLE_HOST, else 127.0.0.1 (console/settings.py). Staff-only: it
    never follows HOST, and an empty value is refused rather than read as every interface."""
    host = option if option is not None else settings.host
    if not host.strip():
        raise click.UsageError(
            "CONSOLE_HOST (or --host) is empty; an empty bind address "
            "would listen on every interface. Unset it for 127.0.0.1."
        )
    return host.strip()


@main.command()
@click.option(
    "--host",
    default=None,
    help="Interface (default: $CONSOLE_HOST or 127.0.0.1; never the public $HOST).",
)
@click.option("--port", default=None, type=int, help="Port (default: $CONSOLE_PORT or 8090).")
@click.option("--threads", default=8, show_default=True)
def serve(host, port, threads) -> None:
    """Runs the console web server (waitress)."""
    settings = load_console_settings()
    host = console_bind_host(host, settings)
    from console.app import create_app
    from settings.replicas import check_cluster_config

    check_cluster_config("console")  # with several replicas: shared database and secrets
    app = create_app(settings)
    services = app.extensions["console"]
    started = dt.datetime.now()
    services.refresh(force=True)
    sealed = _reseal_seeds(services.engine, settings)
    if sealed:
        logging.getLogger("console").warning("encrypted %d TOTP seeds stored in clear", sealed)
    logging.getLogger("console").info(
        "summaries up to date in %.1fs", (dt.datetime.now() - started).total_seconds()
    )
    # summary refresh and retention, each on one node at a time (console/jobs.py)
    from console.jobs import BackgroundJobs

    background = BackgroundJobs.from_settings(services.engine, services.refresh, settings)
    if settings.retention_days > 0:
        logging.getLogger("console").info(
            "retention: conversations older than %d days are deleted every %g minutes",
            settings.retention_days,
            settings.retention_interval_minutes,
        )
    else:
        logging.getLogger("console").warning("RETENTION_DAYS=0: old conversations are kept")
    if background.enabled:
        background.start()
    port = port or settings.port
    click.echo(f"Staff console: http://{host}:{port}/  (Ctrl-C stops it)")
    import waitress

    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="console")
    finally:
        background.stop()


def _engine():
    from console.audit import open_engine

    return open_engine(load_console_settings().database_url)


def _change_user(change, username: str, value):
    """Runs an account change (console/accounts.py); a refused one (no such user,
    the last admin...) becomes the command's error message. Returns the user name."""
    from console import accounts

    try:
        return change(_engine(), username, value)
    except accounts.UserError as error:
        raise click.ClickException(str(error)) from error


def _audit(action: str, detail: str) -> None:
    from console import audit

    with _engine().begin() as conn:
        audit.record(conn, cli_user(), action, detail=detail)


ROLE_CHOICE = click.Choice(list(ROLES))


@main.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    type=ROLE_CHOICE,
    default=None,
    help="reviewer (masked conversations; the default for new users), callback "
    "(appointment queue with phone numbers) or admin (everything).",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option(
    "--update",
    is_flag=True,
    help="Set a new password (and --role, if given) for an existing user; "
    "ends that user's sessions.",
)
def create_user(username, role, password_stdin, update) -> None:
    """Creates a staff user (asks for the password; there is no default)."""
    from console import accounts
    from console.passwords import PasswordError, check_new_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password, username)
        outcome = accounts.create_user(_engine(), username, password, update=update, role=role)
    except (accounts.UserError, PasswordError) as error:
        raise click.ClickException(str(error)) from error
    row = accounts.get_user(_engine(), username)
    _audit("user_" + outcome, f"user={row.username} role={row.role}")
    click.echo(f"User {username} {outcome} (role {row.role}).")


@main.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
def set_role(username, role) -> None:
    """Gives a user another role (takes effect on their next request)."""
    from console import accounts

    name = _change_user(accounts.set_role, username, role)
    _audit("user_role", f"user={name} role={role}")
    click.echo(f"User {name} now has the role {role}.")


@main.command("disable-user")
@click.argument("username")
def disable_user(username) -> None:
    """Disables a user: no more logins, and their open sessions end at once."""
    from console import accounts

    name = _change_user(accounts.set_active, username, False)
    _audit("user_disable", f"user={name}")
    click.echo(f"User {name} disabled; their sessions have ended.")


@main.command("enable-user")
@click.argument("username")
def enable_user(username) -> None:
    """Enables a disabled user again."""
    from console import accounts

    name = _change_user(accounts.set_active, username, True)
    _audit("user_enable", f"user={name}")
    click.echo(f"User {name} enabled.")


@main.command("list-users")
def list_users() -> None:
    """Lists users: name, role, active, second factor, last login."""
    from console import accounts

    for row in accounts.list_users(_engine()):
        last = (
            row.last_login_at.isoformat(sep=" ", timespec="minutes")
            if row.last_login_at
            else "never"
        )
        click.echo(
            f"{row.username:30} {row.role:9} {'active' if row.is_active else 'disabled':9} "
            f"{'2fa' if row.totp_secret else 'no-2fa':7} last login {last}"
        )


@main.command("enroll-totp")
@click.argument("username")
def enroll_totp(username) -> None:
    """Sets up a second factor (TOTP authenticator app) for a user.

    Prints the secret and an otpauth:// URI for the app, then asks for a code from
    the app; only a correct code stores the secret. Replaces an earlier one and
    ends the user's sessions."""
    from console import accounts, totp
    from console.db import utcnow

    engine = _engine()
    row = accounts.get_user(engine, username)
    if row is None:
        raise click.ClickException(f"No user {username!r}.")
    secret = totp.new_totp_secret()
    click.echo(f"Secret for {row.username}: {secret}")
    click.echo(f"URI (paste or turn into a QR code): {totp.totp_uri(secret, row.username)}")
    for _ in range(3):
        code = click.prompt("Code shown by the app", default="", show_default=False)
        if totp.totp_match(secret, code, utcnow()) is not None:
            break
        click.echo("That code does not match; check the app's clock and try again.", err=True)
    else:
        raise click.ClickException("Not enrolled: no matching code.")
    accounts.set_totp(engine, row.username, totp.SeedBox(_settings().totp_keys()).seal(secret))
    _audit("user_totp_enrolled", f"user={row.username}")
    click.echo(f"Second factor enrolled for {row.username}; their sessions have ended.")


def _settings():
    return load_console_settings()


def _reseal_seeds(engine, settings) -> int:
    """Seeds written in clear by an older console, encrypted (needs the key only then)."""
    import sqlalchemy as sa

    from console import accounts, totp
    from console.db import users

    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(users.c.totp_secret).where(users.c.totp_secret.isnot(None))
        ).all()
    if all(totp.is_sealed(s) for (s,) in stored):
        return 0
    return accounts.reseal_totp_seeds(engine, totp.SeedBox(settings.totp_keys()))


@main.command("rotate-totp-key")
def rotate_totp_key() -> None:
    """Encrypts every TOTP seed with a new key (codes keep working).

    With CONSOLE_TOTP_KEY from the environment: set it to "NEW,OLD" (the new key
    first), run this, then set it to "NEW" alone. With the generated key file
    (var/console_totp_key): a new key is written at its top, the seeds re-encrypted,
    and the old key removed from the file."""
    import secrets as random_secrets

    from console import accounts, totp

    settings = _settings()
    engine = _engine()
    if settings.totp_key_in_env:
        keys = settings.totp_keys()
        changed = accounts.reseal_totp_seeds(engine, totp.SeedBox(keys))
        note = "now set CONSOLE_TOTP_KEY to the first key alone" if len(keys) > 1 else ""
    else:
        path = settings.totp_key_file
        old = settings.totp_keys()  # creates the file the first time
        new = random_secrets.token_hex(32)
        write_private_lines(path, [new] + old)  # both keys while re-encrypting
        changed = accounts.reseal_totp_seeds(engine, totp.SeedBox([new] + old))
        write_private_lines(path, [new])
        note = f"new key in {path} (back it up with the database backups)"
    _audit("totp_key_rotated", f"seeds={changed}")
    click.echo(f"Re-encrypted {changed} TOTP seeds with the new key. {note}".strip())


@main.command("remove-totp")
@click.argument("username")
def remove_totp(username) -> None:
    """Removes a user's second factor (e.g. a lost phone); ends their sessions."""
    from console import accounts

    name = _change_user(accounts.set_totp, username, None)
    _audit("user_totp_removed", f"user={name}")
    click.echo(f"Second factor removed for {name}.")


@main.command("verify-audit")
def verify_audit() -> None:
    """Checks the audit log's hash chain; exit status 1 if a row was changed or removed."""
    from console import audit

    report = audit.verify(_engine())
    if not report.ok:
        click.echo(
            f"Audit log BROKEN: {report.problem} (checked {report.rows} rows before it).", err=True
        )
        sys.exit(1)
    click.echo(f"Audit log intact: {report.rows} rows; head {report.head}")


@main.command("export-corrections")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="YAML file to write ('-' for stdout).",
)
def export_corrections(out) -> None:
    """Writes staff intent corrections as Rasa NLU YAML for the team to review."""
    import sqlalchemy as sa

    from console import audit, exports
    from console.db import intent_corrections

    engine = _engine()
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
@click.option(
    "--days",
    required=True,
    type=click.IntRange(min=1),
    help="Delete conversations whose last message is older than this.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def retention(days, dry_run) -> None:
    """Deletes old conversations (events + console rows)."""
    from console.jobs import retention_once

    engine = _engine()
    result = retention_once(engine, days, cli_user(), dry_run=dry_run)
    if result is None:  # cron on several nodes: one of them does it
        click.echo("Retention is running on another node; nothing done here.")
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(
        f"{verb} {result.conversations} conversations ({result.events} events, "
        f"{result.console_rows} console rows) and {result.appointments} closed appointment "
        f"requests older than {days} days; kept {result.open_appointments_kept} open "
        f"appointment requests older than that."
    )


@main.command("refresh-summaries")
@click.option("--rebuild", is_flag=True, help="Drop the summaries and fold every event again.")
def refresh_summaries(rebuild) -> None:
    """Brings the conversation summaries up to date (the server also does this)."""
    from console import jobs

    engine = _engine()
    n = jobs.refresh_summaries(engine, rebuild=rebuild)
    if n is None:
        raise click.ClickException(
            "Another node has been refreshing the summaries for a while; try again later."
        )
    click.echo(f"Folded {n} events.")


if __name__ == "__main__":
    main(prog_name="python -m console")
