"""Issue 21, low: the CSV formula guard held only at a cell's first character, so a
spreadsheet that splits lines at ";" (many European locales) ran "=HYPERLINK(...)"
typed after a semicolon. Every cell start and every separator is guarded now."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from console.exports import FORMULA_START, csv_safe, list_csv
from privacy.masking import Masker


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x","click")',
        "  =1+1",
        'my heel hurts;=HYPERLINK("http://x")',
        "ok; @SUM(A1:A9)",
        "ok,+1",
        "ok|-2+3",
        "tab\t=cmd",
    ],
)
def test_no_piece_of_a_cell_starts_a_formula_whatever_the_separator(text):
    guarded = csv_safe(text)
    for separator in (None, ";", ",", "\t", "|"):
        pieces = guarded.split(separator) if separator else [guarded]
        for piece in pieces:
            assert not piece.lstrip(" ").startswith(tuple(FORMULA_START)), (separator, piece)


def test_plain_text_is_left_alone():
    for text in ("6 weeks in a boot", "pain 7/10, better today", "PT 2x per week"):
        assert csv_safe(text) == text


def test_every_text_cell_of_the_export_is_guarded():
    row = SimpleNamespace(
        id=1,
        sender_id="=cmd|'/c calc'!A0",
        started_at=None,
        channel="rest",
        turns=2,
        first_question='is it torn;=HYPERLINK("http://evil")',
        fell_back=False,
        emergency=False,
        handoff=False,
        appointment=False,
        tier="911",
        language="es",
        reviewed=False,
        tags="@tag",
    )
    # the message that failed is a cell too (console/failed_messages.py)
    failed = {row.sender_id: SimpleNamespace(text='ok;=HYPERLINK("http://x")', reason="-x")}
    text = list_csv([row], Masker(), lambda t: "", failed)
    cells = next(r for r in csv.reader(io.StringIO(text)) if r[0] == "1")
    for cell in cells:
        for piece in cell.split(";"):
            assert not piece.lstrip(" ").startswith(tuple(FORMULA_START)), cell
