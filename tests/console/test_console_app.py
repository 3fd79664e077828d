"""The staff console's pages over a database written by the real Rasa server
(conftest.py `assistant_db`): the list and its filters, transcripts, the
appointment queue, CSV export, intent corrections, the overview and retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time

import pytest
import sqlalchemy as sa
import yaml

from console_helpers import (
    PATIENT_DOB,
    PATIENT_EMAIL,
    assert_audit,
    csrf_token,
    run_cli,
    summary_id,
)


def rows_of(html: str):
    """(started, channel, turns, first question, flags) text of each list row."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in body.split("</tr>")
        if "<td" in row and 'class="empty"' not in row
    ]


def listed_ids(html: str):
    return {int(i) for i in re.findall(r'href="/conversations/(\d+)\?', html)}


# ---------------------------------------------------------------- list and filters


def test_list_shows_every_conversation_newest_first(client, engine):
    html = client.get("/conversations").text
    rows = rows_of(html)
    assert len(rows) == 7
    assert rows[0].count(" rest ") == 1  # channel column
    # newest first: t-pii was the last conversation
    assert listed_ids(html) >= {summary_id(engine, "t-pii")}
    first_link = re.search(r'href="/conversations/(\d+)\?', html).group(1)
    assert int(first_link) == summary_id(engine, "t-pii")
    # the greeting is skipped as "first question"
    topic_row = next(r for r in rows if "symptoms" in r)
    assert "what are the symptoms" in topic_row and " 3 " in topic_row


@pytest.mark.parametrize("flag", ["fallback", "emergency", "handoff", "appointment"])
def test_flag_filters(client, engine, assistant_db, flag):
    """Each filter lists exactly the conversations whose replies show that outcome."""
    expected = assistant_db.expected[flag]
    assert expected
    html = client.get(f"/conversations?{flag}=1").text
    assert listed_ids(html) == {summary_id(engine, s) for s in expected}
    if flag == "fallback":
        assert {"t-fallback", "t-oos"} <= expected
        assert "t-appointment" not in expected  # the name typed into the form is no fallback


def senders_with_intent(engine, intent):
    """Straight from Rasa's events table (not from the console's summaries)."""
    from console.db import events

    with engine.connect() as conn:
        return {
            r[0]
            for r in conn.execute(
                sa.select(events.c.sender_id)
                .distinct()
                .where(events.c.type_name == "user")
                .where(events.c.intent_name == intent)
            )
        }


def intent_of(engine, sender, text):
    from console.db import events

    with engine.connect() as conn:
        for row in conn.execute(
            sa.select(events)
            .where(events.c.sender_id == sender)
            .where(events.c.type_name == "user")
        ):
            if text in row.data:
                return row.intent_name
    raise AssertionError((sender, text))


def test_other_filters(client, engine):
    ids = lambda q: listed_ids(client.get("/conversations?" + q).text)  # noqa: E731
    intent = intent_of(engine, "t-topic", "how long is recovery?")
    assert ids(f"intent={intent}") == {
        summary_id(engine, s) for s in senders_with_intent(engine, intent)
    }
    assert ids("intent=request_appointment") >= {summary_id(engine, "t-appointment")}
    assert ids("channel=rest") == ids("")
    assert ids("channel=twilio") == set()
    today = dt.datetime.now().date()
    assert len(ids(f"date_from={(today - dt.timedelta(days=2)).isoformat()}")) == 7
    assert ids(f"date_to={(today - dt.timedelta(days=3)).isoformat()}") == set()
    assert ids("page=2") == set()


def test_full_text_search(client, engine):
    """The search goes in a POST body (issue 21: never in a URL)."""
    token = csrf_token(client.get("/conversations").text)

    def search(words):
        return listed_ids(
            client.post("/conversations", data={"csrf_token": token, "q": words}).text
        )

    assert search("weather") == {summary_id(engine, "t-oos")}
    assert search("RECOVERY long") == {summary_id(engine, "t-topic")}
    assert search("50%_off") == set()


