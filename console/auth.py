"""Staff accounts: hashed passwords, and a lock-out after repeated failed logins."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from console.db import as_utc, login_throttle, users, utcnow
from console.settings import MAX_FAILED_LOGINS

USERNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,120}")
MIN_PASSWORD_LENGTH = 10
# Verified against when the user does not exist, so both paths take as long.
_DUMMY_HASH = generate_password_hash("not-a-real-password-just-for-timing")


class UserError(ValueError):
    pass


@dataclass
class StaffUser:
    """Flask-Login user. The session id embeds a fingerprint of the password hash,
    so changing a password ends that user's other sessions."""
    id: int
    username: str
    password_hash: str
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return f"{self.id}.{fingerprint(self.password_hash)}"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _user(row) -> StaffUser:
    return StaffUser(id=row.id, username=row.username, password_hash=row.password_hash,
                     is_active=bool(row.is_active))


def load_user(engine: sa.engine.Engine, session_id: str) -> Optional[StaffUser]:
    user_id, _, fp = (session_id or "").partition(".")
    if not user_id.isdigit():
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == int(user_id))).first()
    if row is None or not row.is_active or fingerprint(row.password_hash) != fp:
        return None
    return _user(row)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if password.strip() != password or not password.strip():
        raise UserError("The password must not start or end with spaces.")


def create_user(engine: sa.engine.Engine, username: str, password: str,
                update: bool = False) -> str:
    """Creates (or with update=True re-sets the password of) a staff user."""
    if not USERNAME_RE.fullmatch(username or ""):
        raise UserError("User names are 1-120 letters, digits or _.@-")
    check_new_password(password)
    hashed = generate_password_hash(password)
    with engine.begin() as conn:
        existing = conn.execute(sa.select(users.c.id).where(
            sa.func.lower(users.c.username) == username.lower())).first()
        if existing and not update:
            raise UserError(f"User {username!r} already exists (use --update to set a new password).")
        if existing:
            conn.execute(users.update().where(users.c.id == existing.id)
                         .values(password_hash=hashed, is_active=True))
            conn.execute(login_throttle.delete().where(login_throttle.c.username == username.lower()))
            return "updated"
        conn.execute(users.insert().values(username=username, password_hash=hashed,
                                           created_at=utcnow(), is_active=True))
        return "created"


def count_users(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() or 0)


def authenticate(engine: sa.engine.Engine, username: str, password: str,
                 lockout_minutes: float) -> Tuple[Optional[StaffUser], str]:
    try:
        return _authenticate(engine, username, password, lockout_minutes)
    except IntegrityError:  # two failures for the same name at once: count once
        return None, "invalid"


def _authenticate(engine: sa.engine.Engine, username: str, password: str,
                  lockout_minutes: float) -> Tuple[Optional[StaffUser], str]:
    """Returns (user, "ok") or (None, "invalid" | "locked").

    After MAX_FAILED_LOGINS failures in a row for a user name (existing or not),
    that name is locked for `lockout_minutes`, even for the right password."""
    key = (username or "").strip().lower()[:120]
    now = utcnow()
    with engine.begin() as conn:
        throttle = conn.execute(sa.select(login_throttle)
                                .where(login_throttle.c.username == key)).first()
        locked_until = as_utc(throttle.locked_until) if throttle else None
        if locked_until and locked_until > now:
            return None, "locked"
        row = conn.execute(sa.select(users).where(sa.func.lower(users.c.username) == key)).first()
        ok = check_password_hash(row.password_hash if row else _DUMMY_HASH, password or "")
        if row is not None and ok and row.is_active:
            conn.execute(login_throttle.delete().where(login_throttle.c.username == key))
            conn.execute(users.update().where(users.c.id == row.id).values(last_login_at=now))
            return _user(row), "ok"
        failures = (throttle.failures if throttle else 0) + 1
        values = dict(failures=failures, last_failure_at=now, locked_until=None)
        if failures >= MAX_FAILED_LOGINS:
            values.update(failures=0, locked_until=now + dt.timedelta(minutes=lockout_minutes))
        if throttle:
            conn.execute(login_throttle.update().where(login_throttle.c.username == key)
                         .values(**values))
        else:
            conn.execute(login_throttle.insert().values(username=key, **values))
        return None, ("locked" if values["locked_until"] else "invalid")
