"""Benchmark: the unanswered-topics job (console/topics.py) on 10,000 conversations.

    .venv/bin/python bench/bench_topics.py [--conversations 10000] [--flagged-share 0.25]

Seeds a temporary SQLite database with conversations over the last 8 weeks
(bench/topic_traffic.py: a share of them end in a flagged message of one of six
known themes, each own-worded with a filler prefix and suffix; the rest are
answered from the page), then runs the background job as `serve` does
(console/jobs.py `topics_once`: flag the new turns and embed them with the
assistant's MiniLM encoder, then cluster) and prints its run time, a second run
with nothing new, and the purity and coverage of the themes. Figures, not
pass/fail. Nothing listens on a port.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench import topic_traffic  # noqa: E402
from bench.synthetic import ConversationWriter, _ranking, ensure_events_table  # noqa: E402
from console import queries  # noqa: E402
from console.db import engine_for, events  # noqa: E402
from console.jobs import topics_once  # noqa: E402
from console.tables import flagged_turns  # noqa: E402

WEEKS = 8


def seed(engine, n: int, share: float, rng: random.Random) -> dict:
    truth = {}
    now = time.time()
    pending = []
    with engine.begin() as conn:
        for _ in range(n):
            start = now - rng.uniform(600, WEEKS * 7 * 86400)
            if rng.random() < share:
                theme = rng.choice(list(topic_traffic.THEMES))
                sender, rows, _ = topic_traffic.theme_conversation(rng, start, theme)
                truth[sender] = theme
            else:
                intent, text = rng.choice(topic_traffic.ANSWERED)
                sender = uuid.UUID(int=rng.getrandbits(128)).hex
                w = ConversationWriter(sender, start, "rest")
                w.session_start()
                w.user(topic_traffic.variant(rng, text), intent, 0.95, _ranking(rng, intent))
                w.reply("action_answer_topic", "(answer from the page)")
                rows = w.rows
            pending.extend(rows)
            if len(pending) > 20000:
                conn.execute(events.insert(), pending)
                pending = []
        if pending:
            conn.execute(events.insert(), pending)
    return truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--flagged-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as tmp:
        engine = engine_for(f"sqlite:///{Path(tmp) / 'bench.db'}")
        ensure_events_table(engine)
        t0 = time.perf_counter()
        truth = seed(engine, args.conversations, args.flagged_share, random.Random(args.seed))
        with engine.connect() as conn:
            n_events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
        print(
            f"seeded {args.conversations} conversations, {n_events} events "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        tz = queries.zone("America/Los_Angeles")
        t0 = time.perf_counter()
        first = topics_once(engine, tz)
        wall = time.perf_counter() - t0
        print(
            f"first run: {wall:.1f}s wall ({first['flagged']} flagged turns, "
            f"{first['embedded']} embedded later, flag+embed {first['flag_s']:.1f}s, "
            f"{first['themes']} themes)"
        )
        t0 = time.perf_counter()
        again = topics_once(engine, tz)
        print(
            f"second run, nothing new: {time.perf_counter() - t0:.2f}s "
            f"({again['flagged']} flagged, {again['themes']} themes)"
        )
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(flagged_turns.c.sender_id, flagged_turns.c.theme_id)
            ).all()
            distinct = conn.execute(
                sa.select(sa.func.count(sa.distinct(flagged_turns.c.text)))
            ).scalar()
        print(f"{distinct} distinct flagged texts (a repeated text is embedded once)")
        members = {}
        for r in rows:
            if r.theme_id is not None:
                members.setdefault(r.theme_id, []).append(truth[r.sender_id])
        main_topic = {t: Counter(m).most_common(1)[0][0] for t, m in members.items()}
        right = sum(
            1
            for r in rows
            if r.theme_id is not None and truth[r.sender_id] == main_topic[r.theme_id]
        )
        themed = sum(len(m) for m in members.values())
        print(
            f"purity {right / max(themed, 1):.3f}, coverage {right / max(len(rows), 1):.3f} "
            f"({len(rows)} flagged, {themed} in {len(members)} themes)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
