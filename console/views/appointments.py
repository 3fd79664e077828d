"""The appointment-request queue: the only page with patients' names and phone
numbers (for calling back), and its status changes. Every request shown is audited."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from console import audit
from console.db import appointment_requests, utcnow
from console.db import conversation_summaries as cs
from console.web import client_addr, requires, services, who

bp = Blueprint("appointments", __name__)

APPOINTMENT_STATUSES = {"new": "New", "called_back": "Called back", "closed": "Closed"}
MAX_ROWS = 500


@bp.route("/appointments", endpoint="queue")
@requires("appointments")
def appointment_queue():
    status = request.args.get("status") or "open"
    query = sa.select(appointment_requests, cs.c.id.label("summary_id")).select_from(
        appointment_requests.outerjoin(cs, cs.c.sender_id == appointment_requests.c.conversation_id)
    )
    if status == "open":
        query = query.where(appointment_requests.c.status != "closed")
    elif status in APPOINTMENT_STATUSES:
        query = query.where(appointment_requests.c.status == status)
    query = query.order_by(appointment_requests.c.created_at.desc()).limit(MAX_ROWS)
    engine = services().engine
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    with engine.begin() as conn:
        audit.record(
            conn,
            who(),
            "view_appointments",
            detail=f"status={status} rows={len(rows)}",
            remote_addr=client_addr(),
        )
        # which requests (names, phone numbers) were on the screen: one row each
        audit.record_many(
            conn,
            who(),
            "view_appointment",
            [r.conversation_id for r in rows],
            detail=[f"request={r.id} status={r.status}" for r in rows],
            remote_addr=client_addr(),
        )
    return render_template("appointments.html", rows=rows, status=status)


@bp.route("/appointments/<int:request_id>/status", methods=["POST"])
@requires("appointments")
def set_status(request_id: int):
    status = request.form.get("status") or ""
    if status not in APPOINTMENT_STATUSES:
        abort(400)
    with services().engine.begin() as conn:
        row = conn.execute(
            sa.select(appointment_requests).where(appointment_requests.c.id == request_id)
        ).first()
        if row is None:
            abort(404)
        conn.execute(
            appointment_requests.update()
            .where(appointment_requests.c.id == request_id)
            .values(status=status, status_changed_by=who(), status_changed_at=utcnow())
        )
        audit.record(
            conn,
            who(),
            "appointment_status",
            row.conversation_id,
            detail=f"request={request_id} {row.status}->{status}",
            remote_addr=client_addr(),
        )
    flash(f"Request #{request_id}: {APPOINTMENT_STATUSES[status]}.")
    return redirect(url_for("appointments.queue", status=request.form.get("back_status") or None))
