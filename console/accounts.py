"""Staff accounts: creating users, passwords (console/passwords.py), roles
(console/roles.py), disabling, the second factor's secret (console/totp.py).

Changing a password, disabling a user or changing the second factor ends every
session of that user at once (console/sessions.py). Used by the CLI
(console/__main__.py) and the Users page (console/views/admin.py).
"""

from __future__ import annotations

import re
from typing import List, Optional

import sqlalchemy as sa

from console.db import login_throttle, users, utcnow
from console.passwords import PasswordError, check_new_password, hash_password, verify_password
from console.roles import ROLES
from console.sessions import revoke_user_sessions

USERNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,120}")


class UserError(ValueError):
    pass


def name_key(username: str) -> str:
    """User names are compared case-insensitively (and so are lock-outs)."""
    return (username or "").strip().lower()[:120]


def find_user(conn, username: str):
    return conn.execute(
        sa.select(users).where(sa.func.lower(users.c.username) == name_key(username))
    ).first()


def _require(conn, username: str):
    row = find_user(conn, username)
    if row is None:
        raise UserError(f"No user {username!r}.")
    return row


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}: one of {', '.join(ROLES)}.")
    return role


def create_user(
    engine: sa.engine.Engine,
    username: str,
    password: str,
    update: bool = False,
    role: Optional[str] = None,
) -> str:
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
        existing = find_user(conn, username)
        if existing and not update:
            raise UserError(
                f"User {username!r} already exists (use --update to set a new password)."
            )
        if existing:
            values = dict(password_hash=hashed, is_active=True)
            if role:
                values["role"] = role
            conn.execute(users.update().where(users.c.id == existing.id).values(**values))
            conn.execute(
                login_throttle.delete().where(login_throttle.c.username == name_key(username))
            )
            revoke_user_sessions(conn, existing.id, now)
            return "updated"
        conn.execute(
            users.insert().values(
                username=username,
                password_hash=hashed,
                created_at=now,
                is_active=True,
                role=role or "reviewer",
            )
        )
        return "created"


def change_own_password(
    engine: sa.engine.Engine,
    user_id: int,
    current: str,
    new: str,
    keep_token: Optional[str] = None,
    confirm: Optional[str] = None,
) -> str:
    """Self-service password change: the current password must be right and the new
    one pass the policy (console/passwords.py). Every other session of the user ends;
    the one of `keep_token` (the page's own) stays. Returns the user name."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None or not row.is_active:
        raise UserError("This account cannot change its password.")
    if not verify_password(row.password_hash, current or ""):
        raise UserError("The current password is not right.")
    if confirm is not None and confirm != new:
        raise UserError("The two new passwords differ.")
    if new == current:
        raise UserError("Choose a password different from the current one.")
    try:
        check_new_password(new, row.username)
    except PasswordError as error:
        raise UserError(str(error)) from None
    hashed = hash_password(new)
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == row.id).values(password_hash=hashed))
        revoke_user_sessions(conn, row.id, utcnow(), keep_token=keep_token)
    return row.username


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
        conn.execute(
            users.update()
            .where(users.c.id == row.id)
            .values(totp_secret=secret, totp_last_step=None)
        )
        revoke_user_sessions(conn, row.id, utcnow())
        return row.username


def list_users(engine: sa.engine.Engine) -> List[sa.engine.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(users).order_by(sa.func.lower(users.c.username))).all()


def get_user(engine: sa.engine.Engine, username: str):
    with engine.connect() as conn:
        return find_user(conn, username)


def count_users(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() or 0)


def reseal_totp_seeds(engine: sa.engine.Engine, box) -> int:
    """Every stored TOTP seed encrypted with the box's first key (seeds in clear from an
    older console, or under a previous key); the number changed. Codes keep working."""
    changed = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.isnot(None))
        ).all()
        for row in rows:
            sealed = box.reseal(row.totp_secret)
            if sealed != row.totp_secret:
                conn.execute(users.update().where(users.c.id == row.id).values(totp_secret=sealed))
                changed += 1
    return changed
