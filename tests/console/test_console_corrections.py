"""Issue 20, item 2: safe corrections. The drop-down starts empty and shows the
buttons' titles; none on bot turns or form answers; an empty choice stores nothing;
the typed review note is saved with a correction; previous / next conversation
links; the NLU YAML export from the console (admins), audited.

Over the synthetic database of conftest.py `db` (no Rasa server)."""

from __future__ import annotations

import re

import sqlalchemy as sa
import yaml

from console_helpers import audit_rows, client_as, csrf_token, make_app, summary_id


def _user_events(engine, sender):
    from console.db import events

    with engine.connect() as conn:
        return conn.execute(
            sa.select(events.c.id, events.c.data)
            .where(events.c.sender_id == sender)
            .where(events.c.type_name == "user")
            .order_by(events.c.id)
        ).all()


def _selects(html):
    return re.findall(r'<select name="intent" id="correct-(\d+)">(.*?)</select>', html, re.S)


def test_dropdown_starts_empty_with_button_titles_and_not_on_form_answers(db):
    ada = client_as(db, make_app(db), "ada")
    sid = summary_id(db.engine, "s-appt")
    html = ada.get(f"/conversations/{sid}").text
    selects = _selects(html)
    user_turns = _user_events(db.engine, "s-appt")
    # the form's five answers (name, phone, time, reason, consent) get no drop-down
    assert html.count('class="bubble user"') == len(user_turns)
    assert len(selects) == len(user_turns) - 5
    assert html.count("answer typed into the appointment form") == 5
    for _, options in selects:
        first = re.search(r"<option([^>]*)>([^<]*)</option>", options)
        assert first.group(1).strip() == 'value="" selected' and "choose" in first.group(2)
        assert options.count("selected") == 1  # nothing else preselected
    options = selects[0][1]
    # the titles the assistant's buttons use, not raw intent names
    assert '<option value="ask_recovery">Recovery</option>' in options
    assert '<option value="request_human">Call the office</option>' in options
    assert '<option value="ask_driving">Driving</option>' in options
    assert ">ask_recovery<" not in options and ">affirm<" not in options
    # bot turns have no correction form
    for bubble in re.findall(r'<div class="bubble bot".*?</div>\s*</div>', html, re.S):
        assert "<select" not in bubble


def test_empty_choice_and_form_answers_store_nothing(db):
    from console.db import intent_corrections

    ada = client_as(db, make_app(db), "ada")
    sid = summary_id(db.engine, "s-appt")
    token = csrf_token(ada.get(f"/conversations/{sid}").text)
    turns = _user_events(db.engine, "s-appt")
    question = next(t for t in turns if "book an appointment" in t.data)
    name_answer = next(t for t in turns if '"nlu_fallback"' in t.data)
    with db.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(intent_corrections)).scalar()
    empty = ada.post(
        f"/conversations/{sid}/correct",
        data={"csrf_token": token, "event_id": question.id, "intent": ""},
        follow_redirects=True,
    )
    assert "Choose the right topic first" in empty.text
    refused = ada.post(
        f"/conversations/{sid}/correct",
        data={"csrf_token": token, "event_id": name_answer.id, "intent": "greet"},
    )
    assert refused.status_code == 400
    with db.engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(intent_corrections)).scalar()
    assert after == before


def test_the_typed_note_survives_a_correction(db):
    from console.db import conversation_reviews, intent_corrections

    rita = client_as(db, make_app(db), "rita")
    sid = summary_id(db.engine, "s-fallback")
    token = csrf_token(rita.get(f"/conversations/{sid}").text)
    fallback = next(t for t in _user_events(db.engine, "s-fallback") if "nlu_fallback" in t.data)
    response = rita.post(
        f"/conversations/{sid}/correct",
        data={
            "csrf_token": token,
            "event_id": fallback.id,
            "intent": "ask_recovery",
            "with_review": "1",
            "note": "patient asks about the boot again",
            "tags": "missing content",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "patient asks about the boot again" in response.text  # back in the note field
    assert "Saved: the right topic is Recovery" in response.text
    with db.engine.connect() as conn:
        review = conn.execute(
            sa.select(conversation_reviews).where(conversation_reviews.c.sender_id == "s-fallback")
        ).first()
        correction = conn.execute(
            sa.select(intent_corrections).where(intent_corrections.c.event_id == fallback.id)
        ).first()
    assert review.note == "patient asks about the boot again" and review.tags == "missing content"
    assert correction.corrected_intent == "ask_recovery"
    assert "Corrected to <strong>Recovery</strong>" in response.text


def test_previous_and_next_conversation_follow_the_list(db):
    ada = client_as(db, make_app(db), "ada")
    ids = {s: summary_id(db.engine, s) for s in ("s-topic", "s-fallback", "s-appt")}
    # started: s-topic (oldest), s-fallback, s-appt (newest); the list is newest first
    html = ada.get(f"/conversations/{ids['s-fallback']}?back=/conversations").text
    assert re.search(
        rf'href="/conversations/{ids["s-appt"]}\?back=/conversations"[^>]*rel="prev"', html
    )
    assert re.search(
        rf'href="/conversations/{ids["s-topic"]}\?back=/conversations"[^>]*rel="next"', html
    )
    # within a filtered list: only the conversations that fell back
    only = ada.get(f"/conversations/{ids['s-fallback']}?back=/conversations%3Ffallback%3D1").text
    assert 'rel="prev"' not in only and 'rel="next"' not in only


def test_corrections_export_from_the_console_is_admin_only_and_audited(db):
    app = make_app(db)
    rita = client_as(db, app, "rita")
    token = csrf_token(rita.get("/corrections").text)
    assert rita.post("/corrections.yml", data={"csrf_token": token}).status_code == 403
    ada = client_as(db, app, "ada")
    page = ada.get("/corrections").text
    assert "Export as NLU YAML" in page and "Recovery" in page
    response = ada.post("/corrections.yml", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = yaml.safe_load(response.text)
    assert data["version"] == "3.1"
    intents = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert "ask_recovery" in intents
    rows = audit_rows(db.engine, "export_corrections", username="ada")
    assert rows and "console download" in rows[-1].detail
