"""What patients ask that the page does not cover: the unanswered-topics report
(issue 20). Computed by the console's background job (console/jobs.py), never on a
request.

1. `flag_new_turns`: every patient turn the assistant did not answer from the page
   is kept in `flagged_turns` (masked text) with its reason:
   - `handoff`: a named hand-off ("Our page doesn't cover driving…"): an intent of
     content/achilles_content.yml `not_covered`;
   - `did_you_mean`: answered with "Did you mean…?" (action_clarify_or_handoff);
   - `fallback`: nlu_fallback, or action_default_fallback;
   - `out_of_scope`: intent out_of_scope or action_out_of_scope;
   - `other_language`: intent other_language or utter_other_language.
   Answers typed into the appointment form are not questions and are skipped.
   Each gets the assistant's own MiniLM sentence vector
   (nlu_components/sentence_embeddings: the encoder the NLU pipeline runs, loaded
   from its PyPI package, nothing from a model hub).
2. `build_themes`: the flagged turns of the last WINDOW_WEEKS are clustered
   (scikit-learn agglomerative clustering, cosine distance, average linkage, cut at
   DISTANCE_THRESHOLD); a cluster of at least MIN_THEME_SIZE messages is a theme.
   Its label is its most central message (nearest the centre); counts per week,
   a trend (this week against the week before), masked examples. A theme whose
   centre is close to last run's (MATCH_SIMILARITY) keeps its id, so the name and
   decision staff gave it stay.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import sqlalchemy as sa
import yaml

from console.db import (
    EVENT_ROW_COLUMNS,
    events,
    events_table_exists,
    json_object,
    read_meta,
    write_meta,
)
from console.tables import flagged_turns, topic_themes

logger = logging.getLogger(__name__)

CONTENT_FILE = Path(__file__).resolve().parent.parent / "content" / "achilles_content.yml"
WATERMARK_KEY = "topics_watermark"
LAST_RUN_KEY = "topics_last_run"
LOOKBACK_IDS = 5000
BATCH_EVENTS = 20000
WINDOW_WEEKS = 8
MAX_CLUSTERED = 6000  # the most recent flagged turns clustered per run (memory: n^2)
DISTANCE_THRESHOLD = 0.55  # cosine distance, average linkage (tuned on the seeded week)
MIN_THEME_SIZE = 3
MATCH_SIMILARITY = 0.85
EXAMPLES = 5
TEXT_MAX = 500
FORM_NAME = "appointment_form"

REASONS = {
    "handoff": "named hand-off (page doesn't cover it)",
    "did_you_mean": '"Did you mean…?"',
    "fallback": "not understood",
    "out_of_scope": "out of scope",
    "other_language": "another language",
}
DECISIONS = {"add_to_page": "Add to the page", "not_for_bot": "Not for the bot"}
ACTION_REASONS = {
    "action_clarify_or_handoff": "did_you_mean",
    "action_default_fallback": "fallback",
    "action_out_of_scope": "out_of_scope",
    "utter_other_language": "other_language",
}
INTENT_REASONS = {
    "nlu_fallback": "fallback",
    "out_of_scope": "out_of_scope",
    "other_language": "other_language",
}
# the stronger reason wins when a turn has two (e.g. nlu_fallback then "Did you mean")
PRIORITY = ["handoff", "did_you_mean", "other_language", "out_of_scope", "fallback"]


@cache
def handoff_intents() -> frozenset:
    raw = yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")) or {}
    return frozenset(
        e["intent"] for e in (raw.get("not_covered") or {}).values() if e.get("intent")
    )


def _reason(intent: Optional[str], actions: Iterable[str]) -> Optional[str]:
    found = set()
    if intent in handoff_intents():
        found.add("handoff")
    if intent in INTENT_REASONS:
        found.add(INTENT_REASONS[intent])
    found.update(ACTION_REASONS[a] for a in actions if a in ACTION_REASONS)
    for reason in PRIORITY:
        if reason in found:
            return reason
    return None


@dataclass
class _Turn:
    event_id: int
    sender_id: str
    at: float
    intent: Optional[str]
    text: str
    in_form: bool
    actions: List[str]


def _encoder():
    from nlu_components.sentence_embeddings import get_encoder

    return get_encoder()


def default_encode(texts: List[str]) -> np.ndarray:
    return _encoder().encode(texts)


def flag_new_turns(
    engine: sa.engine.Engine,
    masker: Any,
    encode: Optional[Callable[[List[str]], np.ndarray]] = None,
    lookback: int = LOOKBACK_IDS,
) -> int:
    """Flags the turns of events not looked at yet; returns how many were flagged.

    Without `encode` the turns are stored without their vector (the summary refresh
    does that, so lists can show the message that failed at once); `embed_missing`
    adds the vectors in the background job."""
    if not events_table_exists(engine):
        return 0
    with engine.connect() as conn:
        watermark = int(read_meta(conn, WATERMARK_KEY) or 0)
    low = max(0, watermark - lookback)
    flagged = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(*EVENT_ROW_COLUMNS)
                .where(events.c.id > low)
                .where(events.c.type_name.in_(("user", "action", "active_loop", "session_started")))
                .order_by(events.c.id)
                .limit(BATCH_EVENTS)
            ).all()
            if not rows:
                break
            senders = list({r.sender_id for r in rows})
            # the form state of each conversation at the start of this batch
            loops: Dict[str, Optional[str]] = {}
            for chunk_start in range(0, len(senders), 500):
                chunk = senders[chunk_start : chunk_start + 500]
                last = (
                    sa.select(events.c.sender_id, sa.func.max(events.c.id).label("id"))
                    .where(events.c.sender_id.in_(chunk))
                    .where(events.c.id <= low)
                    .where(events.c.type_name.in_(("active_loop", "session_started")))
                    .group_by(events.c.sender_id)
                    .subquery()
                )
                for r in conn.execute(
                    sa.select(events.c.sender_id, events.c.type_name, events.c.action_name).join(
                        last, last.c.id == events.c.id
                    )
                ):
                    loops[r.sender_id] = r.action_name if r.type_name == "active_loop" else None
            known = set(
                conn.execute(
                    sa.select(flagged_turns.c.event_id).where(flagged_turns.c.event_id > low)
                ).scalars()
            )
        turns: List[_Turn] = []
        open_turn: Dict[str, _Turn] = {}
        for r in rows:
            if r.type_name == "active_loop":
                loops[r.sender_id] = r.action_name or None
            elif r.type_name == "session_started":
                loops[r.sender_id] = None
            elif r.type_name == "user":
                payload = json_object(r.data)
                turn = _Turn(
                    r.id,
                    r.sender_id,
                    float(r.timestamp or 0),
                    r.intent_name,
                    payload.get("text") or "",
                    bool(loops.get(r.sender_id)),
                    [],
                )
                open_turn[r.sender_id] = turn
                turns.append(turn)
            elif r.type_name == "action" and r.sender_id in open_turn:
                if r.action_name == FORM_NAME:
                    loops[r.sender_id] = loops.get(r.sender_id)  # the form's own turn
                open_turn[r.sender_id].actions.append(r.action_name or "")
        new_rows = []
        for t in turns:
            if t.event_id in known or t.in_form or not t.text.strip():
                continue
            reason = _reason(t.intent, t.actions)
            if reason is None:
                continue
            text = masker.mask(t.text)[:TEXT_MAX]
            new_rows.append(
                dict(event_id=t.event_id, sender_id=t.sender_id, at=t.at, reason=reason, text=text)
            )
        if new_rows:
            vectors = encode([r["text"] for r in new_rows]) if encode else [None] * len(new_rows)
            for r, v in zip(new_rows, vectors):
                r["embedding"] = None if v is None else np.asarray(v, dtype=np.float16).tobytes()
        # the last user turn of a batch may still get its reply in the next batch:
        # the look-back re-reads it (already flagged turns are skipped)
        with engine.begin() as conn:
            if new_rows:
                conn.execute(flagged_turns.insert(), new_rows)
            top = rows[-1].id
            write_meta(conn, WATERMARK_KEY, str(max(watermark, top)))
            watermark = max(watermark, top)
        flagged += len(new_rows)
        if len(rows) < BATCH_EVENTS:
            break
        low = rows[-1].id - 200  # a little overlap: a turn's actions follow it closely
    return flagged


def embed_missing(
    engine: sa.engine.Engine, encode: Callable[[List[str]], np.ndarray], batch: int = 512
) -> int:
    """Adds the sentence vectors of turns flagged without one (by the summary refresh)."""
    done = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(flagged_turns.c.event_id, flagged_turns.c.text)
                .where(flagged_turns.c.embedding.is_(None))
                .order_by(flagged_turns.c.event_id)
                .limit(batch)
            ).all()
        if not rows:
            return done
        vectors = encode([r.text for r in rows])
        with engine.begin() as conn:
            conn.execute(
                flagged_turns.update()
                .where(flagged_turns.c.event_id == sa.bindparam("_id"))
                .values(embedding=sa.bindparam("_vec")),
                [
                    {"_id": r.event_id, "_vec": np.asarray(v, dtype=np.float16).tobytes()}
                    for r, v in zip(rows, vectors)
                ],
            )
        done += len(rows)


def latest_flagged(conn: sa.engine.Connection, sender_ids: List[str]) -> Dict[str, Any]:
    """Each conversation's last flagged turn (masked text, reason): the message that
    failed, for the conversation list."""
    if not sender_ids:
        return {}
    last = (
        sa.select(sa.func.max(flagged_turns.c.event_id))
        .where(flagged_turns.c.sender_id.in_(list(sender_ids)))
        .group_by(flagged_turns.c.sender_id)
    )
    return {
        r.sender_id: r
        for r in conn.execute(
            sa.select(
                flagged_turns.c.sender_id,
                flagged_turns.c.event_id,
                flagged_turns.c.text,
                flagged_turns.c.reason,
            ).where(flagged_turns.c.event_id.in_(last))
        )
    }


def week_start(ts: float, tz: dt.tzinfo) -> dt.date:
    day = dt.datetime.fromtimestamp(ts, tz).date()
    return day - dt.timedelta(days=day.weekday())


def trend(this_week: int, last_week: int) -> str:
    if this_week >= last_week + 2 and this_week > last_week * 1.25:
        return "up"
    if last_week >= this_week + 2 and this_week < last_week * 0.8:
        return "down"
    return "flat"


def cluster(vectors: np.ndarray, threshold: float = DISTANCE_THRESHOLD) -> np.ndarray:
    """Cluster labels (one per row) of L2-normalised vectors."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None,
        distance_threshold=threshold,
        affinity="cosine",
        linkage="average",
    )
    return model.fit_predict(vectors)


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


