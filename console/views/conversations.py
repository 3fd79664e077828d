"""The conversation list (filters, search, CSV export) and the transcript with its
review form and intent corrections. Patient text is shown masked everywhere here
(privacy/masking.py); every view and export is audited."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from console import (
    audit,
    exports,
    failed_messages,
    intent_titles,
    overview_figures,
    queries,
    review_nav,
    transcript,
)
from console.db import conversation_reviews, intent_corrections, utcnow
from console.db import conversation_summaries as cs
from console.web import (
    client_addr,
    local_time,
    masked_filters,
    record,
    requires,
    safe_local_path,
    services,
    who,
)

bp = Blueprint("conversations", __name__)

MAX_TAGS_CHARS = 500
MAX_NOTE_CHARS = 5000


@bp.route("/conversations", methods=["GET", "POST"], endpoint="list")
@requires("conversations")
def conversation_list():
    """Filters come in the query string, but the search words only in a POST body
    (with the CSRF token), so they never reach a proxy's or the console's access log;
    a `q` in the query string is ignored."""
    s = services()
    s.refresh()
    if request.method == "POST":
        source = request.form
    else:
        source = {k: v for k, v in request.args.items() if k != "q"}
    filters = queries.ListFilters.from_args(source)
    if filters.page > queries.MAX_PAGE:
        abort(404)
    with s.engine.connect() as conn:
        rows, total = queries.list_page(conn, filters, s.tz)
        channel_names = queries.channels(conn)
        language_codes = queries.languages(conn)
        # the message that failed (console/failed_messages.py), not only the first question
        failed = failed_messages.latest(conn, [r.sender_id for r in rows])
    record(
        "search" if filters.q else "view_list",
        detail=masked_filters(filters, total=total, shown=[r.id for r in rows]),
    )
    pages = max(1, -(-total // queries.PAGE_SIZE))
    today = dt.datetime.now(s.tz).date()
    last_week = {
        "date_from": (today - dt.timedelta(days=6)).isoformat(),
        "date_to": today.isoformat(),
    }
    # the transcripts' way back (and their previous / next links, console/review_nav.py)
    # is this list's URL with the filters but never the search words, which stay in
    # POST bodies; after a search it is the filtered list's first page
    list_url = url_for(
        "conversations.list", **filters.as_args(q="", page=1 if filters.q else filters.page)
    )
    return render_template(
        "conversations.html",
        rows=rows,
        total=total,
        pages=pages,
        filters=filters,
        list_url=list_url,
        channels=channel_names,
        languages=language_codes,
        language_names=overview_figures.LANGUAGE_NAMES,
        tier_names=overview_figures.TIER_NAMES,
        intents=s.intents + ["nlu_fallback"],
        last_week=last_week,
        failed=failed,
    )


@bp.route("/conversations.csv", methods=["POST"])
@requires("export")
def export_csv():
    """POST with the CSRF token: a link or image on another site cannot start it."""
    s = services()
    s.refresh()
    filters = queries.ListFilters.from_args(request.form)
    with s.engine.connect() as conn:
        count = queries.count_rows(conn, filters, s.tz)
        rows = (
            queries.all_rows(conn, filters, s.tz) if count <= s.settings.export_max_rows else None
        )
        failed = failed_messages.latest(conn, [r.sender_id for r in rows or []])
    if rows is None:
        record("export_refused", detail=masked_filters(filters, rows=count))
        return render_template(
            "error.html",
            code=413,
            message=f"This export would have {count} conversations; at most "
            f"{s.settings.export_max_rows} can be exported at once. Narrow the "
            f"filters (dates, flags) and export in parts.",
        ), 413
    body = exports.list_csv(rows, s.masker, local_time, failed)
    with s.engine.begin() as conn:
        audit.record_many(
            conn,
            who(),
            "export_csv",
            [r.sender_id for r in rows],
            detail=masked_filters(filters),
            remote_addr=client_addr(),
        )
    stamp = dt.datetime.now(s.tz).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="conversations-{stamp}.csv"'},
    )


def summary_or_404(conn, summary_id: int):
    row = conn.execute(sa.select(cs).where(cs.c.id == summary_id)).first()
    if row is None:
        abort(404)
    return row


@bp.route("/conversations/<int:summary_id>", endpoint="transcript")
@requires("conversations")
def show_transcript(summary_id: int):
    s = services()
    with s.engine.connect() as conn:
        summary = summary_or_404(conn, summary_id)
        items = transcript.build(conn, summary.sender_id, s.masker)
        review = conn.execute(
            sa.select(conversation_reviews).where(
                conversation_reviews.c.sender_id == summary.sender_id
            )
        ).first()
        appointment = conn.execute(
            sa.select(queries.appointment_expr()).select_from(cs).where(cs.c.id == summary_id)
        ).scalar()
        back = safe_local_path(request.args.get("back")) or ""
        previous_id, next_id = review_nav.neighbours(conn, summary, back, s.tz)
    record("view_conversation", summary.sender_id)
    return render_template(
        "transcript.html",
        summary=summary,
        items=items,
        review=review,
        appointment=appointment,
        intent_choices=intent_titles.choices(s.intents),
        intent_title=intent_titles.title,
        back=back,
        previous_id=previous_id,
        next_id=next_id,
    )


def save_review(conn, summary) -> None:
    """The review form's fields (reviewed, tags, note) for this conversation, audited."""
    reviewed = request.form.get("reviewed") in {"1", "on", "true"}
    tags = ", ".join(
        dict.fromkeys(t.strip() for t in (request.form.get("tags") or "").split(",") if t.strip())
    )[:MAX_TAGS_CHARS]
    note = (request.form.get("note") or "").strip()[:MAX_NOTE_CHARS]
    values = dict(reviewed=reviewed, tags=tags, note=note, updated_by=who(), updated_at=utcnow())
    updated = conn.execute(
        conversation_reviews.update()
        .where(conversation_reviews.c.sender_id == summary.sender_id)
        .values(**values)
    ).rowcount
    if not updated:
        conn.execute(conversation_reviews.insert().values(sender_id=summary.sender_id, **values))
    audit.record(
        conn,
        who(),
        "review",
        summary.sender_id,
        detail=f"reviewed={int(reviewed)} tags={tags}",
        remote_addr=client_addr(),
    )


