"""Issue 20: the conversation list and its CSV show the message that failed, not only
the first question, and the list filters by escalation tier and by language (the
overview's tier and language counts link to those lists).

Own database (no Rasa server): test_console_inbox.py's seed (an SMS 911 escalation, a
Spanish website-chat urgent one, a patient who asked for a person, an appointment, an
answered topic question) and a conversation whose first question was answered and whose
second got a named hand-off."""

from __future__ import annotations

import csv
import io
import re
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from console_helpers import PASSWORDS, client_as, console_test_env, csrf_token, make_app
from test_console_inbox import SMS_SENDER
from test_console_inbox import _seed as seed_inbox


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from bench.synthetic import ConversationWriter
    from console import accounts
    from console.db import engine_for, events
    from console.jobs import refresh_summaries

    workdir = tmp_path_factory.mktemp("console-list-failed")
    url = f"sqlite:///{workdir / 'console.db'}"
    engine = engine_for(url)
    seed_inbox(engine)
    w = ConversationWriter("web-drive", time.time() - 300, "rest")
    w.session_start()
    w.user("how long is recovery after surgery", "ask_recovery", 0.95)
    w.reply("action_answer_topic", "(answer)")
    w.user("when can I drive again with my boot", "ask_driving", 0.9)
    w.reply("action_answer_topic", "Our page doesn't cover driving...")
    with engine.begin() as conn:
        conn.execute(events.insert(), w.rows)
    refresh_summaries(engine)  # summaries, "Needs action" items, flagged turns
    for name, role in (("ada", "admin"), ("rita", "reviewer")):
        accounts.create_user(engine, name, PASSWORDS[name], role=role)
    env = console_test_env(url, workdir, "list-failed-key")
    db = SimpleNamespace(url=url, engine=engine, env=env, cookies={})
    db.app = make_app(db)
    return db


def _ids(engine):
    from console.db import conversation_summaries as cs

    with engine.connect() as conn:
        return dict(conn.execute(sa.select(cs.c.sender_id, cs.c.id)).all())


def _listed(html):
    """The conversation ids of a list page's rows."""
    return {int(i) for i in re.findall(r'href="/conversations/(\d+)\?', html)}


def _row(html, summary_id):
    return re.search(
        rf'<tr[^>]*>\s*<td class="nowrap"><a href="/conversations/{summary_id}\?.*?</tr>',
        html,
        re.S,
    ).group(0)


def test_list_rows_show_the_message_that_failed(site):
    ids = _ids(site.engine)
    page = client_as(site, site.app, "rita").get("/conversations").text
    drive = _row(page, ids["web-drive"])
    assert "how long is recovery after surgery" in drive  # the first question
    assert '<span class="why">named hand-off (page doesn&#39;t cover it):</span>' in drive
    assert "when can I drive again with my boot" in drive
    person = _row(page, ids["web-person"])
    assert '<span class="why">Asked for a person:</span>' in person
    assert "talk to a real person" in person and "Maria" not in person  # masked
    sms = _row(page, ids[SMS_SENDER])
    assert "911 — confirm the patient is safe:" in sms and "310 555 0147" not in sms
    topic = _row(page, ids["web-topic"])  # answered from the page: nothing failed
    assert 'class="unanswered"' not in topic


def test_the_csv_export_has_the_message_that_failed(site):
    ada = client_as(site, site.app, "ada")
    token = csrf_token(ada.get("/conversations").text)
    body = ada.post("/conversations.csv", data={"csrf_token": token}).text
    rows = {r["console_id"]: r for r in csv.DictReader(io.StringIO(body))}
    ids = {k: str(v) for k, v in _ids(site.engine).items()}
    drive = rows[ids["web-drive"]]
    assert drive["first_question"] == "how long is recovery after surgery"
    assert drive["failed_message"] == "when can I drive again with my boot"
    assert drive["failed_because"] == "named hand-off (page doesn't cover it)"
    person = rows[ids["web-person"]]
    assert person["failed_because"] == "Asked for a person"
    assert "talk to a real person" in person["failed_message"]
    assert "Maria" not in person["failed_message"]
    assert rows[ids[SMS_SENDER]]["tier"] == "911" and rows[ids["web-urgent"]]["tier"] == "urgent"
    assert rows[ids["web-urgent"]]["language"] == "es" and drive["language"] == "en"
    assert rows[ids["web-topic"]]["failed_message"] == ""


def test_the_list_filters_by_tier_and_language(site):
    ids = _ids(site.engine)
    rita = client_as(site, site.app, "rita")
    assert _listed(rita.get("/conversations?tier=911").text) == {ids[SMS_SENDER]}
    assert _listed(rita.get("/conversations?tier=urgent").text) == {ids["web-urgent"]}
    assert _listed(rita.get("/conversations?language=es").text) == {ids["web-urgent"]}
    english = _listed(rita.get("/conversations?language=en").text)
    assert english == set(ids.values()) - {ids["web-urgent"]}
    both = rita.get("/conversations?tier=urgent&language=en").text
    assert not _listed(both) and "No conversations match these filters." in both
    page = rita.get("/conversations?tier=911&language=es").text
    assert '<option value="911" selected>' in page and '<option value="es" selected>' in page
    # a tier that does not exist is ignored, not an error
    assert _listed(rita.get("/conversations?tier=bogus").text) == set(ids.values())


def test_overview_tier_and_language_counts_link_to_matching_lists(site):
    rita = client_as(site, site.app, "rita")
    html = rita.get("/overview?days=7").text
    for name, expected in (
        ("911 tier (call 911)", {SMS_SENDER}),
        ("Urgent tier (call the office now)", {"web-urgent"}),
        ("Spanish", {"web-urgent"}),
    ):
        link = re.search(rf'<a href="(/conversations\?[^"]*)">{re.escape(name)}</a>', html)
        assert link, name
        listed = _listed(rita.get(link.group(1).replace("&amp;", "&")).text)
        ids = _ids(site.engine)
        assert listed == {ids[s] for s in expected}, name


def test_migration_0009_fills_tier_and_language_of_summaries_folded_before(tmp_path):
    from bench.synthetic import ConversationWriter, ensure_events_table
    from console.db import conversation_summaries as cs
    from console.db import events
    from console.summaries import refresh
    from stores import schema
    from stores.db import engine_for

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = schema.upgrade_to_head(url)
    ensure_events_table(engine)
    w = ConversationWriter("old-es-911", time.time() - 60, "rest")
    w.slot("language", "es")
    w.user("me duele el pecho", "urgent_problem", 1.0)
    w.reply("utter_urgent_problem", "...")
    w.user("y no puedo respirar", "emergency", 1.0)
    w.reply("utter_emergency", "Llame al 911.")
    with engine.begin() as conn:
        conn.execute(events.insert(), w.rows)
    refresh(engine)
    # as a database folded at revision 0008 was: no tier or language columns
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_conversation_summaries_tier")
        conn.exec_driver_sql("DROP INDEX ix_conversation_summaries_language")
        conn.exec_driver_sql("ALTER TABLE conversation_summaries DROP COLUMN tier")
        conn.exec_driver_sql("ALTER TABLE conversation_summaries DROP COLUMN language")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0008'")
    engine.dispose()
    schema._upgraded.clear()
    engine = schema.upgrade_to_head(engine_for(url))
    with engine.connect() as conn:
        row = conn.execute(sa.select(cs.c.tier, cs.c.language)).one()
    assert (row.tier, row.language) == ("911", "es")
