"""Exports: intent corrections as Rasa NLU YAML, the filtered list as CSV (masked)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import sqlalchemy as sa

from console.db import intent_corrections
from privacy.masking import Masker

CSV_COLUMNS = [
    "console_id",
    "conversation",
    "started",
    "channel",
    "turns",
    "first_question",
    "failed_message",
    "failed_because",
    "language",
    "tier",
    "fell_back",
    "emergency",
    "handoff",
    "appointment",
    "reviewed",
    "tags",
]


def one_line(text: str) -> str:
    return " ".join((text or "").split())


def corrections_yaml(
    conn: sa.engine.Connection, exported_by: str, now: dt.datetime
) -> Tuple[str, int]:
    """Rasa NLU training data (version "3.1") with one example per corrected message.

    The stored text is already masked (console/views/conversations.py masks it when the correction
    is saved), so the file holds no phone numbers, e-mails or birth dates."""
    rows = conn.execute(
        sa.select(intent_corrections).order_by(
            intent_corrections.c.corrected_intent, intent_corrections.c.id
        )
    ).all()
    examples: Dict[str, List[str]] = defaultdict(list)
    for row in rows:
        text = one_line(row.text)
        if text and text not in examples[row.corrected_intent]:
            examples[row.corrected_intent].append(text)
    lines = [
        "# Intent corrections made by staff in the console, for the NLU team to review",
        f"# before adding them to data/nlu/. Exported {now.isoformat(timespec='seconds')} "
        f"by {exported_by}; {sum(len(v) for v in examples.values())} examples.",
        "# Personal data is masked (<phone>, <email>, <date>, <name>).",
        'version: "3.1"',
    ]
    if not examples:
        lines.append("nlu: []")
    else:
        lines.append("nlu:")
        for intent in sorted(examples):
            lines.append(f"- intent: {intent}")
            lines.append("  examples: |")
            lines.extend(f"    - {text}" for text in examples[intent])
    return "\n".join(lines) + "\n", len(rows)


def list_csv(
    rows: Iterable[Any], masker: Masker, fmt_time, failed: Optional[Mapping[str, Any]] = None
) -> str:
    """The list as CSV; `failed`: each conversation's message that failed, with why
    (console/failed_messages.py)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    failed = failed or {}
    for r in rows:
        miss = failed.get(r.sender_id)
        cells = [
            r.id,
            masker.mask(r.sender_id),
            fmt_time(r.started_at),
            r.channel or "",
            r.turns,
            masker.mask(one_line(r.first_question or "")),
            masker.mask(one_line(miss.text)) if miss else "",
            miss.reason if miss else "",
            r.language or "",
            r.tier or "",
            int(bool(r.fell_back)),
            int(bool(r.emergency)),
            int(bool(r.handoff)),
            int(bool(r.appointment)),
            int(bool(r.reviewed)),
            r.tags or "",
        ]
        # every text cell, whatever column it is in
        writer.writerow([csv_safe(c) if isinstance(c, str) else c for c in cells])
    return out.getvalue()


# what makes a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_START = "=+-@\t\r"
# A spreadsheet opened in a locale whose list separator is ";" (or with "," / tab /
# "|" chosen on import) splits the text at these: each piece then starts a cell.
_AFTER_SEPARATOR = re.compile(r"([,;\t|])([ ]*)(?=[=+\-@])")


def csv_safe(value: str) -> str:
    """Patients' text must not run as a formula when staff open the file in a
    spreadsheet, whatever separator it splits the line at: a "'" goes before a formula
    character at the start of the cell (after spaces too) and after every separator."""
    if not value:
        return value
    value = _AFTER_SEPARATOR.sub(lambda m: m.group(1) + m.group(2) + "'", value)
    stripped = value.lstrip(" ")
    if value[0] in FORMULA_START or (stripped and stripped[0] in FORMULA_START):
        return "'" + value
    return value
