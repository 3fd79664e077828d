"""Logging in and out, and "/" (the first page the user's role may see).

A login takes a slot of the per-address and overall limits (console/ratelimit.py)
before the password is checked; a successful login gives it back. Refusals answer
at once, without sleeping. Lock-out and second factor: console/auth.py.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from console import accounts, audit
from console.auth import authenticate
from console.sessions import StaffUser, revoke_session, start_session
from console.web import client_addr, home, public, record, requires, safe_local_path, services

bp = Blueprint("auth", __name__)


@bp.route("/")
@requires(None)
def index():
    target = home()
    if target == url_for("auth.index"):
        abort(403)
    return redirect(target)


def too_many(retry_after: int, first: bool, scope: str, username: str):
    if first:  # one audit row per address (or for everyone) and window, not one per try
        with services().engine.begin() as conn:
            audit.record(
                conn,
                username[:120] or "?",
                "login_rate_limited",
                detail=f"limit={scope}",
                remote_addr=client_addr(),
            )
    minutes = max(1, -(-retry_after // 60))
    message = (
        f"Too many failed logins{' from this address' if scope == 'per_ip' else ''}. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    if scope == "busy":
        message = "The console is checking too many logins at once. Try again in a moment."
    response = render_template("login.html", error=message, no_users=False, username=username)
    return response, 429, {"Retry-After": str(retry_after)}


def failed_login_message(status: str) -> str:
    settings = services().settings
    if status == "locked":
        return (
            f"Too many failed attempts. This account is locked for up to "
            f"{settings.lockout_minutes:g} minutes."
        )
    if settings.require_2fa_roles or status == "bad_code":
        return "Wrong user name, password or code."
    return "Wrong user name or password."


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(home())
    s = services()
    if request.method != "POST":
        return render_template(
            "login.html", error=None, username="", no_users=accounts.count_users(s.engine) == 0
        )
    username = (request.form.get("username") or "").strip()
    addr = client_addr()
    # A slot is taken before the password is checked (parallel guesses count).
    allowed, retry, first = s.ip_limiter.acquire(addr)
    if not allowed:
        return too_many(retry, first, "per_ip", username)
    allowed, retry, first = s.global_limiter.acquire("*")
    if not allowed:
        s.ip_limiter.release(addr)
        return too_many(retry, first, "global", username)
    row, status = authenticate(
        s.engine,
        username,
        request.form.get("password") or "",
        code=request.form.get("code") or "",
        now=s.clock(),
        lockout_minutes=s.settings.lockout_minutes,
        seeds=s.seeds(),
        gate=s.password_gate,
        gate_timeout=s.password_gate_timeout,
    )
    if row is None:
        with s.engine.begin() as conn:
            audit.record(conn, username[:120] or "?", "login_" + status, remote_addr=addr)
        if status == "busy":
            return too_many(5, False, "busy", username)
        return render_template(
            "login.html", error=failed_login_message(status), no_users=False, username=username
        ), 401
    s.ip_limiter.release(addr)
    s.global_limiter.release("*")
    session.clear()
    token = start_session(s.engine, row.id, s.clock(), addr, s.policy)
    login_user(
        StaffUser(
            id=row.id,
            username=row.username,
            role=row.role,
            session_token=token,
            has_totp=bool(row.totp_secret),
        )
    )
    with s.engine.begin() as conn:
        audit.record(conn, row.username, "login", detail=f"role={row.role}", remote_addr=addr)
    if s.settings.needs_2fa(row.role) and not row.totp_secret:
        # the role needs a second factor and the user has none yet: enrolment only
        return redirect(url_for("account.totp"))
    return redirect(safe_local_path(request.args.get("next")) or home())


@bp.route("/logout", methods=["POST"])
@requires(None)
def logout():
    s = services()
    revoke_session(s.engine, current_user.session_token, s.clock())
    record("logout")
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
