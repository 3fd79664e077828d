"""Logging in: the password check, the second factor and the lock-out after repeated
failed logins. Accounts are console/accounts.py, sessions console/sessions.py.

Lock-out. Every attempt for a user name (existing or not, so the lock-out does not
tell which names are real) first takes a slot with one atomic
``UPDATE ... SET failures = failures + 1`` that only matches when the name is not
locked; the attempt that takes the MAX_FAILED_LOGINS-th slot also sets
``locked_until``. Only then is the password checked. So parallel guesses are each
counted, at most MAX_FAILED_LOGINS passwords are ever checked per lock-out period,
and nothing clears a lock before it expires (a successful login resets the counter
only when no lock is set). While locked, even the right password is refused.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from console.accounts import name_key
from console.db import as_utc, login_throttle, users
from console.passwords import hash_password, needs_rehash, verify_password
from console.settings import MAX_FAILED_LOGINS
from console.totp import totp_match

_dummy_lock = threading.Lock()
_dummy_hash: Optional[str] = None


def _dummy() -> str:
    """Verified against when the user does not exist, so both paths take as long."""
    global _dummy_hash
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_hex(16))
        return _dummy_hash


def _reserve_once(conn, key: str, now: dt.datetime, lockout: dt.timedelta) -> int:
    """Counts one attempt for `key`; returns its number (1..MAX), or 0 when locked."""
    not_locked = sa.or_(
        login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until <= now
    )
    counted = conn.execute(
        login_throttle.update()
        .where(login_throttle.c.username == key)
        .where(not_locked)
        .values(failures=login_throttle.c.failures + 1, last_failure_at=now, locked_until=None)
    ).rowcount  # only an expired lock is cleared
    if not counted:
        if (
            conn.execute(
                sa.select(login_throttle.c.username).where(login_throttle.c.username == key)
            ).first()
            is not None
        ):
            return 0  # locked (the row exists, its lock has not expired)
        conn.execute(login_throttle.insert().values(username=key, failures=1, last_failure_at=now))
    failures = conn.execute(
        sa.select(login_throttle.c.failures).where(login_throttle.c.username == key)
    ).scalar()
    if failures >= MAX_FAILED_LOGINS:
        conn.execute(
            login_throttle.update()
            .where(login_throttle.c.username == key)
            .values(failures=0, locked_until=now + lockout)
        )
    return failures


def reserve_attempt(
    engine: sa.engine.Engine, key: str, now: dt.datetime, lockout: dt.timedelta
) -> int:
    for _ in range(5):
        try:
            with engine.begin() as conn:
                return _reserve_once(conn, key, now, lockout)
        except IntegrityError:  # two first attempts for a new name at once: count again
            continue
    return 0


def is_locked(engine: sa.engine.Engine, username: str, now: dt.datetime) -> bool:
    with engine.connect() as conn:
        until = conn.execute(
            sa.select(login_throttle.c.locked_until).where(
                login_throttle.c.username == name_key(username)
            )
        ).scalar()
    return until is not None and as_utc(until) > now


def authenticate(
    engine: sa.engine.Engine,
    username: str,
    password: str,
    *,
    now: dt.datetime,
    lockout_minutes: float,
    code: str = "",
    require_2fa: bool = False,
    seeds=None,
    gate: Optional[threading.Semaphore] = None,
    gate_timeout: float = 10.0,
) -> Tuple[Optional[sa.engine.Row], str]:
    """Returns (user row, "ok") or (None, status): "locked" (no check was made),
    "invalid" (user name or password), "bad_code" (second factor), "no_2fa" (required
    but not enrolled), "busy" (too many password checks at once). Every status but
    "ok" counts as a failed attempt for that user name."""
    key = name_key(username)
    attempt = reserve_attempt(engine, key, now, dt.timedelta(minutes=lockout_minutes))
    if not attempt:
        return None, "locked"
    last = attempt >= MAX_FAILED_LOGINS

    def failed(status: str) -> Tuple[None, str]:
        return None, ("locked" if last and status != "busy" else status)

    if gate is not None and not gate.acquire(timeout=gate_timeout):
        return failed("busy")
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(users).where(sa.func.lower(users.c.username) == key)
            ).first()
        ok = verify_password(row.password_hash if row else _dummy(), password or "")
    finally:
        if gate is not None:
            gate.release()
    if row is None or not ok or not row.is_active:
        return failed("invalid")
    step = None
    if row.totp_secret:
        secret = seeds.open(row.totp_secret) if seeds is not None else row.totp_secret
        step = totp_match(secret, code, now, row.totp_last_step)
        if step is None:
            return failed("bad_code")
    elif require_2fa:
        return failed("no_2fa")
    new_hash = hash_password(password) if needs_rehash(row.password_hash) else None
    with engine.begin() as conn:
        if step is not None:
            fresh = conn.execute(
                users.update()
                .where(users.c.id == row.id)
                .where(sa.or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step))
                .values(totp_last_step=step)
            ).rowcount
            if not fresh:  # the same code used by a parallel login
                return failed("bad_code")
        # reset the counter, but never a lock set meanwhile by parallel attempts
        conn.execute(
            login_throttle.delete()
            .where(login_throttle.c.username == key)
            .where(
                sa.or_(
                    login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until <= now
                )
            )
        )
        values = dict(last_login_at=now)
        if new_hash:  # an older, cheaper hash: upgraded to the current parameters
            values["password_hash"] = new_hash
        conn.execute(users.update().where(users.c.id == row.id).values(**values))
    return row, "ok"
