"""Server-side login sessions (`console_sessions`) and the logged-in staff user.

A login creates a row; the signed session cookie carries a random token whose
SHA-256 is the row's key. Each request checks the row: revoked (logout, password
change, user disabled, second factor changed), idle for longer than the idle
limit, or older than the absolute limit → logged out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

import sqlalchemy as sa

from console.db import as_utc, sessions, users
from console.roles import PERMISSIONS

SESSION_TOUCH_SECONDS = 60  # last_seen_at is written at most this often per session


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


def start_session(
    engine: sa.engine.Engine,
    user_id: int,
    now: dt.datetime,
    remote_addr: Optional[str] = None,
    policy: Optional[SessionPolicy] = None,
) -> str:
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            sessions.insert().values(
                token_hash=token_hash(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                remote_addr=(remote_addr or None) and remote_addr[:64],
            )
        )
        if policy is not None:  # rows of sessions that ended long ago are not needed
            conn.execute(
                sessions.delete().where(
                    sessions.c.created_at < now - policy.absolute - dt.timedelta(days=7)
                )
            )
    return token


def load_session(
    engine: sa.engine.Engine, token: str, now: dt.datetime, policy: SessionPolicy
) -> Tuple[Optional[StaffUser], str]:
    """(user, "ok") or (None, "missing" | "revoked" | "idle" | "expired" | "disabled")."""
    if not token or len(token) > 200:
        return None, "missing"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sessions.c.id,
                sessions.c.created_at,
                sessions.c.last_seen_at,
                sessions.c.revoked_at,
                users.c.id.label("user_id"),
                users.c.username,
                users.c.role,
                users.c.is_active,
                users.c.totp_secret,
            )
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
            .where(sessions.c.token_hash == token_hash(token))
        ).first()
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
            conn.execute(
                sessions.update()
                .where(sessions.c.id == row.id)
                .where(sessions.c.revoked_at.is_(None))
                .values(last_seen_at=now)
            )
    return StaffUser(
        id=row.user_id,
        username=row.username,
        role=row.role,
        session_token=token,
        has_totp=bool(row.totp_secret),
    ), "ok"


def revoke_session(engine: sa.engine.Engine, token: str, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.token_hash == token_hash(token))
            .where(sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def revoke_user_sessions(
    conn: sa.engine.Connection, user_id: int, now: dt.datetime, keep_token: Optional[str] = None
) -> int:
    """Ends every open session of the user (but the one of `keep_token`, if given)."""
    query = (
        sessions.update()
        .where(sessions.c.user_id == user_id)
        .where(sessions.c.revoked_at.is_(None))
    )
    if keep_token:
        query = query.where(sessions.c.token_hash != token_hash(keep_token))
    return conn.execute(query.values(revoked_at=now)).rowcount


def active_sessions(
    engine: sa.engine.Engine, user_id: int, now: dt.datetime, policy: SessionPolicy
) -> list:
    """The user's sessions that would still be accepted, newest first (id, created_at,
    last_seen_at, remote_addr, token_hash)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                sessions.c.id,
                sessions.c.created_at,
                sessions.c.last_seen_at,
                sessions.c.remote_addr,
                sessions.c.token_hash,
            )
            .where(sessions.c.user_id == user_id)
            .where(sessions.c.revoked_at.is_(None))
            .order_by(sessions.c.last_seen_at.desc())
        ).all()
    return [
        row
        for row in rows
        if now - as_utc(row.created_at) < policy.absolute
        and now - as_utc(row.last_seen_at) < policy.idle
    ]


def revoke_own_session(
    engine: sa.engine.Engine, user_id: int, session_id: int, now: dt.datetime
) -> bool:
    """Ends one of the user's own sessions (False if it is not theirs or already ended)."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .where(sessions.c.user_id == user_id)
                .where(sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        )
