"""The overview charts: conversations per day, fallback and hand-off rates, top
intents, emergencies (console/queries.py `overview`)."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from console import overview_figures, queries
from console.web import requires, services

bp = Blueprint("overview", __name__)


@bp.route("/overview", endpoint="charts")
@requires("overview")
def overview_charts():
    s = services()
    s.refresh()
    try:
        days = min(365, max(7, int(request.args.get("days") or 30)))
    except ValueError:
        days = 30
    with s.engine.connect() as conn:
        data = queries.overview(conn, s.tz, days)
        compared = overview_figures.compare(conn, s.tz, days)
        before = queries.overview(conn, s.tz, days, today=compared.pop("last_last"))
        compared.pop("last_first")
    compared["totals_last"] = before["totals"]
    data["compare"] = compared
    data["links"] = {
        # where a click on a chart leads: the conversation list, filtered (overview.js)
        "list": url_for("conversations.list"),
    }
    return render_template("overview.html", data=data)
