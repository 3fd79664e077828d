"""Every identifier in the table is masked in all three views that show patient
text (the conversation list, the transcript, the CSV export) and in the stored
summary; ordinary medical text stays readable in all three.

No Rasa server: the conversations are written as Rasa 3.6 writes them
(bench/synthetic.py), one conversation per example, the example being the
patient's first message.
"""

from __future__ import annotations

import csv
import html
import io
import time

import pytest
import sqlalchemy as sa

from console_helpers import PASSWORD, console_test_env, csrf_token, login

# (patient message, what must not appear in any view, mask label it becomes)
MASKED = [
    ("my ssn is 123-45-6789, do I need surgery", "123-45-6789", "id"),
    ("SSN: 123 45 6789", "45 6789", "id"),
    ("my member ID is XJH123456789", "XJH123456789", "id"),
    ("insurance id: ABC 12345678 do you take it", "12345678", "id"),
    ("Member #: W123-456-789", "W123-456-789", "id"),
    ("my MRN is 00123456", "00123456", "id"),
    ("medical record number: 445566", "445566", "id"),
    ("policy number is 9876543210", "9876543210", "id"),
    ("I live at 1234 W Main St Apt 5B", "Main St", "address"),
    ("450 N Bedford Dr, Beverly Hills CA 90210", "Bedford", "address"),
    ("450 N Bedford Dr, Beverly Hills CA 90210", "90210", "address"),
    ("my zip code is 91505", "91505", "address"),
    ("send it to PO Box 4411", "4411", "address"),
    ("my name is Maria Lopez and I tore my achilles", "Lopez", "name"),
    ("hi, I'm Priya. my calf hurts after the cast", "Priya", "name"),
    ("this is John Smith calling about my mom", "John Smith", "name"),
    ("name: jamie rivera", "jamie", "name"),
    ("dob: 19850315", "19850315", "date"),
    ("DOB 03151985", "03151985", "date"),
    ("call me at 310\u2011555\u20110188", "0188", "phone"),  # non-breaking hyphens
    ("call me at 310\u2013555\u20130188", "0188", "phone"),  # en dashes
    ("my cell is 31 05 55 01 88", "01 88", "phone"),  # odd grouping
    ("phone 310 5550 188", "5550 188", "phone"),
    ("text me at \uff13\uff11\uff10 \uff15\uff15\uff15 \uff10\uff11\uff18\uff18", "555", "phone"),
    (
        "text me at \uff13\uff11\uff10 \uff15\uff15\uff15 \uff10\uff11\uff18\uff18",
        "\uff15\uff15\uff15",
        "phone",
    ),
    ("email maria.lopez@example.com please", "maria.lopez@example.com", "email"),
]

# Ordinary medical text that must reach staff as written.
KEPT = [
    "5 weeks post op, 2 wedges",
    "101.5 fever since last night",
    "surgery was June 3, is that normal",
    "I walk 2 blocks down the road in the boot",
    "PT 2x per week for 6 weeks",
    "I'm 45 and I'm worried",
    "this is normal after PARS?",
    "pain is 6/10 at 10:30 pm",
    "call the office at 310.651.2366?",
]

START = time.time() - 3600


def _sender(i: int, kind: str) -> str:
    return f"view-{kind}-{i:02d}"


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """Console app over a fresh database with one conversation per example."""
    from bench import synthetic
    from console import accounts
    from console.app import create_app
    from console.db import engine_for, events
    from console.settings import load_console_settings

    workdir = tmp_path_factory.mktemp("masking-views")
    env = console_test_env(f"sqlite:///{workdir / 'views.db'}", workdir, "test-secret-key")
    settings = load_console_settings(env)
    engine = engine_for(settings.database_url)
    synthetic.ensure_events_table(engine)
    rows = []
    texts = [(_sender(i, "mask"), text) for i, (text, _, _) in enumerate(MASKED)]
    texts += [(_sender(i, "keep"), text) for i, text in enumerate(KEPT)]
    for n, (sender, text) in enumerate(texts):
        writer = synthetic.ConversationWriter(sender, START + n, "rest")
        writer.session_start()
        writer.user(text, "ask_recovery", 0.91)
        writer.reply("action_answer_topic", "Recovery takes time.")
        rows.extend(writer.rows)
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
    app = create_app(settings, refresh_min_seconds=0)
    app.config["TESTING"] = True
    accounts.create_user(engine, "alice", PASSWORD, role="admin")  # admins may export
    client = app.test_client()
    assert login(client).status_code == 302
    listing = html.unescape(client.get("/conversations?q=").text)
    listing += html.unescape(client.get("/conversations?page=2").text)
    export = client.post("/conversations.csv", data={"csrf_token": csrf_token(listing)}).text
    by_sender = {
        r["conversation"]: r["first_question"] for r in csv.DictReader(io.StringIO(export))
    }
    assert len(by_sender) == len(texts)
    from console.db import conversation_summaries as cs

    with engine.connect() as conn:
        summaries = {r.sender_id: r for r in conn.execute(sa.select(cs))}

    def transcript(sender):
        return html.unescape(client.get(f"/conversations/{summaries[sender].id}").text)

    return {"listing": listing, "csv": by_sender, "summaries": summaries, "transcript": transcript}


@pytest.mark.parametrize("i", range(len(MASKED)), ids=[m[0][:40] for m in MASKED])
def test_identifier_is_masked_in_list_transcript_and_csv(views, i):
    text, secret, label = MASKED[i]
    sender = _sender(i, "mask")
    page = views["transcript"](sender)
    assert secret not in page, "transcript"
    assert f'title="hidden: {label}"' in page
    assert secret not in views["listing"], "list"
    assert secret not in views["csv"][sender] and f"<{label}>" in views["csv"][sender], "csv"
    summary = views["summaries"][sender]
    assert secret not in (summary.first_question or "")
    assert secret.lower() not in summary.search_text


@pytest.mark.parametrize("i", range(len(KEPT)), ids=KEPT)
def test_ordinary_medical_text_is_not_masked_away(views, i):
    text, sender = KEPT[i], _sender(i, "keep")
    assert text in views["transcript"](sender)
    assert text in views["listing"]
    assert views["csv"][sender] == text
