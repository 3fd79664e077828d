"""Staff accounts: roles, passwords, the optional second factor (TOTP), the lock-out
after repeated failed logins, and server-side sessions.

Lock-out. Every attempt for a user name (existing or not, so the lock-out does not
tell which names are real) first takes a slot with one atomic
``UPDATE ... SET failures = failures + 1`` that only matches when the name is not
locked; the attempt that takes the MAX_FAILED_LOGINS-th slot also sets
``locked_until``. Only then is the password checked. So parallel guesses are each
counted, at most MAX_FAILED_LOGINS passwords are ever checked per lock-out period,
and nothing clears a lock before it expires (a successful login resets the counter
only when no lock is set). While locked, even the right password is refused.

Sessions. A login creates a `console_sessions` row; the signed session cookie
carries a random token whose SHA-256 is the row's key. Each request checks the row:
revoked (logout, password change, user disabled, second factor changed), idle for
longer than the idle limit, or older than the absolute limit → logged out.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import FrozenSet, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from console.db import as_utc, login_throttle, sessions, users, utcnow
from console.passwords import (MIN_PASSWORD_LENGTH, PasswordError, check_new_password,
                               hash_password, needs_rehash, verify_password)
from console.settings import MAX_FAILED_LOGINS

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "PERMISSIONS", "UserError", "StaffUser"]

USERNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,120}")
ROLES = ("reviewer", "callback", "admin")
ROLE_HELP = {
    "reviewer": "conversations (masked), reviews, intent corrections, overview",
    "callback": "the appointment-request queue with patients' names and phone numbers",
    "admin": "everything: also CSV export, the audit log and user management",
}
PERMISSIONS = {
    "reviewer": frozenset({"conversations", "review", "overview"}),
    "callback": frozenset({"appointments"}),
    "admin": frozenset({"conversations", "review", "overview", "appointments", "export",
                        "audit", "users"}),
}
SESSION_TOUCH_SECONDS = 60  # last_seen_at is written at most this often per session


class UserError(ValueError):
    pass


@dataclass
class StaffUser:
    """Flask-Login user for one session: get_id() is the session's token."""
    id: int
    username: str
    role: str
    session_token: str
    has_totp: bool = False
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return self.session_token

    @property
    def permissions(self) -> FrozenSet[str]:
        return PERMISSIONS.get(self.role, frozenset())

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(username: str) -> str:
    return (username or "").strip().lower()[:120]


def _find(conn, username: str):
    return conn.execute(sa.select(users).where(
        sa.func.lower(users.c.username) == _key(username))).first()


# ---------------------------------------------------------------- sessions

def start_session(engine: sa.engine.Engine, user_id: int, now: dt.datetime,
                  remote_addr: Optional[str] = None, policy: Optional[SessionPolicy] = None) -> str:
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sessions.insert().values(
            token_hash=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now,
            remote_addr=(remote_addr or None) and remote_addr[:64]))
        if policy is not None:  # rows of sessions that ended long ago are not needed
            conn.execute(sessions.delete().where(
                sessions.c.created_at < now - policy.absolute - dt.timedelta(days=7)))
    return token


def load_session(engine: sa.engine.Engine, token: str, now: dt.datetime,
                 policy: SessionPolicy) -> Tuple[Optional[StaffUser], str]:
    """(user, "ok") or (None, "missing" | "revoked" | "idle" | "expired" | "disabled")."""
    if not token or len(token) > 200:
        return None, "missing"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(sessions.c.id, sessions.c.created_at, sessions.c.last_seen_at,
                      sessions.c.revoked_at, users.c.id.label("user_id"), users.c.username,
                      users.c.role, users.c.is_active, users.c.totp_secret)
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(sessions.c.token_hash == token_hash(token))).first()
    if row is None:
        return None, "missing"
    if row.revoked_at is not None:
        return None, "revoked"
    if not row.is_active:
        return None, "disabled"
    if now - as_utc(row.created_at) >= policy.absolute:
        return None, "expired"
    last_seen = as_utc(row.last_seen_at)
    if now - last_seen >= policy.idle:
        return None, "idle"
    if now - last_seen >= dt.timedelta(seconds=SESSION_TOUCH_SECONDS):
        with engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.id == row.id)
                         .where(sessions.c.revoked_at.is_(None)).values(last_seen_at=now))
    return StaffUser(id=row.user_id, username=row.username, role=row.role,
                     session_token=token, has_totp=bool(row.totp_secret)), "ok"


