"""The unanswered-topics report (console/topics.py): themes of what patients asked
that the page does not cover, computed by the background job (never here). Staff
name a theme, mark it "add to the page" or "not for the bot", and export the list
for the web team (CSV, masked examples, audited)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from console import audit, topics
from console.db import conversation_summaries as cs
from console.db import utcnow
from console.exports import csv_safe, one_line
from console.tables import topic_themes
from console.web import client_addr, record, requires, services, who

bp = Blueprint("topics", __name__)
MAX_NAME_CHARS = 200
TREND_WORDS = {"up": ("↑", "rising"), "down": ("↓", "falling"), "flat": ("→", "steady")}


def _summary_ids(conn, senders):
    if not senders:
        return {}
    return dict(
        conn.execute(
            sa.select(cs.c.sender_id, cs.c.id).where(cs.c.sender_id.in_(list(senders)))
        ).all()
    )


def _decorate(theme):
    return dict(
        row=theme,
        weekly=json.loads(theme.weekly or "[]"),
        examples=json.loads(theme.examples or "[]"),
        reasons=json.loads(theme.reasons or "{}"),
    )


@bp.route("/topics", endpoint="report")
@requires("topics")
def report():
    with services().engine.connect() as conn:
        themes = [_decorate(t) for t in topics.active_themes(conn)]
        senders = {e["sender_id"] for t in themes for e in t["examples"]}
        summary_ids = _summary_ids(conn, senders)
        last_run = topics.last_run(conn)
        unthemed = topics.unthemed_count(conn)
    record("view_topics", detail=f"themes={len(themes)}")
    return render_template(
        "topics.html",
        themes=themes,
        summary_ids=summary_ids,
        last_run=last_run,
        unthemed=unthemed,
        TREND_WORDS=TREND_WORDS,
        REASONS=topics.REASONS,
        DECISIONS=topics.DECISIONS,
    )


@bp.route("/topics/<int:theme_id>", endpoint="theme")
@requires("topics")
def theme_page(theme_id: int):
    with services().engine.connect() as conn:
        theme = conn.execute(sa.select(topic_themes).where(topic_themes.c.id == theme_id)).first()
        if theme is None:
            abort(404)
        messages = topics.theme_messages(conn, theme_id)
        summary_ids = _summary_ids(conn, {m.sender_id for m in messages})
    record("view_topic", detail=f"theme={theme_id} messages={len(messages)}")
    return render_template(
        "topic.html",
        theme=_decorate(theme),
        messages=messages,
        summary_ids=summary_ids,
        REASONS=topics.REASONS,
        DECISIONS=topics.DECISIONS,
        TREND_WORDS=TREND_WORDS,
    )


@bp.route("/topics/<int:theme_id>", methods=["POST"], endpoint="update")
@requires("topics")
def update(theme_id: int):
    name = (request.form.get("name") or "").strip()[:MAX_NAME_CHARS] or None
    decision = request.form.get("decision") or None
    if decision is not None and decision not in topics.DECISIONS:
        abort(400)
    with services().engine.begin() as conn:
        found = conn.execute(
            topic_themes.update()
            .where(topic_themes.c.id == theme_id)
            .values(name=name, decision=decision, updated_by=who(), updated_at=utcnow())
        ).rowcount
        if not found:
            abort(404)
        audit.record(
            conn,
            who(),
            "topic_update",
            detail=f"theme={theme_id} name={name or ''} decision={decision or ''}",
            remote_addr=client_addr(),
        )
    flash("Theme saved.")
    return redirect(url_for("topics.report") + f"#theme-{theme_id}")


@bp.route("/topics.csv", methods=["POST"], endpoint="export")
@requires("topics")
def export():
    """For the web team: every theme, its name, decision, counts and masked examples."""
    s = services()
    with s.engine.connect() as conn:
        themes = [_decorate(t) for t in topics.active_themes(conn)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "theme",
            "name",
            "label",
            "decision",
            "messages",
            "this week",
            "last week",
            "trend",
            "reasons",
            "examples (masked)",
        ]
    )
    for t in themes:
        row = t["row"]
        weekly = t["weekly"]
        writer.writerow(
            [
                row.id,
                csv_safe(row.name or ""),
                csv_safe(one_line(row.label)),
                topics.DECISIONS.get(row.decision or "", ""),
                row.message_count,
                weekly[-1][1] if weekly else 0,
                weekly[-2][1] if len(weekly) > 1 else 0,
                TREND_WORDS.get(row.trend, ("", row.trend))[1],
                "; ".join(f"{topics.REASONS.get(k, k)}: {v}" for k, v in t["reasons"].items()),
                csv_safe(" | ".join(one_line(e["text"]) for e in t["examples"])),
            ]
        )
    record("export_topics", detail=f"themes={len(themes)}")
    stamp = dt.datetime.now(s.tz).strftime("%Y%m%d-%H%M")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="unanswered-topics-{stamp}.csv"'},
    )
