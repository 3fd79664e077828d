"""Admins' pages: the audit log and the users (roles, disable / enable)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from console import accounts, audit_view
from console.db import access_log, users
from console.roles import ROLE_HELP, ROLES
from console.web import record, requires, services

bp = Blueprint("admin", __name__)

ACCESS_PAGE_SIZE = 200
MAX_PAGE = 100_000


def page_number() -> int:
    """?page=N, 1 to MAX_PAGE; anything else (huge, negative, not a number) is 404."""
    raw = request.args.get("page") or "1"
    if not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= MAX_PAGE:
        abort(404)
    return int(raw)


@bp.route("/audit", endpoint="audit_log")
@requires("audit")
def audit_log_page():
    """Filters, readable names, conversation numbers, paging: console/audit_view.py.
    A page number that is not 1 to MAX_PAGE is 404 (page_number)."""
    page_number()
    filters = audit_view.AuditFilters.from_args(request.args)
    with services().engine.connect() as conn:
        data = audit_view.page(conn, filters, services().tz)
    record("view_audit", detail=f"filters={filters.as_args()} page={data['page']}")
    return render_template(
        "audit.html", filters=filters, action_name=audit_view.action_name, **data
    )


@bp.route("/access", endpoint="access_log")
@requires("audit")
def access_log_page():
    """Who requested which console page, when, and the answer; paths only (the
    query strings are never stored)."""
    page = page_number()
    with services().engine.connect() as conn:
        rows = conn.execute(
            sa.select(access_log)
            .order_by(access_log.c.id.desc())
            .limit(ACCESS_PAGE_SIZE)
            .offset((page - 1) * ACCESS_PAGE_SIZE)
        ).all()
    record("view_access_log", detail=f"page={page}")
    return render_template("access.html", rows=rows, page=page, more=len(rows) == ACCESS_PAGE_SIZE)


@bp.route("/users", endpoint="users")
@requires("users")
def users_page():
    record("view_users")
    return render_template(
        "users.html", users=accounts.list_users(services().engine), role_help=ROLE_HELP
    )


@bp.route("/users/<int:user_id>", methods=["POST"], endpoint="user_update")
@requires("users")
def update_user(user_id: int):
    engine = services().engine
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        abort(404)
    action = request.form.get("action") or ""
    if row.id == current_user.id:
        flash("You cannot change your own account here (ask another admin, or use the CLI).")
        return redirect(url_for("admin.users"))
    if action == "disable":
        accounts.set_active(engine, row.username, False)
        detail = "disabled"
    elif action == "enable":
        accounts.set_active(engine, row.username, True)
        detail = "enabled"
    elif action == "role" and request.form.get("role") in ROLES:
        accounts.set_role(engine, row.username, request.form["role"])
        detail = f"role {row.role}->{request.form['role']}"
    else:
        abort(400)
    record("user_" + action, detail=f"user={row.username} {detail}")
    flash(f"{row.username}: {detail}.")
    return redirect(url_for("admin.users"))