def revoke_session(engine: sa.engine.Engine, token: str, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(sessions.update().where(sessions.c.token_hash == token_hash(token))
                     .where(sessions.c.revoked_at.is_(None)).values(revoked_at=now))


def revoke_user_sessions(conn: sa.engine.Connection, user_id: int, now: dt.datetime) -> int:
    return conn.execute(sessions.update().where(sessions.c.user_id == user_id)
                        .where(sessions.c.revoked_at.is_(None)).values(revoked_at=now)).rowcount


# ---------------------------------------------------------------- user management

def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}: one of {', '.join(ROLES)}.")
    return role


def create_user(engine: sa.engine.Engine, username: str, password: str,
                update: bool = False, role: Optional[str] = None) -> str:
    """Creates a staff user (role reviewer unless given), or with update=True sets a new
    password (and the role, if given) for an existing one and ends its sessions."""
    if not USERNAME_RE.fullmatch(username or ""):
        raise UserError("User names are 1-120 letters, digits or _.@-")
    if role is not None:
        check_role(role)
    try:
        check_new_password(password, username)
    except PasswordError as error:
        raise UserError(str(error)) from None
    hashed = hash_password(password)
    now = utcnow()
    with engine.begin() as conn:
        existing = _find(conn, username)
        if existing and not update:
            raise UserError(f"User {username!r} already exists (use --update to set a new password).")
        if existing:
            values = dict(password_hash=hashed, is_active=True)
            if role:
                values["role"] = role
            conn.execute(users.update().where(users.c.id == existing.id).values(**values))
            conn.execute(login_throttle.delete().where(login_throttle.c.username == _key(username)))
            revoke_user_sessions(conn, existing.id, now)
            return "updated"
        conn.execute(users.insert().values(username=username, password_hash=hashed,
                                           created_at=now, is_active=True,
                                           role=role or "reviewer"))
        return "created"


def _require(conn, username: str):
    row = _find(conn, username)
    if row is None:
        raise UserError(f"No user {username!r}.")
    return row


def set_active(engine: sa.engine.Engine, username: str, active: bool) -> str:
    """Disables (ending every session at once) or enables a user."""
    with engine.begin() as conn:
        row = _require(conn, username)
        conn.execute(users.update().where(users.c.id == row.id).values(is_active=active))
        if not active:
            revoke_user_sessions(conn, row.id, utcnow())
        return row.username


def set_role(engine: sa.engine.Engine, username: str, role: str) -> str:
    check_role(role)
    with engine.begin() as conn:
        row = _require(conn, username)
        conn.execute(users.update().where(users.c.id == row.id).values(role=role))
        return row.username


def set_totp(engine: sa.engine.Engine, username: str, secret: Optional[str]) -> str:
    """Stores (or with None removes) a user's TOTP secret and ends their sessions."""
    with engine.begin() as conn:
        row = _require(conn, username)
        conn.execute(users.update().where(users.c.id == row.id)
                     .values(totp_secret=secret, totp_last_step=None))
        revoke_user_sessions(conn, row.id, utcnow())
        return row.username


def list_users(engine: sa.engine.Engine) -> List[sa.engine.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(users).order_by(sa.func.lower(users.c.username))).all()


def get_user(engine: sa.engine.Engine, username: str):
    with engine.connect() as conn:
        return _find(conn, username)


def count_users(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() or 0)


# ---------------------------------------------------------------- second factor

