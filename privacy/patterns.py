"""The regular expressions privacy/masking.py applies, one block per kind of data.

They run on normalised text (privacy/masking.py `normalise`), in the order
`Masker.mask` lists; what each must leave alone is in tests/console/test_console_masking.py,
tests/console/test_console_masking_views.py and tests/test_privacy_masking_fuzz.py.
Numbers typed with odd separators or spelled out are found by privacy/numbers.py.
"""

from __future__ import annotations

import re

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
    _BEFORE
    + r"(?:"
    # US: 310 555 0123, (310) 555-0123, 310.555.0123, +1 310-555-0123, 3105550123
    + r"(?P<us>(?:\+?1[\s.\-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.\-]?)\d{3}[\s.\-]?\d{4})"
    # international: +44 20 7946 0958 (8 to 15 digits, checked in code)
    + r"|(?P<intl>\+[2-9]\d{0,2}(?:[\s.\-]?\(?\d{1,5}\)?){2,5})"
    # local 7 digits with a dash or dot: 555-0123
    + r"|(?P<local>[2-9]\d{2}[.\-]\d{4})"
    + r")"
    + _AFTER
)

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
    r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_MES = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre"
    r"|noviembre|diciembre)"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_NUM_DAY_OR_MONTH = r"(?:0?[1-9]|[12]\d|3[01])"

