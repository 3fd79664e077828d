"""Benchmark: the conversation list page over 10,000 synthetic conversations.

    .venv/bin/python bench/bench_list_page.py [--conversations 10000] [--requests 50]

Seeds a temporary SQLite database with realistic Rasa event rows
(bench/synthetic.py), builds the summaries once (timed), logs in through the
Flask test client and times GET /conversations with several filters. Every timed
request also runs the incremental summary check (refresh throttle off), so the
numbers include it. Prints p50/p95 per scenario. Nothing listens on a port.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench import synthetic  # noqa: E402
from console import accounts, inbox, summaries, topics  # noqa: E402
from console.app import create_app  # noqa: E402
from console.db import engine_for, events  # noqa: E402
from console.settings import load_console_settings  # noqa: E402
from stores import db  # noqa: E402

SCENARIOS = [
    ("newest first, page 1", "/conversations"),
    ("page 100", "/conversations?page=100"),
    ("fell back", "/conversations?fallback=1"),
    ("appointment requested", "/conversations?appointment=1"),
    ("intent + not reviewed", "/conversations?intent=ask_recovery&reviewed=no"),
    ("last 7 days + channel", "/conversations?date_from={week_ago}&channel=socketio"),
    ("search 'boot' (POST)", "/conversations?q=boot"),
]


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1)))))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per scenario")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--keep", type=Path, help="keep the database in this folder")
    parser.add_argument(
        "--database-url",
        help="an EMPTY database to seed instead of a temporary "
        "SQLite file (e.g. a scratch PostgreSQL database)",
    )
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="console-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "bench.db"
    if args.database_url:
        url = args.database_url
        if sa.inspect(db.engine_for(url)).has_table("events"):
            parser.error("--database-url must point to an empty scratch database")
    else:
        if db_path.exists():
            db_path.unlink()
        url = f"sqlite:///{db_path}"
    engine = engine_for(url)

    t0 = time.perf_counter()
    n_events = synthetic.seed(engine, args.conversations, days=args.days)
    t_seed = time.perf_counter() - t0
    where = engine.url.render_as_string(hide_password=True) if args.database_url else db_path
    print(
        f"seeded {args.conversations} conversations, {n_events} events in {t_seed:.1f}s ({where})"
    )

    t0 = time.perf_counter()
    folded = summaries.refresh(engine)
    t_build = time.perf_counter() - t0
    print(f"built summaries from {folded} events in {t_build:.2f}s (once; incremental afterwards)")
    # what `serve` also does once at start (console/jobs.py refresh_summaries): the
    # "Needs action" items and the unanswered turns (issue 20)
    t0 = time.perf_counter()
    inbox.collect(engine, summaries.masker())
    flagged = topics.flag_new_turns(engine, summaries.masker())
    print(
        f"inbox items and {flagged} unanswered turns found in "
        f"{time.perf_counter() - t0:.2f}s (once; incremental afterwards)"
    )
    if engine.url.get_backend_name() == "postgresql":
        # a live database has planner statistics (autovacuum); a fresh bulk load not yet
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))

    settings = load_console_settings(
        {
            "DATABASE_URL": url,
            "CONSOLE_SECRET_KEY": "bench",
            "CONSOLE_VAR_DIR": str(workdir),
            "CONSOLE_REQUIRE_2FA": "off",  # a timing run on synthetic data
        }
    )
    app = create_app(settings, refresh_min_seconds=0)
    accounts.create_user(engine, "bench", "timing the list page", role="admin")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login",
        data={"username": "bench", "password": "timing the list page", "csrf_token": token},
    )
    assert response.status_code == 302, response.status_code
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/conversations").text
    ).group(1)

    # one new conversation arrives: the next request folds only its events
    synthetic.insert_conversation(engine, "bench-new-conversation", time.time() - 5, "fallback")
    t0 = time.perf_counter()
    client.get("/conversations")
    print(
        f"first request after a new conversation (incremental fold): "
        f"{(time.perf_counter() - t0) * 1000:.1f} ms"
    )

    import datetime as dt

    week_ago = (dt.date.today() - dt.timedelta(days=6)).isoformat()
    all_times = []
    backend = engine.url.get_backend_name()
    print(f"\nGET list page, {args.requests} requests per scenario (Flask test client, {backend}):")
    print(f"{'scenario':32} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for name, path in SCENARIOS:
        path = path.format(week_ago=week_ago)

        def fetch(path=path):
            if "q=" not in path:
                return client.get(path)
            # the search goes in a POST body (never in a URL): console/views/conversations.py
            query = dict(p.split("=", 1) for p in path.split("?", 1)[1].split("&"))
            return client.post("/conversations", data={**query, "csrf_token": token})

        fetch()  # warm-up
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            r = fetch()
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        total = re.search(r'class="count">(\d+)<', r.text)
        all_times.extend(times)
        print(
            f"{name:32} {total.group(1) if total else '?':>6} "
            f"{statistics.median(times):8.1f} {percentile(times, 95):8.1f}"
        )
    print(
        f"{'all scenarios':32} {'':>6} {statistics.median(all_times):8.1f} "
        f"{percentile(all_times, 95):8.1f}"
    )
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
    print(f"\n{n} events in the database; p50/p95 over {len(all_times)} requests.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