def test_reviewed_filter_and_review_form(client, engine):
    sid = summary_id(engine, "t-handoff")
    assert sid in listed_ids(client.get("/conversations?reviewed=no").text)
    page = client.get(f"/conversations/{sid}").text
    response = client.post(
        f"/conversations/{sid}/review",
        data={
            "csrf_token": csrf_token(page),
            "reviewed": "1",
            "tags": "handoff ok, , handoff ok",
            "note": "Patient wanted a person; fine.",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/conversations/{sid}").text
    assert "checked" in page.split('id="reviewed"', 1)[1][:40]
    assert "Patient wanted a person; fine." in page and 'value="handoff ok"' in page
    assert sid in listed_ids(client.get("/conversations?reviewed=yes").text)
    assert sid not in listed_ids(client.get("/conversations?reviewed=no").text)
    assert_audit(engine, "alice", "review", "t-handoff")


# ---------------------------------------------------------------- transcript


def test_transcript_shows_intents_runner_up_and_actions(client, engine):
    page = client.get(f"/conversations/{summary_id(engine, 't-topic')}").text
    assert "what are the symptoms of a ruptured achilles?" in page
    intent = intent_of(engine, "t-topic", "what are the symptoms")
    from markupsafe import escape

    from console.intent_titles import title

    # the intent as the title its button uses, the name in the tooltip (issue 20)
    assert re.search(
        rf'class="intent" title="{intent}">{re.escape(str(escape(title(intent))))}</span>\s*'
        r'<span class="conf">[01]\.\d\d</span>',
        page,
    )
    assert re.search(r'class="runner">runner-up [^<]+ 0\.\d\d', page)
    assert '<span class="action">action_answer_topic</span>' in page
    assert '<span class="action">utter_greet</span>' in page
    emergency = client.get(f"/conversations/{summary_id(engine, 't-emergency')}").text
    assert "red flag: urgent_problem (calf, by rules)" in emergency
    assert '<span class="action">utter_urgent_problem</span>' in emergency


def test_transcript_masks_personal_data(client, engine):
    pii = client.get(f"/conversations/{summary_id(engine, 't-pii')}").text
    assert PATIENT_EMAIL not in pii and PATIENT_DOB not in pii
    assert 'title="hidden: email"' in pii and 'title="hidden: date"' in pii
    appointment = client.get(f"/conversations/{summary_id(engine, 't-appointment')}").text
    for secret in ("555 0123", "555-0123", "Maria", "Lopez"):
        assert secret not in appointment, secret
    assert 'title="hidden: phone"' in appointment and 'title="hidden: name"' in appointment
    assert "310.651.2366" in appointment  # the office's public number stays
    listing = client.get("/conversations").text
    assert PATIENT_EMAIL not in listing and PATIENT_DOB not in listing


def test_phone_numbers_are_visible_only_in_the_appointment_queue(client, engine):
    page = client.get("/appointments").text
    assert "(310) 555-0123" in page and "Maria Lopez" in page
    assert_audit(engine, "alice", "view_appointments")
    request_id = int(re.search(r"/appointments/(\d+)/status", page).group(1))
    response = client.post(
        f"/appointments/{request_id}/status",
        data={"csrf_token": csrf_token(page), "status": "called_back"},
    )
    assert response.status_code == 302
    from console.db import appointment_requests

    with engine.connect() as conn:
        row = conn.execute(
            sa.select(appointment_requests).where(appointment_requests.c.id == request_id)
        ).first()
    assert row.status == "called_back" and row.status_changed_by == "alice"
    assert row.status_changed_at is not None
    assert "alice," in client.get("/appointments?status=called_back").text
    assert "(310) 555-0123" not in client.get("/appointments?status=closed").text


def test_csv_export_is_masked_and_audited(client, engine, assistant_db):
    token = csrf_token(client.get("/conversations").text)
    response = client.post("/conversations.csv", data={"fallback": "1", "csrf_token": token})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["conversation"] for r in rows} == assistant_db.expected["fallback"]
    everything = client.post("/conversations.csv", data={"csrf_token": token}).text
    rows = list(csv.DictReader(io.StringIO(everything)))
    assert len(rows) == 7
    assert PATIENT_EMAIL not in everything and PATIENT_DOB not in everything
    assert "<email>" in everything and "<date>" in everything
    assert "555 0123" not in everything and "555-0123" not in everything
    with engine.connect() as conn:
        from console.db import audit_log

        exported = {
            r.sender_id
            for r in conn.execute(sa.select(audit_log).where(audit_log.c.action == "export_csv"))
        }
    assert {"t-fallback", "t-oos", "t-pii", "t-topic"} <= exported


def test_viewing_a_transcript_is_audited(client, engine):
    client.get(f"/conversations/{summary_id(engine, 't-emergency')}")
    assert_audit(engine, "alice", "view_conversation", "t-emergency")
    audit_page = client.get("/audit").text
    # readable action names, and the conversation's number linked instead of its sender id
    sid = summary_id(engine, "t-emergency")
    assert "Opened a transcript" in audit_page
    assert f'<a href="/conversations/{sid}">Conversation {sid}</a>' in audit_page


# ---------------------------------------------------------------- corrections


def test_intent_correction_and_export(client, engine, console_env, tmp_path):
    sid = summary_id(engine, "t-pii")
    page = client.get(f"/conversations/{sid}").text
    event_id = re.search(r'name="event_id" value="(\d+)"', page).group(1)
    response = client.post(
        f"/conversations/{sid}/correct",
        data={
            "csrf_token": csrf_token(page),
            "event_id": event_id,
            "intent": "ask_surgery_options",
        },
    )
    assert response.status_code == 302
    from console.intent_titles import title

    assert (
        f"Corrected to <strong>{title('ask_surgery_options')}</strong>"
        in client.get(f"/conversations/{sid}").text
    )
    # an intent that is not in the domain, or an event of another conversation: refused
    other = summary_id(engine, "t-topic")
    assert (
        client.post(
            f"/conversations/{other}/correct",
            data={"csrf_token": csrf_token(page), "event_id": event_id, "intent": "greet"},
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/conversations/{sid}/correct",
            data={"csrf_token": csrf_token(page), "event_id": event_id, "intent": "hack"},
        ).status_code
        == 400
    )

    out = tmp_path / "corrections.yml"
    result = run_cli(console_env, "export-corrections", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    entry = next(e for e in data["nlu"] if e["intent"] == "ask_surgery_options")
    examples = [line[2:] for line in entry["examples"].splitlines()]
    assert "my email is <email> and I was born on <date>, can I get surgery?" in examples
    assert PATIENT_EMAIL not in text and PATIENT_DOB not in text
    # Rasa itself reads it as NLU training data
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    training = RasaYAMLReader().reads(text)
    assert any(m.get("intent") == "ask_surgery_options" for m in training.training_examples)
    assert_audit(engine, None, "export_corrections", "t-pii")


# ---------------------------------------------------------------- overview


def test_overview_page(client, assistant_db):
    page = client.get("/overview?days=7").text
    assert 'src="/static/vendor/chart.umd.min.js"' in page
    data = yaml.safe_load(re.search(r'id="overview-data">(.*?)</script>', page, re.S).group(1))
    assert sum(data["conversations"]) == 7
    assert data["totals"]["emergency"] == len(assistant_db.expected["emergency"])
    assert dict(data["top_intents"]).get("request_appointment", 0) >= 1
    assert max(data["fallback_rate"]) > 0
    vendored = client.get("/static/vendor/chart.umd.min.js")
    assert vendored.status_code == 200 and b"Released under the MIT License" in vendored.data[:300]
    vendored.close()


# ---------------------------------------------------------------- retention


def test_retention_deletes_old_conversations_and_their_console_rows(engine, console_env):
    from bench import synthetic
    from console import summaries
    from console.db import (
        conversation_reviews,
        conversation_summaries,
        events,
        intent_corrections,
        utcnow,
    )

    old_start = time.time() - 400 * 86400
    synthetic.insert_conversation(engine, "t-ancient", old_start, "fallback")
    summaries.refresh(engine)
    with engine.begin() as conn:
        conn.execute(
            conversation_reviews.insert().values(
                sender_id="t-ancient",
                reviewed=True,
                tags="old",
                note="",
                updated_by="alice",
                updated_at=utcnow(),
            )
        )
        event_id = conn.execute(
            sa.select(sa.func.max(events.c.id)).where(events.c.sender_id == "t-ancient")
        ).scalar()
        conn.execute(
            intent_corrections.insert().values(
                sender_id="t-ancient",
                event_id=event_id,
                text="old text",
                corrected_intent="greet",
                created_by="alice",
                created_at=utcnow(),
            )
        )

    def count(table, sender):
        with engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.sender_id == sender)
            ).scalar()

    assert count(events, "t-ancient") > 10
    dry = run_cli(console_env, "retention", "--days", "30", "--dry-run")
    assert dry.returncode == 0 and "Would delete 1 conversations" in dry.stdout
    assert count(events, "t-ancient") > 10
    result = run_cli(console_env, "retention", "--days", "30")
    assert result.returncode == 0, result.stderr
    assert "Deleted 1 conversations" in result.stdout
    for table in (events, conversation_summaries, conversation_reviews, intent_corrections):
        assert count(table, "t-ancient") == 0, table.name
    assert count(events, "t-topic") > 0 and count(conversation_summaries, "t-topic") == 1
    assert_audit(engine, None, "retention")
    assert run_cli(console_env, "retention", "--days", "0").returncode != 0