DATE_RES = [
    # 03/15/1985, 3-15-85 (dots only with a 4-digit year: 15.03.1985, not "4.5.10")
    re.compile(
        _BEFORE
        + _NUM_DAY_OR_MONTH
        + r"([/\-])"
        + _NUM_DAY_OR_MONTH
        + r"\1"
        + r"(?:(?:19|20)\d{2}|\d{2})"
        + _AFTER
    ),
    re.compile(_BEFORE + _NUM_DAY_OR_MONTH + r"\." + _NUM_DAY_OR_MONTH + r"\." + _YEAR + _AFTER),
    # 1985-03-15, 1985/3/15
    re.compile(_BEFORE + _YEAR + r"([/.\-])(?:0?[1-9]|1[0-2])\1" + _NUM_DAY_OR_MONTH + _AFTER),
    # March 15, 1985 / Mar. 15th 1985
    re.compile(r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b", re.IGNORECASE),
    # 15 March 1985 / 15th of March, 1985
    re.compile(r"\b" + _DAY + r"\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR + r"\b", re.IGNORECASE),
    # 15 de marzo de 1985
    re.compile(
        r"\b" + _DAY + r"\s+de\s+" + _MES + r"\s+(?:de|del)\s+" + _YEAR + r"\b", re.IGNORECASE
    ),
]

_COMPACT_DATE = (
    r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:19|20)\d{2}"
)

# After a birth keyword, also partial dates, compact dates (19850315) and bare years.
BIRTH_DATE_RE = re.compile(
    r"\b(?P<keyword>born(?:\s+(?:on|in))?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday"
    r"|fecha\s+de\s+nacimiento|nac[ií]\s+(?:el|en)|nacid[oa]\s+(?:el|en))"
    r"(?P<glue>\s*(?:is|was|es|=|:|-)?\s*(?:on\s+|in\s+|el\s+)?)"
    r"(?P<date>"
    + _DAY
    + r"\s+de\s+"
    + _MES
    + r"(?:\s+del?\s+"
    + _YEAR
    + r")?|"
    + _COMPACT_DATE
    + r"|"
    + _YEAR
    + r"[/.\-]\d{1,2}[/.\-]\d{1,2}|"
    + _MONTH
    + r"\s+"
    + _DAY
    + r"(?:,?\s+"
    + _YEAR
    + r")?"
    + r"|"
    + _DAY
    + r"\s+(?:of\s+)?"
    + _MONTH
    + r"(?:,?\s+"
    + _YEAR
    + r")?"
    + r"|"
    + _MONTH
    + r",?\s+"
    + _YEAR
    + r"|"
    + _NUM_DAY_OR_MONTH
    + r"[/.\-]"
    + _NUM_DAY_OR_MONTH
    + r"(?:[/.\-](?:\d{4}|\d{2}))?"
    + r"|"
    + _YEAR
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
    r"|member|policy|mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|id\s*(?:number|no\.?|#)"
    # Spanish: seguro social, número de póliza / miembro / afiliado / seguro, expediente
    r"|seguro\s+social|n[uú]mero\s+de\s+(?:p[oó]liza|miembro|afiliado|seguro|expediente)"
    r"|p[oó]liza|expediente)"
)
ID_RE = re.compile(
    r"\b(?P<keyword>" + _ID_KEYWORD + r")(?P<glue>\s*(?:is|was|es|=|:|-|#)?\s*(?:#\s*)?)"
    r"(?P<value>(?:[A-Za-z]{1,4}\s)?(?=[A-Za-z0-9\-_.]*\d)[A-Za-z0-9](?:[A-Za-z0-9\-_]|[.,](?=\w)){2,}"
    r"(?:\s\d{2,}){0,3})(?![\w\-])",
    re.IGNORECASE,
)
# Just before a run of digits: an id keyword, so 6 digits are enough to mask it.
ID_CONTEXT_RE = re.compile(
    r"(?:" + _ID_KEYWORD + r"|\bid|\bnumber|\bn[uú]mero|#)\W{0,6}(?:is\s+|es\s+)?"
    r"(?:[OoIl]+\W{1,4})?$",
    re.IGNORECASE,
)
# Member, insurance and MRN-like ids without a keyword: letters then 6 or more digits
# ("XJH123456789", "W-1234567", "MRN00123456"), the digits possibly grouped; or
# digits then letters ("1234567AB"). Capitals (or one letter) before a space.
ALNUM_ID_RE = re.compile(
    r"(?<![^\W_])(?![OoIl]+[\-_.]?\d)(?:"
    r"[A-Za-z]{1,6}[\-_.]?(?:\d[\-_.]?){5,}\d[A-Za-z]{0,3}"
    r"|(?-i:[A-Z]{1,6})\s(?:\d[\-_.]?){5,}\d"
    r"|\d{6,}[A-Za-z]{1,3}"
    r")(?![^\W_])",
)

# ---- street addresses and ZIP codes -> <address> ----
_STREET_SUFFIX = (
    r"(?:street|st|avenue|ave|boulevard|blvd|road|rd|drive|dr|lane|ln|way|court|ct"
    r"|place|pl|terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq"
    r"|trail|trl|alley|plaza|loop)"
)
# Words that are not part of a street name ("2 blocks down the road" stays).
NOT_STREET_WORDS = {
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "on",
    "at",
    "and",
    "or",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "down",
    "up",
    "from",
    "for",
    "with",
    "by",
    "into",
    "onto",
    "off",
    "over",
    "blocks",
    "block",
    "miles",
    "mile",
    "minutes",
    "mins",
    "hours",
    "days",
    "weeks",
    "months",
    "years",
    "times",
    "steps",
    "feet",
    "ft",
    "yards",
    "km",
    "meters",
    "floors",
    "stairs",
    "flights",
    "pounds",
    "lbs",
    "mg",
    "degrees",
    "walk",
    "walked",
    "drive",
    "drove",
    "ran",
    "run",
    "across",
    "along",
    "past",
    "near",
    "around",
    "cross",
    "crossing",
}
STREET_RE = re.compile(
    r"\b(?P<number>\d{1,6}[A-Za-z]?)\s+(?P<name>(?:[NSEW]\.?\s+)?(?:[A-Za-z0-9][\w'.\-]*\s+){1,3})"
    + _STREET_SUFFIX
    + r"\b\.?"
    r"(?:,?\s*(?:apt|apartment|unit|suite|ste|#)\.?\s*#?\s*[A-Za-z0-9\-]+)?",
    re.IGNORECASE,
)
PO_BOX_RE = re.compile(r"\bP\.?\s*O\.?\s*Box\s+\d+\b", re.IGNORECASE)
_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT "
    "NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR"
).split()
_STATE_NAMES = (
    r"alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware"
    r"|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana"
    r"|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana"
    r"|nebraska|nevada|new\s+hampshire|new\s+jersey|new\s+mexico|new\s+york"
    r"|north\s+carolina|north\s+dakota|ohio|oklahoma|oregon|pennsylvania"
    r"|rhode\s+island|south\s+carolina|south\s+dakota|tennessee|texas|utah|vermont"
    r"|virginia|washington|west\s+virginia|wisconsin|wyoming"
)
ZIP_RE = re.compile(
    r"(?:(?P<lead>\b(?:zip(?:\s*code)?|postal\s+code)\s*(?:is|:|#)?\s*"
    r"|(?-i:\b(?:" + "|".join(_STATES) + r"))\.?,?\s+"
    r"|\b(?:" + _STATE_NAMES + r"),?\s+)"
    r"(?P<zip>\d{5}(?:-\d{4})?)"
    r"|" + _BEFORE + r"(?P<zip4>\d{5}-\d{4}))(?![\w\-]|[.,]\d)",
    re.IGNORECASE,
)

