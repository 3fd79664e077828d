"""Where personal data is stored (issue #10), besides the tracker store's redaction
(tests/test_privacy_tracker_store.py): owner-only database files, engines and
stores that never log values, and the console's scheduled retention.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from servers import PROJECT_ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_folder_and_file_are_owner_only(tmp_path):
    from stores.private_storage import secure_database_url

    old = os.umask(0o022)
    try:
        path = secure_database_url(f"sqlite:///{tmp_path / 'new' / 'var' / 'c.db'}")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
        assert os.umask(0o022) & 0o077 == 0o077  # the process umask was restricted
        # an existing world-readable file is fixed
        loose = tmp_path / "loose.db"
        loose.write_text("")
        loose.chmod(0o644)
        secure_database_url(f"sqlite:///{loose}")
        assert mode(loose) == 0o600
    finally:
        os.umask(old)


def test_every_process_creates_the_database_owner_only(tmp_path):
    """Rasa's tracker store, the action server's store and the console, each first
    to open a fresh database under a permissive umask (022)."""
    from rasa.shared.core.domain import Domain

    from actions.appointment_store import engine_for as actions_engine
    from console.db import engine_for as console_engine
    from stores.tracker_store import ObservedSQLTrackerStore

    openers = {
        "rasa": lambda url: ObservedSQLTrackerStore(
            domain=Domain.load(str(PROJECT_ROOT / "domain.yml")), host=url
        ),
        "actions": actions_engine,
        "console": console_engine,
    }
    old = os.umask(0o022)
    try:
        for who, open_database in openers.items():
            os.umask(0o022)
            db = tmp_path / who / "var" / "conversations.db"
            open_database(f"sqlite:///{db}")
            assert mode(db) == 0o600, who
            assert mode(db.parent) == 0o700, who
            for side in db.parent.iterdir():
                assert mode(side) & 0o077 == 0, side
    finally:
        os.umask(old)


@pytest.mark.asyncio
async def test_a_failed_appointment_insert_logs_no_name_or_phone(
    tmp_path, caplog, dispatcher, monkeypatch
):
    from actions.appointments import ActionSubmitAppointment
    from trackers import make_tracker

    db = tmp_path / "a.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # a table that refuses every insert
        conn.execute(
            sa.text(
                "create table appointment_requests (id integer primary key, "
                "created_at timestamp, conversation_id text, channel text, "
                "patient_name text, phone text check (phone = 'never'), "
                "preferred_time text, reason text, consent boolean, status text, "
                "status_changed_by text, status_changed_at timestamp)"
            )
        )
    tracker = make_tracker(
        "yes",
        "affirm",
        slots={
            "patient_name": "Maria Lopez",
            "patient_phone": "(310) 555-0123",
            "preferred_time": "mornings",
            "visit_reason": "torn tendon",
            "contact_consent": True,
        },
    )
    with caplog.at_level(logging.DEBUG):
        await ActionSubmitAppointment().run(dispatcher, tracker, {})
    assert "could not send" in dispatcher.messages[0]["text"]
    assert "Could not store the appointment request" in caplog.text
    assert "CHECK constraint failed" in caplog.text
    for secret in ("Maria", "Lopez", "555-0123", "torn tendon"):
        assert secret not in caplog.text, secret


def test_the_console_engine_hides_values_in_errors(tmp_path):
    from console.db import engine_for, intent_corrections

    engine = engine_for(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(sa.exc.IntegrityError) as failure, engine.begin() as conn:
        conn.execute(
            intent_corrections.insert().values(
                sender_id="s",
                event_id=1,
                text="call me at 310 555 0199",
                corrected_intent=None,
                created_by="alice",
                created_at=None,
            )
        )
    assert "555 0199" not in str(failure.value)


def test_every_engine_in_the_code_hides_parameters():
    """grep create_engine: every call outside tests passes hide_parameters=True."""
    calls = []
    for path in PROJECT_ROOT.rglob("*.py"):
        rel = path.relative_to(PROJECT_ROOT)
        if rel.parts[0] in {".venv", "tests", "build", "node_modules"} or rel.parts[0].startswith(
            ".venv"
        ):
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"create_engine\(", text):
            call = text[match.start() : text.find("\n\n", match.start())]
            depth, end = 0, None
            for i, ch in enumerate(call):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0 and ch == ")":
                    end = i
                    break
            calls.append((str(rel), call[: end + 1]))
    assert len(calls) >= 3, calls
    for rel, call in calls:
        assert "hide_parameters=True" in call, (rel, call)
    # the services open the database only through the one factory (stores/db.py)
    services = [rel for rel, _ in calls if rel.split("/")[0] in {"actions", "channels", "console"}]
    assert services == [], services
    assert "stores/db.py" in {rel for rel, _ in calls}


def test_the_console_server_runs_retention_on_its_own(tmp_path):
    """`python -m console serve` (started by `make run`) deletes old conversations and
    expired form answers without cron."""
    from bench import synthetic
    from console.db import engine_for, events
    from servers import free_port, stop_process, wait_until
    from stores.form_answers import pending_form_answers

    url = f"sqlite:///{tmp_path / 'var' / 'conversations.db'}"
    engine = engine_for(url)
    synthetic.insert_conversation(engine, "t-old", time.time() - 120 * 86400, "appointment")
    synthetic.insert_conversation(engine, "t-new", time.time() - 3600, "topic")
    with engine.begin() as conn:
        conn.execute(
            pending_form_answers.insert(),
            [
                dict(
                    sender_id="t-gone",
                    slot="patient_phone",
                    value="(310) 555-0123",
                    updated_at=time.time() - 7200,
                ),
                dict(
                    sender_id="t-new",
                    slot="patient_name",
                    value="Maria Lopez",
                    updated_at=time.time(),
                ),
            ],
        )

    def count(table, sender):
        with engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.sender_id == sender)
            ).scalar()

    assert count(events, "t-old") > 10
    env = dict(
        os.environ,
        DATABASE_URL=url,
        CONSOLE_SECRET_KEY="k" * 32,
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
        RETENTION_DAYS="90",
        RETENTION_INTERVAL_MINUTES="60",
        FORM_ANSWERS_TTL_MINUTES="60",
    )
    env.pop("PYTHONPATH", None)
    port = free_port()
    log = open(tmp_path / "console.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: count(events, "t-old") == 0, 60, "retention", proc)
        wait_until(lambda: count(pending_form_answers, "t-gone") == 0, 30, "form answers", proc)
    finally:
        stop_process(proc)
    assert count(events, "t-new") > 0 and count(pending_form_answers, "t-new") == 1
    assert "retention (90 days): deleted 1 conversations" in (tmp_path / "console.log").read_text()
