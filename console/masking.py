"""Masking of personal data in what the console shows and exports.

Masked everywhere except the appointment queue (where staff call patients back):
  - e-mail addresses                                  -> <email>
  - phone numbers (US 10/11-digit in the usual forms, +international,
    7-digit local with a dash or dot)                 -> <phone>
  - dates with a year (03/15/1985, 1985-03-15, March 15, 1985, 15th of March 1985),
    and any date or year after a birth keyword
    ("born on March 15", "DOB 3/15", "born in 1985")  -> <date>
  - the name a patient typed into the appointment form, wherever it recurs in
    that conversation (names only when the caller passes them) -> <name>

Decisions (console/README.md):
  - The practice's own public number (OFFICE_PHONE, 310.651.2366 by default) stays
    visible in any format: the bot says it in almost every reply, it is public,
    and masking it would make transcripts harder to read without protecting anyone.
  - A date with a year is masked even when it is not a birth date (an injury or
    surgery date): birth dates cannot be told apart reliably, and over-masking is
    the safe side. Dates without a year ("on June 5"), durations ("4 to 6 weeks",
    "2-3 weeks"), ratios ("6/10 pain", "24/7") and plain years ("in 2019") stay.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

PHONE = "<phone>"
EMAIL = "<email>"
DATE = "<date>"
NAME = "<name>"
MASK_TOKENS = (PHONE, EMAIL, DATE, NAME)

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)

# Not glued to a longer number or word on either side.
_BEFORE = r"(?<![\w+.\-/])"
_AFTER = r"(?![\w\-/]|[.,]\d)"

# One pass over three alternatives, so a kept public number is consumed whole
# (its last 7 digits are not then masked as a local number).
PHONE_RE = re.compile(
    _BEFORE + r"(?:"
    # US: 310 555 0123, (310) 555-0123, 310.555.0123, +1 310-555-0123, 3105550123
    + r"(?P<us>(?:\+?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-]?)\d{3}[\s.\-]?\d{4})"
    # international: +44 20 7946 0958 (8 to 15 digits, checked in code)
    + r"|(?P<intl>\+[2-9]\d{0,2}(?:[\s.\-]?\(?\d{1,5}\)?){2,5})"
    # local 7 digits with a dash or dot: 555-0123
    + r"|(?P<local>[2-9]\d{2}[.\-]\d{4})"
    + r")" + _AFTER
)

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
          r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_NUM_DAY_OR_MONTH = r"(?:0?[1-9]|[12]\d|3[01])"

DATE_RES = [
    # 03/15/1985, 3-15-85 (dots only with a 4-digit year: 15.03.1985, not "4.5.10")
    re.compile(_BEFORE + _NUM_DAY_OR_MONTH + r"([/\-])" + _NUM_DAY_OR_MONTH + r"\1"
               + r"(?:(?:19|20)\d{2}|\d{2})" + _AFTER),
    re.compile(_BEFORE + _NUM_DAY_OR_MONTH + r"\." + _NUM_DAY_OR_MONTH + r"\." + _YEAR + _AFTER),
    # 1985-03-15, 1985/3/15
    re.compile(_BEFORE + _YEAR + r"([/.\-])(?:0?[1-9]|1[0-2])\1" + _NUM_DAY_OR_MONTH + _AFTER),
    # March 15, 1985 / Mar. 15th 1985
    re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b", re.IGNORECASE),
    # 15 March 1985 / 15th of March, 1985
    re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR + r"\b", re.IGNORECASE),
]

# After a birth keyword, also partial dates and bare years.
BIRTH_DATE_RE = re.compile(
    r"\b(?P<keyword>born(?:\s+(?:on|in))?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)"
    r"(?P<glue>\s*(?:is|was|=|:|-)?\s*(?:on\s+|in\s+)?)"
    r"(?P<date>"
    + _YEAR + r"[/.\-]\d{1,2}[/.\-]\d{1,2}|"
    + _MONTH + r"\s+" + _DAY + r"(?:,?\s+" + _YEAR + r")?"
    + r"|" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+" + _YEAR + r")?"
    + r"|" + _MONTH + r",?\s+" + _YEAR
    + r"|" + _NUM_DAY_OR_MONTH + r"[/.\-]" + _NUM_DAY_OR_MONTH + r"(?:[/.\-](?:\d{4}|\d{2}))?"
    + r"|" + _YEAR
    + r")(?![\w/\-]|\.\d)",
    re.IGNORECASE,
)


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _last10(digits: str) -> str:
    return digits[-10:] if len(digits) >= 10 else digits


class Masker:
    """Masks personal data; `public_phones` (the office's numbers) stay visible."""

    def __init__(self, public_phones: Iterable[str] = ()) -> None:
        self.public = {_last10(digits_of(p)) for p in public_phones if digits_of(p)}
        self.public_local = {d[-7:] for d in self.public if len(d) >= 7}

    def _phone(self, match: "re.Match[str]") -> str:
        text = match.group(0)
        digits = digits_of(text)
        if match.group("intl") is not None and not 8 <= len(digits) <= 15:
            return text
        if _last10(digits) in self.public:
            return text
        if match.group("local") is not None and digits in self.public_local:
            return text
        return PHONE


    def mask(self, text: Optional[str], names: Sequence[str] = ()) -> str:
        if not text:
            return text or ""
        out = EMAIL_RE.sub(EMAIL, text)
        out = BIRTH_DATE_RE.sub(lambda m: m.group("keyword") + m.group("glue") + DATE, out)
        for pattern in DATE_RES:
            out = pattern.sub(DATE, out)
        out = PHONE_RE.sub(self._phone, out)
        if names:
            out = mask_names(out, names)
        return out


def name_patterns(names: Sequence[str]) -> Optional["re.Pattern[str]"]:
    """Whole names case-insensitively; single name parts (>= 2 letters) as typed or
    capitalised, so "Maria" in "Thank you, Maria." is masked but "will" in
    "I will" is not masked for a patient named "Will Park"."""
    alternatives = []
    for name in names:
        name = " ".join(str(name or "").split())
        if len(name) < 2:
            continue
        alternatives.append(r"(?i:" + r"\s+".join(re.escape(p) for p in name.split()) + r")")
        for part in name.split():
            part = part.strip(".,")
            if len(part) >= 2 and part[0].isalpha():
                alternatives.append(re.escape(part))
                alternatives.append(re.escape(part[0].upper() + part[1:]))
    if not alternatives:
        return None
    # longest first so the full name wins over its parts
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(dict.fromkeys(alternatives)) + r")(?!\w)")


def mask_names(text: str, names: Sequence[str]) -> str:
    pattern = name_patterns(names)
    return pattern.sub(NAME, text) if pattern else text
