"""Masking of personal data in what the console shows and exports.

Masked everywhere except the appointment queue (where staff call patients back):
the conversation list, the transcript and the CSV export all go through
`Masker.mask` (tests/console/test_console_masking_views.py checks the three).
The text is NFKC-normalised first (full-width digits, odd spaces), dashes of
every kind become "-" and zero-width characters are dropped, so "310‑555‑0123"
with non-ASCII hyphens is read like "310-555-0123".

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


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _INVISIBLE.sub("", _DASHES.sub("-", text))

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

_COMPACT_DATE = (r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                 r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:19|20)\d{2}")

# After a birth keyword, also partial dates, compact dates (19850315) and bare years.
BIRTH_DATE_RE = re.compile(
    r"\b(?P<keyword>born(?:\s+(?:on|in))?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)"
    r"(?P<glue>\s*(?:is|was|=|:|-)?\s*(?:on\s+|in\s+)?)"
    r"(?P<date>"
    + _COMPACT_DATE + r"|"
    + _YEAR + r"[/.\-]\d{1,2}[/.\-]\d{1,2}|"
    + _MONTH + r"\s+" + _DAY + r"(?:,?\s+" + _YEAR + r")?"
    + r"|" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+" + _YEAR + r")?"
    + r"|" + _MONTH + r",?\s+" + _YEAR
    + r"|" + _NUM_DAY_OR_MONTH + r"[/.\-]" + _NUM_DAY_OR_MONTH + r"(?:[/.\-](?:\d{4}|\d{2}))?"
    + r"|" + _YEAR
    + r")(?![\w/\-]|\.\d)",
    re.IGNORECASE,
)


# ---- identifiers -> <id> ----
SSN_RE = re.compile(_BEFORE + r"\d{3}-\d{2}-\d{4}" + _AFTER)
# A keyword, a little glue ("is", ":", "#", "number"), then a token with a digit.
_ID_KEYWORD = (
    r"(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?"
    r"|(?:insurance|member(?:ship)?|policy|subscriber|group|medicare|medicaid|medi-cal"
    r"|patient|account|acct|chart|claim|health\s+plan|plan)\s*(?:id|number|no\.?|num|#)"
    r"|member|policy|mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|id\s*(?:number|no\.?|#))")
ID_RE = re.compile(
    r"\b(?P<keyword>" + _ID_KEYWORD + r")(?P<glue>\s*(?:is|was|=|:|-|#)?\s*(?:#\s*)?)"
    r"(?P<value>(?:[A-Za-z]{1,4}\s)?(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{2,}"
    r"(?:\s\d{2,}){0,3})(?![\w\-])",
    re.IGNORECASE)

# ---- street addresses and ZIP codes -> <address> ----
_STREET_SUFFIX = (r"(?:street|st|avenue|ave|boulevard|blvd|road|rd|drive|dr|lane|ln|way|court|ct"
                  r"|place|pl|terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq"
                  r"|trail|trl|alley|plaza|loop)")
# Words that are not part of a street name ("2 blocks down the road" stays).
_NOT_STREET_WORDS = {
    "a", "an", "the", "to", "of", "in", "on", "at", "and", "or", "my", "our", "your", "his",
    "her", "their", "down", "up", "from", "for", "with", "by", "into", "onto", "off", "over",
    "blocks", "block", "miles", "mile", "minutes", "mins", "hours", "days", "weeks",
    "months", "years", "times", "steps", "feet", "ft", "yards", "km", "meters", "floors",
    "stairs", "flights", "pounds", "lbs", "mg", "degrees", "walk", "walked", "drive",
    "drove", "ran", "run", "across", "along", "past", "near", "around", "cross", "crossing",
}
STREET_RE = re.compile(
    r"\b(?P<number>\d{1,6}[A-Za-z]?)\s+(?P<name>(?:[NSEW]\.?\s+)?(?:[A-Za-z0-9][\w'.\-]*\s+){1,3})"
    + _STREET_SUFFIX + r"\b\.?"
    r"(?:,?\s*(?:apt|apartment|unit|suite|ste|#)\.?\s*#?\s*[A-Za-z0-9\-]+)?",
    re.IGNORECASE)
PO_BOX_RE = re.compile(r"\bP\.?\s*O\.?\s*Box\s+\d+\b", re.IGNORECASE)
_STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT "
           "NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR").split()
_STATE_NAMES = (r"alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware"
                r"|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana"
                r"|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana"
                r"|nebraska|nevada|new\s+hampshire|new\s+jersey|new\s+mexico|new\s+york"
                r"|north\s+carolina|north\s+dakota|ohio|oklahoma|oregon|pennsylvania"
                r"|rhode\s+island|south\s+carolina|south\s+dakota|tennessee|texas|utah|vermont"
                r"|virginia|washington|west\s+virginia|wisconsin|wyoming")
ZIP_RE = re.compile(
    r"(?:(?P<lead>\b(?:zip(?:\s*code)?|postal\s+code)\s*(?:is|:|#)?\s*"
    r"|(?-i:\b(?:" + "|".join(_STATES) + r"))\.?,?\s+"
    r"|\b(?:" + _STATE_NAMES + r"),?\s+)"
    r"(?P<zip>\d{5}(?:-\d{4})?)"
    r"|" + _BEFORE + r"(?P<zip4>\d{5}-\d{4}))(?![\w\-]|[.,]\d)",
    re.IGNORECASE)

# ---- names patients give about themselves -> <name> ----
# Maria, O'Neil, McDonald, Lopez-Garcia; not an acronym like PARS in the capitalised form.
_NAME_WORD = r"(?=[A-Za-z]{2})[A-Za-z][A-Za-z]*(?:['\-][A-Za-z]+)*(?![\w'\-])"
_TITLE_WORD = (r"(?=[A-Za-z']{2})[A-Z](?:[a-z]+|[a-z]*[A-Z][a-z]+)?(?:['\-][A-Z]?[a-z]+)*"
               r"(?![\w'\-])")
# Words that follow "I'm" / "this is" but are not names.
_NOT_NAMES = {
    "not", "just", "so", "still", "very", "really", "also", "the", "a", "an", "in", "on",
    "at", "here", "back", "fine", "ok", "okay", "sorry", "worried", "scared", "afraid",
    "having", "going", "trying", "wondering", "asking", "writing", "calling", "looking",
    "about", "from", "with", "for", "and", "but", "my", "his", "her", "their", "our",
    "achilles", "dr", "doctor", "mr", "mrs", "ms", "miss", "is", "was", "it", "that",
    "this", "what", "how", "when", "where", "why", "who", "which", "yes", "no", "hi",
    "hello", "thanks", "thank", "please", "post", "pre", "after", "before", "day", "week",
    "weeks", "month", "months", "year", "years", "pars", "normal", "ok.", "able", "unable",
    "supposed", "allowed", "told", "now", "today", "tomorrow", "yesterday", "same", "new",
    "in pain", "pain", "swollen", "ready", "done", "sure", "unsure", "confused", "curious",
    "interested", "concerned", "nervous", "anxious", "planning", "scheduled", "currently",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "english", "spanish", "there", "again", "only",
    "getting", "feeling", "being", "doing", "waiting", "thinking", "hoping",
}
# Explicit: "my name is X", "my full name's X", "name: X" (any case, up to 3 words).
NAME_EXPLICIT_RE = re.compile(
    r"\b(?P<lead>(?:my\s+(?:full\s+|first\s+|last\s+)?name\s*(?:is|'s|:)|name\s*:)\s*)"
    r"(?P<name>" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r"){0,2})",
    re.IGNORECASE)
# Self-introductions: "I'm Maria", "I am Maria Lopez", "this is Maria", "it's Maria here",
# "call me Maria": only capitalised words, so "i'm worried" and "this is normal" stay.
NAME_INTRO_RE = re.compile(
    r"(?i:\b(?P<lead>(?:i\s*'?\s*m|i\s+am|this\s+is|it\s*'?\s*s|call\s+me)\s+))"
    r"(?P<name>" + _TITLE_WORD + r"(?:\s+" + _TITLE_WORD + r"){0,2})")


def _name_sub(match: "re.Match[str]") -> str:
    """Masks the name words up to the first word that is not a name ("I'm Maria Not...")."""
    end = None
    for word in re.finditer(r"\S+", match.group("name")):
        if word.group(0).lower() in _NOT_NAMES:
            break
        end = word.end()
    if end is None:
        return match.group(0)
    return match.group("lead") + NAME + match.group("name")[end:]


def _street_sub(match: "re.Match[str]") -> str:
    words = [w.lower().strip(".") for w in match.group("name").split()]
    if any(w in _NOT_STREET_WORDS for w in words):
        return match.group(0)
    return ADDRESS


def _zip_sub(match: "re.Match[str]") -> str:
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


    def _libphonenumber(self, text: str) -> str:
        """Numbers libphonenumber finds valid (region US), in any grouping."""
        if sum(ch.isdigit() for ch in text) < 7:
            return text
        out, last = [], 0
        for match in phonenumbers.PhoneNumberMatcher(text, "US",
                                                     leniency=phonenumbers.Leniency.VALID):
            if _last10(digits_of(match.raw_string)) in self.public:
                continue
            out.append(text[last:match.start])
            out.append(PHONE)
            last = match.end
        out.append(text[last:])
        return "".join(out)

    def mask(self, text: Optional[str], names: Sequence[str] = ()) -> str:
        if not text:
            return text or ""
        out = normalise(text)
        out = EMAIL_RE.sub(EMAIL, out)
        out = SSN_RE.sub(ID, out)
        out = ID_RE.sub(lambda m: m.group("keyword") + m.group("glue") + ID, out)
        out = BIRTH_DATE_RE.sub(lambda m: m.group("keyword") + m.group("glue") + DATE, out)
        for pattern in DATE_RES:
            out = pattern.sub(DATE, out)
        out = PO_BOX_RE.sub(ADDRESS, out)
        out = STREET_RE.sub(_street_sub, out)
        out = ZIP_RE.sub(_zip_sub, out)
        out = self._libphonenumber(out)
        out = PHONE_RE.sub(self._phone, out)
        if names:
            out = mask_names(out, names)
        out = NAME_EXPLICIT_RE.sub(_name_sub, out)
        out = NAME_INTRO_RE.sub(_name_sub, out)
        return out


def name_patterns(names: Sequence[str]) -> Optional["re.Pattern[str]"]:
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
