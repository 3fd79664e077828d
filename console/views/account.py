"""The user's own account (any logged-in user): password change, the open sessions
with "sign out everywhere", and the second factor's enrolment (console/totp.py)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from markupsafe import Markup

from console import accounts, totp
from console.sessions import (
    active_sessions,
    revoke_own_session,
    revoke_user_sessions,
    token_hash,
)
from console.web import record, requires, services

bp = Blueprint("account", __name__)


def page(status: int = 200, **extra):
    s = services()
    rows = active_sessions(s.engine, current_user.id, s.clock(), s.policy)
    mine = token_hash(current_user.session_token)
    return render_template("account.html", sessions=rows, mine=mine, **extra), status


@bp.route("/account", endpoint="page")
@requires(None)
def account_page():
    record("view_account")
    return page()


@bp.route("/account/password", methods=["POST"], endpoint="password")
@requires(None)
def change_password():
    s = services()
    gate = s.password_gate
    if not gate.acquire(timeout=s.password_gate_timeout):
        return page(503, password_error="The console is busy. Try again in a moment.")
    try:
        accounts.change_own_password(
            s.engine,
            current_user.id,
            request.form.get("current") or "",
            request.form.get("new") or "",
            keep_token=current_user.session_token,
            confirm=request.form.get("confirm") or "",
        )
    except accounts.UserError as error:
        record("password_change_refused", detail=str(error)[:200])
        return page(400, password_error=str(error))
    finally:
        gate.release()
    record("password_changed", detail="other sessions ended")
    flash("Your password was changed. Your other sessions were signed out.")
    return redirect(url_for("account.page"))


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"], endpoint="end_session")
@requires(None)
def end_session(session_id: int):
    s = services()
    if not revoke_own_session(s.engine, current_user.id, session_id, s.clock()):
        abort(404)
    record("session_ended", detail=f"session={session_id}")
    flash("That session was signed out.")
    return redirect(url_for("account.page"))


@bp.route("/account/sessions/end-all", methods=["POST"], endpoint="end_all")
@requires(None)
def sign_out_everywhere():
    s = services()
    with s.engine.begin() as conn:
        ended = revoke_user_sessions(conn, current_user.id, s.clock())
    record("sign_out_everywhere", detail=f"sessions={ended}")
    logout_user()
    session.clear()
    flash("You were signed out everywhere, this browser too.")
    return redirect(url_for("auth.login"))


@bp.route("/account/2fa", endpoint="totp")
@requires(None)
def totp_page():
    """Enrolment: a new seed, shown once as a QR code (inline SVG) and as text, only
    to the user themself; kept sealed in their session until a code confirms it."""
    s = services()
    if current_user.has_totp:
        return render_template("totp.html", enrolled=True)
    secret = totp.new_totp_secret()
    session["totp_pending"] = s.seeds().seal(secret)
    uri = totp.totp_uri(secret, current_user.username)
    record("totp_enrolment_shown")
    return render_template(
        "totp.html",
        enrolled=False,
        qr=Markup(totp.qr_svg(uri)),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        required=s.settings.needs_2fa(current_user.role),
    )


@bp.route("/account/2fa", methods=["POST"], endpoint="totp_confirm")
@requires(None)
def totp_confirm():
    s = services()
    if current_user.has_totp:
        abort(409)
    pending = session.get("totp_pending")
    if not pending:
        return redirect(url_for("account.totp"))
    try:
        secret = s.seeds().open(pending)
    except totp.SeedError:
        session.pop("totp_pending", None)
        return redirect(url_for("account.totp"))
    if totp.totp_match(secret, request.form.get("code") or "", s.clock()) is None:
        record("totp_enrolment_bad_code")
        return render_template(
            "totp.html",
            enrolled=False,
            qr=Markup(totp.qr_svg(totp.totp_uri(secret, current_user.username))),
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            required=s.settings.needs_2fa(current_user.role),
            error="That code did not match. Check the phone's clock and try the next code.",
        ), 400
    accounts.set_totp(s.engine, current_user.username, pending)  # ends every session
    record("totp_enrolled", detail=f"user={current_user.username}")
    logout_user()
    session.clear()
    flash("Second factor set up. Log in again with a code from your authenticator app.")
    return redirect(url_for("auth.login"))
