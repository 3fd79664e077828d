"""Issue 20, item 5: the overview's channel and language splits, this period
against the one before, escalations by tier, list links; the audit log's filters,
readable action names, conversation numbers and paging.

Own database (no Rasa server): test_console_inbox.py's seed (today: an SMS 911
escalation, a Spanish website-chat urgent one, a hand-off, an appointment, a
topic question) and three web conversations ten days ago (the period before)."""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest

from console_helpers import PASSWORDS, client_as, console_test_env, make_app
from test_console_inbox import SMS_SENDER
from test_console_inbox import _seed as seed_inbox


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from bench import synthetic
    from console import accounts
    from console.db import engine_for
    from console.summaries import refresh

    workdir = tmp_path_factory.mktemp("console-overview20")
    url = f"sqlite:///{workdir / 'console.db'}"
    engine = engine_for(url)
    seed_inbox(engine)
    for i in range(3):
        synthetic.insert_conversation(engine, f"old-{i}", time.time() - 10 * 86400 + i, "topic")
    refresh(engine)
    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("cal", "callback")):
        accounts.create_user(engine, name, PASSWORDS[name], role=role)
    env = console_test_env(url, workdir, "overview-20-key")
    db = SimpleNamespace(url=url, engine=engine, env=env, cookies={})
    db.app = make_app(db)
    return db


def _data(html):
    return json.loads(re.search(r'id="overview-data">(.*?)</script>', html, re.S).group(1))


def test_overview_splits_and_the_period_before(site):
    rita = client_as(site, site.app, "rita")
    html = rita.get("/overview?days=7").text
    c = _data(html)["compare"]
    channels = {r["key"]: (r["this"], r["last"]) for r in c["channels"]}
    assert channels == {"twilio": (1, 0), "socketio": (1, 0), "rest": (3, 3)}
    languages = {r["key"]: (r["this"], r["last"]) for r in c["languages"]}
    assert languages == {"en": (4, 3), "es": (1, 0)}
    tiers = {r["key"]: (r["this"], r["last"]) for r in c["tiers"]}
    assert tiers == {"911": (1, 0), "urgent": (1, 0)}
    assert c["conversations"] == {"this": 5, "last": 3}
    assert c["totals_last"]["conversations"] == 3
    assert "up from 3 the 7 days before" in html
    # the splits link to the filtered list
    link = re.search(r'<a href="(/conversations\?[^"]*channel=twilio[^"]*)">SMS</a>', html)
    assert link, html
    listed = rita.get(link.group(1).replace("&amp;", "&")).text
    assert listed.count("<tr") - 1 == 1  # the SMS conversation only (one header row)
    assert "911 tier (call 911)" in html and "Spanish" in html


def test_audit_log_filters_names_numbers_and_paging(site):
    import sqlalchemy as sa

    from console import audit
    from console.db import conversation_summaries as cs

    cal = client_as(site, site.app, "cal")
    ada = client_as(site, site.app, "ada")
    cal.get("/inbox")
    with site.engine.begin() as conn:
        audit.record_many(conn, "bulk-tester", "view_conversation", [SMS_SENDER] * 120)
        sid = conn.execute(sa.select(cs.c.id).where(cs.c.sender_id == SMS_SENDER)).scalar()
    page = ada.get("/audit").text
    assert "Page 1 of" in page and page.count("<tr>") - 1 <= 50
    assert f'<a href="/conversations/{sid}">Conversation {sid}</a>' in page
    assert SMS_SENDER not in page  # never the sender id
    assert "Opened a transcript" in page and ">view_conversation<" not in page
    only_cal = ada.get("/audit?user=cal").text
    rows = re.findall(r"<tr><td class=\"nowrap\">.*?</tr>", only_cal, re.S)
    assert rows and all("<td>cal</td>" in r for r in rows)
    assert "Viewed Needs action" in only_cal
    viewed = ada.get("/audit?user=bulk-tester&action=view_conversation").text
    assert "120 entries" in viewed and "Page 1 of 3" in viewed
    nxt = re.search(r'href="([^"]*page=2[^"]*)">Older', viewed).group(1).replace("&amp;", "&")
    assert "user=bulk-tester" in nxt and "action=view_conversation" in nxt
    assert "Page 2 of 3" in ada.get(nxt).text
    future = ada.get("/audit?date_from=2099-01-01").text
    assert "Nothing matches." in future and "0 entries" in future


def test_transcript_shows_the_escalation_tier(site):
    import sqlalchemy as sa

    from console.db import conversation_summaries as cs

    ada = client_as(site, site.app, "ada")
    with site.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(cs.c.sender_id, cs.c.id)).all())
    sms = ada.get(f"/conversations/{ids[SMS_SENDER]}").text
    urgent = ada.get(f"/conversations/{ids['web-urgent']}").text
    assert '<span class="tier tier-911">' in sms and "tier-urgent" not in sms
    assert '<span class="tier tier-urgent">' in urgent and "tier-911" not in urgent
