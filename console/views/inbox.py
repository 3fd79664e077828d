"""The "Needs action" inbox (console/inbox.py): the home page of the callback and
admin roles. Status, assignee and call note per item, bulk close, "new since you
last looked", a rows-only refresh the page fetches by itself, and the SMS number
reveal (one audit row per reveal)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from console import audit, inbox
from console.db import appointment_requests, conversation_numbers, users, utcnow
from console.tables import inbox_items
from console.web import client_addr, requires, services, who
from stores import phone_vault

bp = Blueprint("inbox", __name__)

MAX_NOTE_CHARS = 2000
SMS_CHANNEL = "twilio"


def _assignees(conn) -> list:
    return [
        r.username
        for r in conn.execute(
            sa.select(users.c.username)
            .where(users.c.is_active.is_(True))
            .where(users.c.role.in_(("callback", "admin")))
            .order_by(users.c.username)
        )
    ]


def _context(conn, filters: inbox.InboxFilters, since):
    rows = inbox.items(conn, filters)
    senders = [r.sender_id for r in rows]
    summary_ids = conversation_numbers(conn, senders)
    now = services().clock()
    new_ids = {
        r.id
        for r in rows
        if r.status == "new" and (since is None or _aware(r.found_at) > _aware(since))
    }
    return dict(
        rows=rows,
        summary_ids=summary_ids,
        requests=inbox.appointment_requests_for(conn, senders),
        has_number=phone_vault.has_number(conn, senders),
        waiting={r.id: inbox.waiting(r.created_at, now) for r in rows},
        new_ids=new_ids,
        assignees=_assignees(conn),
        filters=filters,
        KINDS=inbox.KINDS,
        STATUSES=inbox.STATUSES,
    )


def _aware(value):
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


@bp.route("/inbox", endpoint="list")
@requires("inbox")
def inbox_page():
    s = services()
    s.refresh()
    filters = inbox.InboxFilters.from_args(request.args)
    with s.engine.connect() as conn:
        since = inbox.last_seen(conn, who())
        context = _context(conn, filters, since)
        channel_names = inbox.channels(conn)
    with s.engine.begin() as conn:
        inbox.mark_seen(conn, who(), s.clock())
        audit.record(
            conn,
            who(),
            "view_inbox",
            detail=f"filters={filters.as_args()} items={[r.id for r in context['rows']]}",
            remote_addr=client_addr(),
        )
    return render_template(
        "inbox.html",
        channels=channel_names,
        since=since.timestamp() if since else "",
        **context,
    )


@bp.route("/inbox/rows", endpoint="rows")
@requires("inbox")
def inbox_rows():
    """The table body only, for the page's own refresh; "new" is counted against the
    time the page was opened (`since`), so the count does not reset itself."""
    s = services()
    s.refresh()
    filters = inbox.InboxFilters.from_args(request.args)
    try:
        since = dt.datetime.fromtimestamp(float(request.args.get("since") or ""), dt.timezone.utc)
    except ValueError:
        since = None
    with s.engine.connect() as conn:
        context = _context(conn, filters, since)
    return render_template("inbox_rows.html", **context)


def _status_sync(conn, item, status: str) -> None:
    """An appointment item's status is the appointment request's too."""
    if item.kind != "appointment":
        return
    conn.execute(
        appointment_requests.update()
        .where(appointment_requests.c.conversation_id == item.sender_id)
        .where(appointment_requests.c.status != "closed")
        .values(
            status=inbox.APPOINTMENT_STATUS[status],
            status_changed_by=who(),
            status_changed_at=utcnow(),
        )
    )


def _item_or_404(conn, item_id: int):
    row = conn.execute(sa.select(inbox_items).where(inbox_items.c.id == item_id)).first()
    if row is None:
        abort(404)
    return row


@bp.route("/inbox/<int:item_id>", methods=["POST"], endpoint="update")
@requires("inbox")
def update_item(item_id: int):
    status = request.form.get("status") or ""
    if status not in inbox.STATUSES:
        abort(400)
    assignee = (request.form.get("assignee") or "").strip()[:120] or None
    note = (request.form.get("note") or "").strip()[:MAX_NOTE_CHARS]
    with services().engine.begin() as conn:
        item = _item_or_404(conn, item_id)
        if assignee and assignee not in _assignees(conn):
            abort(400)
        conn.execute(
            inbox_items.update()
            .where(inbox_items.c.id == item_id)
            .values(
                status=status, assignee=assignee, note=note, updated_by=who(), updated_at=utcnow()
            )
        )
        _status_sync(conn, item, status)
        audit.record(
            conn,
            who(),
            "inbox_update",
            item.sender_id,
            detail=f"item={item_id} {item.status}->{status} assignee={assignee or ''}",
            remote_addr=client_addr(),
        )
    flash(f"Item #{item_id}: {inbox.STATUSES[status]}.")
    return redirect(url_for("inbox.list", **_back_filters()) + f"#item-{item_id}")


def _back_filters() -> dict:
    return inbox.InboxFilters.from_args(
        {k[5:]: v for k, v in request.form.items() if k.startswith("back_")}
    ).as_args()


@bp.route("/inbox/close", methods=["POST"], endpoint="bulk_close")
@requires("inbox")
def bulk_close():
    try:
        ids = sorted({int(v) for v in request.form.getlist("item")})
    except ValueError:
        abort(400)
    if not ids:
        flash("Tick the items to close first.")
        return redirect(url_for("inbox.list", **_back_filters()))
    with services().engine.begin() as conn:
        rows = conn.execute(sa.select(inbox_items).where(inbox_items.c.id.in_(ids))).all()
        conn.execute(
            inbox_items.update()
            .where(inbox_items.c.id.in_([r.id for r in rows]))
            .values(status="done", updated_by=who(), updated_at=utcnow())
        )
        for row in rows:
            _status_sync(conn, row, "done")
        audit.record_many(
            conn,
            who(),
            "inbox_close",
            [r.sender_id for r in rows],
            detail=[f"item={r.id} {r.status}->done" for r in rows],
            remote_addr=client_addr(),
        )
    flash(f"Closed {len(rows)} item{'s' if len(rows) != 1 else ''}.")
    return redirect(url_for("inbox.list", **_back_filters()))


@bp.route("/inbox/<int:item_id>/reveal", methods=["POST"], endpoint="reveal")
@requires("reveal_phone")
def reveal(item_id: int):
    """The number to call: the appointment request's, or the SMS number kept
    encrypted (stores/phone_vault.py). One audit row per reveal; the page is not
    cached (Cache-Control: no-store on every page)."""
    s = services()
    with s.engine.connect() as conn:
        item = _item_or_404(conn, item_id)
        number = name = None
        source = ""
        if item.channel == SMS_CHANNEL:
            number = phone_vault.reveal(conn, item.sender_id)
            source = "sms"
        if number is None:
            request_row = inbox.appointment_requests_for(conn, [item.sender_id]).get(item.sender_id)
            if request_row is not None:
                number, name, source = request_row.phone, request_row.patient_name, "request"
    with s.engine.begin() as conn:
        audit.record(
            conn,
            who(),
            "reveal_phone",
            item.sender_id,
            detail=f"item={item_id} source={source or 'none'}",
            remote_addr=client_addr(),
        )
    return render_template(
        "inbox_reveal.html", item=item, number=number, name=name, KINDS=inbox.KINDS
    )


CHANNEL_NAMES = {"twilio": "SMS", "socketio": "Website chat", "rest": "Web (REST)"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


@bp.app_template_filter("channel_name")
def channel_name(value) -> str:
    return CHANNEL_NAMES.get(value or "", value or "unknown channel")


@bp.app_template_filter("language_name")
def language_name(value) -> str:
    return LANGUAGE_NAMES.get(value or "", value or "language unknown")