# ---- names patients give about themselves -> <name> ----
# Maria, O'Neil, McDonald, Lopez-Garcia; not an acronym like PARS in the capitalised form.
_NAME_WORD = r"(?=[A-Za-z]{2})[A-Za-z][A-Za-z]*(?:['\-][A-Za-z]+)*(?![\w'\-])"
_TITLE_WORD = (
    r"(?=[A-Za-z']{2})[A-Z](?:[a-z]+|[a-z]*[A-Z][a-z]+)?(?:['\-][A-Z]?[a-z]+)*"
    r"(?![\w'\-])"
)
# Words that follow "I'm" / "this is" but are not names.
NOT_NAMES = {
    "not",
    "just",
    "so",
    "still",
    "very",
    "really",
    "also",
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "here",
    "back",
    "fine",
    "ok",
    "okay",
    "sorry",
    "worried",
    "scared",
    "afraid",
    "having",
    "going",
    "trying",
    "wondering",
    "asking",
    "writing",
    "calling",
    "looking",
    "about",
    "from",
    "with",
    "for",
    "and",
    "but",
    "my",
    "his",
    "her",
    "their",
    "our",
    "achilles",
    "dr",
    "doctor",
    "mr",
    "mrs",
    "ms",
    "miss",
    "is",
    "was",
    "it",
    "that",
    "this",
    "what",
    "how",
    "when",
    "where",
    "why",
    "who",
    "which",
    "yes",
    "no",
    "hi",
    "hello",
    "thanks",
    "thank",
    "please",
    "post",
    "pre",
    "after",
    "before",
    "day",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "pars",
    "normal",
    "ok.",
    "able",
    "unable",
    "supposed",
    "allowed",
    "told",
    "now",
    "today",
    "tomorrow",
    "yesterday",
    "same",
    "new",
    "in pain",
    "pain",
    "swollen",
    "ready",
    "done",
    "sure",
    "unsure",
    "confused",
    "curious",
    "interested",
    "concerned",
    "nervous",
    "anxious",
    "planning",
    "scheduled",
    "currently",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "english",
    "spanish",
    "there",
    "again",
    "only",
    "getting",
    "feeling",
    "being",
    "doing",
    "waiting",
    "thinking",
    "hoping",
}
# Explicit: "my name is X", "my full name's X", "name: X" (any case, up to 3 words).
NAME_EXPLICIT_RE = re.compile(
    r"\b(?P<lead>(?:my\s+(?:full\s+|first\s+|last\s+)?name\s*(?:is|'s|:)|name\s*:"
    r"|me\s+llamo|mi\s+nombre\s+es|nombre\s*:)\s*)"
    r"(?P<name>" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r"){0,2})",
    re.IGNORECASE,
)
# Self-introductions: "I'm Maria", "I am Maria Lopez", "this is Maria", "it's Maria here",
# "call me Maria": only capitalised words, so "i'm worried" and "this is normal" stay.
NAME_INTRO_RE = re.compile(
    r"(?i:\b(?P<lead>(?:i\s*'?\s*m|i\s+am|this\s+is|it\s*'?\s*s|call\s+me)\s+))"
    r"(?P<name>" + _TITLE_WORD + r"(?:\s+" + _TITLE_WORD + r"){0,2})"
)