def new_totp_secret() -> str:
    import pyotp
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str = "Achilles staff console") -> str:
    import pyotp
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def totp_match(secret: str, code: str, now: dt.datetime,
               last_step: Optional[int] = None) -> Optional[int]:
    """The time step `code` belongs to (now, or one step either side for clock drift),
    if that step is newer than `last_step`; otherwise None."""
    import pyotp
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# ---------------------------------------------------------------- logging in

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
    not_locked = sa.or_(login_throttle.c.locked_until.is_(None),
                        login_throttle.c.locked_until <= now)
    counted = conn.execute(login_throttle.update().where(login_throttle.c.username == key)
                           .where(not_locked)
                           .values(failures=login_throttle.c.failures + 1, last_failure_at=now,
                                   locked_until=None)).rowcount  # only an expired lock is cleared
    if not counted:
        if conn.execute(sa.select(login_throttle.c.username)
                        .where(login_throttle.c.username == key)).first() is not None:
            return 0  # locked (the row exists, its lock has not expired)
        conn.execute(login_throttle.insert().values(username=key, failures=1,
                                                    last_failure_at=now))
    failures = conn.execute(sa.select(login_throttle.c.failures)
                            .where(login_throttle.c.username == key)).scalar()
    if failures >= MAX_FAILED_LOGINS:
        conn.execute(login_throttle.update().where(login_throttle.c.username == key)
                     .values(failures=0, locked_until=now + lockout))
    return failures


def reserve_attempt(engine: sa.engine.Engine, key: str, now: dt.datetime,
                    lockout: dt.timedelta) -> int:
    for _ in range(5):
        try:
            with engine.begin() as conn:
                return _reserve_once(conn, key, now, lockout)
        except IntegrityError:  # two first attempts for a new name at once: count again
            continue
    return 0


def is_locked(engine: sa.engine.Engine, username: str, now: dt.datetime) -> bool:
    with engine.connect() as conn:
        until = conn.execute(sa.select(login_throttle.c.locked_until)
                             .where(login_throttle.c.username == _key(username))).scalar()
    return until is not None and as_utc(until) > now


def authenticate(engine: sa.engine.Engine, username: str, password: str, *,
                 now: dt.datetime, lockout_minutes: float, code: str = "",
                 require_2fa: bool = False, gate: Optional[threading.Semaphore] = None,
                 gate_timeout: float = 10.0) -> Tuple[Optional[sa.engine.Row], str]:
    """Returns (user row, "ok") or (None, status): "locked" (no check was made),
    "invalid" (user name or password), "bad_code" (second factor), "no_2fa" (required
    but not enrolled), "busy" (too many password checks at once). Every status but
    "ok" counts as a failed attempt for that user name."""
    key = _key(username)
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
            row = conn.execute(sa.select(users).where(sa.func.lower(users.c.username) == key)).first()
        ok = verify_password(row.password_hash if row else _dummy(), password or "")
    finally:
        if gate is not None:
            gate.release()
    if row is None or not ok or not row.is_active:
        return failed("invalid")
    step = None
    if row.totp_secret:
        step = totp_match(row.totp_secret, code, now, row.totp_last_step)
        if step is None:
            return failed("bad_code")
    elif require_2fa:
        return failed("no_2fa")
    new_hash = hash_password(password) if needs_rehash(row.password_hash) else None
    with engine.begin() as conn:
        if step is not None:
            fresh = conn.execute(users.update().where(users.c.id == row.id).where(sa.or_(
                users.c.totp_last_step.is_(None), users.c.totp_last_step < step))
                .values(totp_last_step=step)).rowcount
            if not fresh:  # the same code used by a parallel login
                return failed("bad_code")
        # reset the counter, but never a lock set meanwhile by parallel attempts
        conn.execute(login_throttle.delete().where(login_throttle.c.username == key).where(
            sa.or_(login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until <= now)))
        values = dict(last_login_at=now)
        if new_hash:  # an older, cheaper hash: upgraded to the current parameters
            values["password_hash"] = new_hash
        conn.execute(users.update().where(users.c.id == row.id).values(**values))
    return row, "ok"
