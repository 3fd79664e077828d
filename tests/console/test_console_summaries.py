"""The incremental per-conversation summary (no Rasa server needed)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from bench import synthetic
from console import summaries
from console.db import conversation_summaries as cs
from console.db import engine_for, events


def make_engine(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'summaries.db'}")
    synthetic.ensure_events_table(engine)
    return engine


def all_summaries(engine):
    with engine.connect() as conn:
        return {r.sender_id: dict(r._mapping) for r in conn.execute(sa.select(cs))}


def test_incremental_refresh_equals_a_full_rebuild(tmp_path):
    engine = make_engine(tmp_path)
    now = time.time()
    synthetic.insert_conversation(engine, "a", now - 3600, "topic")
    synthetic.insert_conversation(engine, "b", now - 3000, "appointment")
    assert summaries.refresh(engine) > 0
    assert summaries.refresh(engine) == 0  # nothing new: nothing folded
    # new turns of "a" and a new conversation "c" arrive
    synthetic.insert_conversation(engine, "a", now - 1000, "fallback", seed_value=3)
    synthetic.insert_conversation(engine, "c", now - 500, "emergency")
    with engine.connect() as conn:
        new_events = conn.execute(
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.sender_id.in_(["a", "c"]))
            .where(events.c.timestamp > now - 1100)
        ).scalar()
    assert summaries.refresh(engine) == new_events
    incremental = all_summaries(engine)
    summaries.rebuild(engine)
    rebuilt = all_summaries(engine)
    for sender in "abc":
        a, b = dict(incremental[sender]), dict(rebuilt[sender])
        a.pop("id"), b.pop("id")
        assert a == b, sender
    assert incremental["a"]["fell_back"] and not incremental["b"]["fell_back"]
    assert incremental["b"]["appointment"] and incremental["c"]["emergency"]


def test_fold_rules(tmp_path):
    engine = make_engine(tmp_path)
    synthetic.insert_conversation(engine, "appt", time.time(), "appointment", channel="socketio")
    summaries.refresh(engine)
    row = all_summaries(engine)["appt"]
    # the name typed into the form is classified nlu_fallback but is not a fallback
    assert not row["fell_back"] and row["appointment"] and row["channel"] == "socketio"
    assert row["active_loop"] is None
    counts = json.loads(row["intent_counts"])
    assert counts["request_appointment"] == 1 and ",request_appointment," in row["intents"]
    # answers typed into the form are turns, but not questions with an intent to count
    assert "nlu_fallback" not in counts and row["turns"] > sum(counts.values())
    assert row["first_question"] != "hi"


def test_late_commit_within_lookback_is_folded(tmp_path):
    """A lower id committed after a higher one (PostgreSQL sequences) is not lost."""
    engine = make_engine(tmp_path)
    now = time.time()
    synthetic.insert_conversation(engine, "x", now - 100, "topic")
    summaries.refresh(engine)
    with engine.begin() as conn:
        top = conn.execute(sa.select(sa.func.max(events.c.id))).scalar()
        # "y" gets an id above x's, then a lower free id appears later for "z"
        conn.execute(
            events.insert().values(
                id=top + 10,
                sender_id="y",
                type_name="action",
                timestamp=now,
                action_name="action_handoff",
                data="{}",
            )
        )
    summaries.refresh(engine)
    with engine.begin() as conn:
        conn.execute(
            events.insert().values(
                id=top + 5,
                sender_id="z",
                type_name="action",
                timestamp=now,
                action_name="utter_emergency",
                data="{}",
            )
        )
    summaries.refresh(engine)
    rows = all_summaries(engine)
    assert rows["y"]["handoff"] and rows["z"]["emergency"]


def test_cheap_check_for_new_events(tmp_path):
    engine = make_engine(tmp_path)
    assert not summaries.has_new_events(engine)
    synthetic.insert_conversation(engine, "n", time.time(), "topic")
    assert summaries.has_new_events(engine)
    summaries.refresh(engine)
    assert not summaries.has_new_events(engine)