def build_themes(
    engine: sa.engine.Engine,
    tz: dt.tzinfo,
    now: Optional[float] = None,
    threshold: float = DISTANCE_THRESHOLD,
) -> int:
    """Recomputes the themes from the flagged turns; returns how many there are."""
    now = now or time.time()
    since = now - WINDOW_WEEKS * 7 * 86400
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                flagged_turns.c.event_id,
                flagged_turns.c.sender_id,
                flagged_turns.c.at,
                flagged_turns.c.reason,
                flagged_turns.c.text,
                flagged_turns.c.embedding,
            )
            .where(flagged_turns.c.at >= since)
            .where(flagged_turns.c.embedding.is_not(None))
            .order_by(flagged_turns.c.at.desc())
            .limit(MAX_CLUSTERED)
        ).all()
        old = conn.execute(sa.select(topic_themes)).all()
    vectors = (
        _normalise(
            np.stack([np.frombuffer(r.embedding, dtype=np.float16) for r in rows]).astype(
                np.float32
            )
        )
        if rows
        else np.zeros((0, 384), dtype=np.float32)
    )
    labels = cluster(vectors, threshold)
    this_week = week_start(now, tz)
    weeks = [this_week - dt.timedelta(weeks=i) for i in range(WINDOW_WEEKS - 1, -1, -1)]
    old_centroids = [
        (t, _normalise(np.frombuffer(t.centroid, dtype=np.float32).reshape(1, -1))[0])
        for t in old
        if t.centroid
    ]
    used_old: set = set()
    themes = []
    assignment: Dict[int, Optional[int]] = {r.event_id: None for r in rows}
    for label in sorted(set(labels.tolist())):
        members = np.where(labels == label)[0]
        if len(members) < MIN_THEME_SIZE:
            continue
        centre = _normalise(vectors[members].mean(axis=0, keepdims=True))[0]
        closeness = vectors[members] @ centre
        order = members[np.argsort(-closeness)]
        counts = {w: 0 for w in weeks}
        reasons: Dict[str, int] = {}
        for i in members:
            w = week_start(rows[i].at, tz)
            if w in counts:
                counts[w] += 1
            reasons[rows[i].reason] = reasons.get(rows[i].reason, 0) + 1
        examples = [
            {"text": rows[i].text, "sender_id": rows[i].sender_id, "event_id": rows[i].event_id}
            for i in order[:EXAMPLES]
        ]
        match = None
        best = MATCH_SIMILARITY
        for theme, c in old_centroids:
            if theme.id in used_old:
                continue
            sim = float(c @ centre)
            if sim >= best:
                match, best = theme, sim
        if match is not None:
            used_old.add(match.id)
        themes.append(
            dict(
                match=match,
                members=[rows[i].event_id for i in members],
                values=dict(
                    label=rows[order[0]].text[:200],
                    centroid=centre.astype(np.float32).tobytes(),
                    message_count=len(members),
                    weekly=json.dumps([[w.isoformat(), counts[w]] for w in weeks]),
                    trend=trend(counts[weeks[-1]], counts[weeks[-2]]),
                    examples=json.dumps(examples),
                    reasons=json.dumps(reasons, sort_keys=True),
                    active=True,
                    computed_at=dt.datetime.fromtimestamp(now, dt.timezone.utc),
                ),
            )
        )
    with engine.begin() as conn:
        conn.execute(
            topic_themes.update()
            .where(topic_themes.c.id.not_in(list(used_old) or [-1]))
            .values(active=False, message_count=0)
        )
        for theme in themes:
            if theme["match"] is not None:
                theme_id = theme["match"].id
                conn.execute(
                    topic_themes.update()
                    .where(topic_themes.c.id == theme_id)
                    .values(**theme["values"])
                )
            else:
                theme_id = conn.execute(
                    topic_themes.insert().values(**theme["values"])
                ).inserted_primary_key[0]
            for event_id in theme["members"]:
                assignment[event_id] = theme_id
        by_theme: Dict[Optional[int], List[int]] = {}
        for event_id, theme_id in assignment.items():
            by_theme.setdefault(theme_id, []).append(event_id)
        for theme_id, ids in by_theme.items():
            for start in range(0, len(ids), 500):
                conn.execute(
                    flagged_turns.update()
                    .where(flagged_turns.c.event_id.in_(ids[start : start + 500]))
                    .values(theme_id=theme_id)
                )
    return len(themes)


