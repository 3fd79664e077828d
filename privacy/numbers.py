"""Numbers the way people type them: spelled out, split by odd separators, with a
letter O for a zero or an l for a one.

`number_runs(text)` finds every run of number tokens (digit groups, digit groups
with O/o/l swaps, and spelled-out digits in English or Spanish, including tens
such as "fifty-five" / "cincuenta y cinco" and "double five") joined only by
separators (spaces, "_", ".", "-", ",", "(", ")", "+"), and gives each run's
span in the text and the digits it stands for. privacy/masking.py masks a run
by how many digits it holds; nothing here decides what is personal.

"4 to 6 weeks", "101.5", "day 10" are short runs (or are broken by a word) and
are never masked: masking starts at 7 digits (6 right after an id keyword).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, Iterator, List

_UNITS: Dict[str, str] = {
    # English
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    # Spanish
    "cero": "0",
    "uno": "1",
    "una": "1",
    "un": "1",
    "dos": "2",
    "tres": "3",
    "cuatro": "4",
    "cinco": "5",
    "seis": "6",
    "siete": "7",
    "ocho": "8",
    "nueve": "9",
}
_TEENS: Dict[str, str] = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "diez": "10",
    "once": "11",
    "doce": "12",
    "trece": "13",
    "catorce": "14",
    "quince": "15",
    "dieciseis": "16",
    "diecisiete": "17",
    "dieciocho": "18",
    "diecinueve": "19",
    "veinte": "20",
    "veintiuno": "21",
    "veintiun": "21",
    "veintidos": "22",
    "veintitres": "23",
    "veinticuatro": "24",
    "veinticinco": "25",
    "veintiseis": "26",
    "veintisiete": "27",
    "veintiocho": "28",
    "veintinueve": "29",
    "cien": "100",
}
_TENS: Dict[str, str] = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fourty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
    "treinta": "3",
    "cuarenta": "4",
    "cincuenta": "5",
    "sesenta": "6",
    "setenta": "7",
    "ochenta": "8",
    "noventa": "9",
}
_REPEAT = {"double": 2, "doble": 2, "triple": 3}
_POWERS = {"hundred": "00", "thousand": "000", "mil": "000"}

# the words matched without accents ("dieciséis" -> "dieciseis")
_WORD_ALTS = sorted(
    list(_UNITS) + list(_TEENS) + list(_TENS) + list(_POWERS) + list(_REPEAT),
    key=len,
    reverse=True,
)
# letters and digits, but not "_" (a separator here)
_ALNUM_BEFORE = r"(?<![^\W_])"
_ALNUM_AFTER = r"(?![^\W_])"
_TOKEN_RE = re.compile(
    _ALNUM_BEFORE
    + r"(?:(?P<digits>\d+)|(?P<swapped>(?=[0-9OoIl]*\d)(?=[0-9OoIl]*[OoIl])[0-9OoIl]+)"
    + r"|(?P<word>"
    + "|".join(_WORD_ALTS)
    + r"|l)"
    # only O / l / I letters ("Il", "oO"): digits only between two number tokens
    + r"|(?P<maybe>[OoIl]+))"
    + _ALNUM_AFTER,
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(r"[\s_.\-,()+]{0,4}|\s+y\s+|-y-", re.IGNORECASE)
_SWAPS = str.maketrans({"O": "0", "o": "0", "I": "1", "i": "1", "l": "1", "L": "1"})


def _fold(text: str) -> str:
    """Lower case without accents, same length (one combining mark per letter)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base.lower() if len(base.lower()) == 1 else ch)
    return "".join(out)


@dataclass
class Run:
    start: int
    end: int
    digits: str
    tokens: int
    spelled: bool  # a word or a letter swap took part


def _tokens(text: str) -> Iterator[tuple]:
    folded = _fold(text)
    for m in _TOKEN_RE.finditer(folded):
        if m.group("digits") is not None:
            yield m.start(), m.end(), "digits", m.group("digits")
        elif m.group("swapped") is not None:
            yield m.start(), m.end(), "swapped", text[m.start() : m.end()].translate(_SWAPS)
        elif m.group("maybe") is not None:
            yield m.start(), m.end(), "maybe", text[m.start() : m.end()].translate(_SWAPS)
        else:
            word = m.group("word").lower()
            yield m.start(), m.end(), "word", word


def number_runs(text: str) -> List[Run]:
    """Runs of number tokens separated only by separators, in text order."""
    runs: List[Run] = []
    current: List[tuple] = []

    def close() -> None:
        # O/l/I letters at the ends count only next to a number of 4+ real digits
        core = sum(len(t[3]) for t in current if t[2] in ("digits", "swapped"))
        if core < 4:
            while current and current[0][2] == "maybe":
                current.pop(0)
            while current and current[-1][2] == "maybe":
                current.pop()
        if not current:
            return
        digits, spelled, repeat, i = "", False, 1, 0
        while i < len(current):
            start, end, kind, value = current[i]
            piece = ""
            if kind == "digits":
                piece = value
            elif kind in ("swapped", "maybe"):
                piece, spelled = value, True
            else:
                spelled = True
                if value in _REPEAT:
                    repeat = _REPEAT[value]
                    i += 1
                    continue
                if value == "l":
                    piece = "1"
                elif value in _UNITS:
                    piece = _UNITS[value]
                elif value in _TEENS:
                    piece = _TEENS[value]
                elif value in _POWERS:
                    piece = _POWERS[value] if digits else ""
                elif value in _TENS:
                    # "fifty-five" / "cincuenta y cinco": one two-digit number
                    nxt = current[i + 1] if i + 1 < len(current) else None
                    if (
                        nxt is not None
                        and nxt[2] == "word"
                        and nxt[3] in _UNITS
                        and _UNITS[nxt[3]] != "0"
                        and nxt[3] not in ("o", "oh")
                    ):
                        piece = _TENS[value] + _UNITS[nxt[3]]
                        i += 1
                    else:
                        piece = _TENS[value] + "0"
            digits += piece * repeat
            repeat = 1
            i += 1
        runs.append(Run(current[0][0], current[-1][1], digits, len(current), spelled))
        current.clear()

    for token in _tokens(text):
        if current:
            gap = text[current[-1][1] : token[0]]
            if not _SEPARATOR_RE.fullmatch(gap):
                close()
        current.append(token)
    close()
    # runs of words only that hold no real number ("o", "one", "un") are dropped
    return [r for r in runs if r.digits]
