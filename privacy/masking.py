"""Masking of personal data: one masker for every place patient text is kept or shown.

Used by the tracker store (a message typed at the appointment form's name or phone
question and not taken as the answer, stores/tracker_store.py), and by the console:
the conversation list, the transcript, the stored summaries, the CSV export and the
corrections YAML (tests/console/test_console_masking_views.py checks them).
Only the appointment queue (where staff call patients back) shows names and phones.
The text is NFKC-normalised first (full-width digits, odd spaces), dashes of
every kind become "-" and zero-width characters are dropped, so "310‑555‑0123"
with non-ASCII hyphens is read like "310-555-0123".

  - numbers however they are typed (privacy/numbers.py): spelled out in English or
    Spanish ("three one zero...", "tres uno cero..."), with "_", ".", "-", spaces
    or commas between the groups, or a letter O / l for 0 / 1: a run of 7 to 12
    digits (6 after an id keyword), or several groups of more, is masked whole
    (7, 10, or 11 digits starting with 1: <phone>; otherwise <id>)
  - member, insurance and MRN-like ids without a keyword: letters then 6 or more
    digits ("XJH123456789", "W-123-4567")             -> <id>
  - e-mail addresses                                  -> <email>
  - US social security numbers (123-45-6789, or any 9 digits after "SSN" /
    "social security"), insurance, member, policy, group, subscriber and
    Medicare/Medicaid ids, medical record numbers (MRN) and patient/account ids
    after their keyword (a token with a digit)         -> <id>
  - street addresses ("1234 W Main St Apt 5", "PO Box 12"), ZIP codes after a
    state ("CA 90210"), a "zip" keyword, or in ZIP+4 form -> <address>
  - phone numbers: every number the `phonenumbers` library (Google's
    libphonenumber, region US) finds valid, in any grouping, plus US 10/11-digit,
    +international and 7-digit local forms            -> <phone>
  - dates with a year (03/15/1985, 1985-03-15, March 15, 1985, 15th of March 1985),
    and any date or year after a birth keyword
    ("born on March 15", "DOB 3/15", "dob: 19850315", "born in 1985") -> <date>
  - names: what a patient says is their name ("my name is Maria Lopez", "I'm
    Maria", "this is Maria", "name: Maria Lopez"), and the name typed into the
    appointment form wherever it recurs in that conversation (old conversations;
    the tracker store no longer keeps it: stores/tracker_store.py)  -> <name>

Decisions (console/README.md):
  - The practice's own public number (OFFICE_PHONE, 310.651.2366 by default) stays
    visible in any format: the bot says it in almost every reply, it is public,
    and masking it would make transcripts harder to read without protecting anyone.
  - A date with a year is masked even when it is not a birth date (an injury or
    surgery date): birth dates cannot be told apart reliably, and over-masking is
    the safe side. Dates without a year ("on June 5"), durations ("4 to 6 weeks",
    "2-3 weeks"), ratios ("6/10 pain"), temperatures ("101.5 fever") and plain
    years ("in 2019") stay.
  - Names are found by patterns, not by a statistical model: no named-entity model
    for this spaCy version can be installed from PyPI from its publisher with a
    pinned hash. A name typed without one of those lead-ins ("maria here, my
    husband tore his achilles", or a lower-case "i'm maria") is not masked.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional, Sequence

import phonenumbers

from privacy.numbers import number_runs
from privacy.patterns import (
    ALNUM_ID_RE,
    BIRTH_DATE_RE,
    DATE_RES,
    EMAIL_RE,
    ID_CONTEXT_RE,
    ID_RE,
    NAME_EXPLICIT_RE,
    NAME_INTRO_RE,
    NOT_NAMES,
    NOT_STREET_WORDS,
    PHONE_RE,
    PO_BOX_RE,
    SSN_RE,
    STREET_RE,
    ZIP_RE,
)

PHONE = "<phone>"
EMAIL = "<email>"
DATE = "<date>"
NAME = "<name>"
ID = "<id>"
ADDRESS = "<address>"
MASK_TOKENS = (PHONE, EMAIL, DATE, NAME, ID, ADDRESS)

# Every dash-like character (hyphens, figure/en/em dashes, minus signs) reads as "-";
# zero-width characters and soft hyphens are dropped (after NFKC).
_DASHES = re.compile("[\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _INVISIBLE.sub("", _DASHES.sub("-", text))


def _name_sub(match: re.Match[str]) -> str:
    """Masks the name words up to the first word that is not a name ("I'm Maria Not...")."""
    end = None
    for word in re.finditer(r"\S+", match.group("name")):
        if word.group(0).lower() in NOT_NAMES:
            break
        end = word.end()
    if end is None:
        return match.group(0)
    return match.group("lead") + NAME + match.group("name")[end:]


def _street_sub(match: re.Match[str]) -> str:
    words = [w.lower().strip(".") for w in match.group("name").split()]
    if any(w in NOT_STREET_WORDS for w in words):
        return match.group(0)
    return ADDRESS


def _zip_sub(match: re.Match[str]) -> str:
    return (match.group("lead") or "") + ADDRESS


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _last10(digits: str) -> str:
    return digits[-10:] if len(digits) >= 10 else digits


class Masker:
    """Masks personal data; `public_phones` (the office's numbers) stay visible."""

    def __init__(self, public_phones: Iterable[str] = ()) -> None:
        self.public = {_last10(digits_of(p)) for p in public_phones if digits_of(p)}
        self.public_local = {d[-7:] for d in self.public if len(d) >= 7}

    def _phone(self, match: re.Match[str]) -> str:
        text = match.group(0)
        digits = digits_of(text)
        if match.group("intl") is not None and not 8 <= len(digits) <= 15:
            return text
        if _last10(digits) in self.public:
            return text
        if match.group("local") is not None and digits in self.public_local:
            return text
        return PHONE

    def _libphonenumber(self, text: str) -> str:
        """Numbers libphonenumber finds valid (region US), in any grouping."""
        if sum(ch.isdigit() for ch in text) < 7:
            return text
        out, last = [], 0
        for match in phonenumbers.PhoneNumberMatcher(
            text, "US", leniency=phonenumbers.Leniency.VALID
        ):
            if _last10(digits_of(match.raw_string)) in self.public:
                continue
            out.append(text[last : match.start])
            out.append(PHONE)
            last = match.end
        out.append(text[last:])
        return "".join(out)

    def _number_runs(self, text: str, after_keyword: bool = False) -> str:
        """Runs of digits however typed (privacy/numbers.py), masked whole;
        `after_keyword`: only those right after an id keyword (<id>, 6+ digits)."""
        out, last = [], 0
        for run in number_runs(text):
            count = len(run.digits)
            if count < 6:
                continue
            if count > 12 and run.tokens == 1 and not run.spelled:
                continue  # one long unbroken number (an order or tracking number)
            if _last10(run.digits) in self.public or (
                count == 7 and run.digits in self.public_local
            ):
                continue  # the office's own number
            keyword = ID_CONTEXT_RE.search(text[max(0, run.start - 40) : run.start])
            if after_keyword:
                token = ID if keyword else None
            elif _THOUSANDS.fullmatch(text[run.start : run.end]) and (
                count <= 7 or run.digits.endswith("000")
            ):
                token = None  # 1,000,000 or 2,500,000: an amount
            elif count == 6 and not keyword:
                token = None
            elif count in (7, 10) or (count == 11 and run.digits[0] == "1"):
                token = PHONE
            else:
                token = ID
            if token is not None:
                out.append(text[last : run.start])
                out.append(token)
                last = run.end
        out.append(text[last:])
        return "".join(out)

    def mask(self, text: Optional[str], names: Sequence[str] = ()) -> str:
        if not text:
            return text or ""
        out = normalise(text)
        out = EMAIL_RE.sub(EMAIL, out)
        out = BIRTH_DATE_RE.sub(lambda m: m.group("keyword") + m.group("glue") + DATE, out)
        for pattern in DATE_RES:
            out = pattern.sub(DATE, out)
        out = SSN_RE.sub(ID, out)
        out = PO_BOX_RE.sub(ADDRESS, out)
        out = STREET_RE.sub(_street_sub, out)
        out = ZIP_RE.sub(_zip_sub, out)
        out = ALNUM_ID_RE.sub(ID, out)
        out = self._number_runs(out, after_keyword=True)
        out = ID_RE.sub(lambda m: m.group("keyword") + m.group("glue") + ID, out)
        out = self._libphonenumber(out)
        out = PHONE_RE.sub(self._phone, out)
        out = self._number_runs(out)
        if names:
            out = mask_names(out, names)
        out = NAME_EXPLICIT_RE.sub(_name_sub, out)
        out = NAME_INTRO_RE.sub(_name_sub, out)
        return out


def name_patterns(names: Sequence[str]) -> Optional[re.Pattern[str]]:
    """Whole names case-insensitively; single name parts (>= 2 letters) as typed or
    capitalised, so "Maria" in "Thank you, Maria." is masked but "will" in
    "I will" is not masked for a patient named "Will Park"."""
    alternatives = []
    for name in names:
        name = " ".join(normalise(str(name or "")).split())
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