def run(
    engine: sa.engine.Engine,
    masker: Any,
    tz: dt.tzinfo,
    now: Optional[float] = None,
    encode: Optional[Callable[[List[str]], np.ndarray]] = None,
) -> Dict[str, float]:
    """The whole job: flag new turns, then rebuild the themes. Returns timings."""
    started = time.perf_counter()
    encode = encode or default_encode
    flagged = flag_new_turns(engine, masker, encode=encode)
    embedded = embed_missing(engine, encode)  # flagged earlier by the summary refresh
    flagged_s = time.perf_counter() - started
    themes = build_themes(engine, tz, now=now)
    with engine.begin() as conn:
        write_meta(conn, LAST_RUN_KEY, repr(time.time()))
    total = time.perf_counter() - started
    logger.info(
        "topics: %d new flagged turns, %d embedded later (%.1fs), %d themes (%.1fs total)",
        flagged,
        embedded,
        flagged_s,
        themes,
        total,
    )
    return {
        "flagged": flagged,
        "embedded": embedded,
        "themes": themes,
        "flag_s": flagged_s,
        "total_s": total,
    }


def last_run(conn: sa.engine.Connection) -> Optional[dt.datetime]:
    value = read_meta(conn, LAST_RUN_KEY)
    try:
        return dt.datetime.fromtimestamp(float(value), dt.timezone.utc) if value else None
    except ValueError:
        return None


def active_themes(conn: sa.engine.Connection) -> List[Any]:
    return conn.execute(
        sa.select(topic_themes)
        .where(topic_themes.c.active.is_(True))
        .order_by(topic_themes.c.message_count.desc(), topic_themes.c.id)
    ).all()


def theme_messages(conn: sa.engine.Connection, theme_id: int, limit: int = 500) -> Sequence[Any]:
    return conn.execute(
        sa.select(
            flagged_turns.c.event_id,
            flagged_turns.c.sender_id,
            flagged_turns.c.at,
            flagged_turns.c.reason,
            flagged_turns.c.text,
        )
        .where(flagged_turns.c.theme_id == theme_id)
        .order_by(flagged_turns.c.at.desc())
        .limit(limit)
    ).all()


def unthemed_count(conn: sa.engine.Connection) -> int:
    return (
        conn.execute(
            sa.select(sa.func.count())
            .select_from(flagged_turns)
            .where(flagged_turns.c.theme_id.is_(None))
        ).scalar()
        or 0
    )
