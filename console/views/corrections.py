"""The intent corrections staff made, and their export as Rasa NLU YAML for the NLU
team (admins; the same file as `python -m console export-corrections`), audited with
one row per conversation exported."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, Response, render_template

from console import audit, exports, intent_titles
from console.db import conversation_summaries as cs
from console.db import intent_corrections
from console.web import client_addr, record, requires, services, who

bp = Blueprint("corrections", __name__)
MAX_SHOWN = 500


@bp.route("/corrections", endpoint="list")
@requires("conversations")
def corrections_list():
    with services().engine.connect() as conn:
        rows = conn.execute(
            sa.select(intent_corrections, cs.c.id.label("summary_id"))
            .select_from(
                intent_corrections.outerjoin(cs, cs.c.sender_id == intent_corrections.c.sender_id)
            )
            .order_by(intent_corrections.c.created_at.desc())
            .limit(MAX_SHOWN)
        ).all()
    record("view_corrections", detail=f"rows={len(rows)}")
    return render_template("corrections.html", rows=rows, intent_title=intent_titles.title)


@bp.route("/corrections.yml", methods=["POST"], endpoint="export")
@requires("export")
def corrections_export():
    """POST with the CSRF token (a link on another site cannot start it)."""
    s = services()
    with s.engine.begin() as conn:
        text, count = exports.corrections_yaml(conn, who(), dt.datetime.now(dt.timezone.utc))
        senders = [r[0] for r in conn.execute(sa.select(intent_corrections.c.sender_id).distinct())]
        audit.record_many(
            conn,
            who(),
            "export_corrections",
            senders or [None],
            detail=f"console download, {count} corrections",
            remote_addr=client_addr(),
        )
    stamp = dt.datetime.now(s.tz).strftime("%Y%m%d-%H%M")
    return Response(
        text,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="corrections-{stamp}.yml"'},
    )