@bp.route("/conversations/<int:summary_id>/review", methods=["POST"])
@requires("review")
def review(summary_id: int):
    with services().engine.begin() as conn:
        save_review(conn, summary_or_404(conn, summary_id))
    flash("Review saved.")
    return redirect(
        url_for(
            "conversations.transcript",
            summary_id=summary_id,
            back=safe_local_path(request.form.get("back")),
        )
    )


@bp.route("/conversations/<int:summary_id>/correct", methods=["POST"])
@requires("review")
def correct(summary_id: int):
    s = services()
    intent = (request.form.get("intent") or "").strip()
    try:
        event_id = int(request.form.get("event_id") or "")
    except ValueError:
        abort(400)
    back = safe_local_path(request.form.get("back"))
    if not intent:  # the drop-down starts empty: nothing chosen, nothing stored
        flash("Choose the right topic first; nothing was saved.")
        return redirect(
            url_for("conversations.transcript", summary_id=summary_id, back=back) + f"#e{event_id}"
        )
    if intent not in s.intents:
        abort(400)
    with s.engine.begin() as conn:
        summary = summary_or_404(conn, summary_id)
        event = transcript.user_event(conn, summary.sender_id, event_id)
        if event is None:
            abort(404)
        if transcript.is_form_answer(conn, summary.sender_id, event_id):
            abort(400)  # an answer typed into the form is not a training example
        if request.form.get("with_review") == "1":
            save_review(conn, summary)  # the note typed beside it is kept
        text = transcript.masked_user_text(conn, summary.sender_id, event, s.masker)
        values = dict(
            sender_id=summary.sender_id,
            event_id=event_id,
            text=text,
            predicted_intent=event.intent_name,
            corrected_intent=intent,
            created_by=who(),
            created_at=utcnow(),
        )
        updated = conn.execute(
            intent_corrections.update()
            .where(intent_corrections.c.event_id == event_id)
            .values(**values)
        ).rowcount
        if not updated:
            conn.execute(intent_corrections.insert().values(**values))
        audit.record(
            conn,
            who(),
            "correct_intent",
            summary.sender_id,
            detail=f"event={event_id} {event.intent_name}->{intent}",
            remote_addr=client_addr(),
        )
    flash(f"Saved: the right topic is {intent_titles.title(intent)} ({intent}).")
    return redirect(
        url_for(
            "conversations.transcript",
            summary_id=summary_id,
            back=safe_local_path(request.form.get("back")),
        )
        + f"#e{event_id}"
    )
