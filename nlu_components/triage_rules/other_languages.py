"""Red flags in the other languages of Los Angeles (content/languages.yml).

English and Spanish are read word by word with the full rules (negation,
questions, the past...). For Chinese, Korean, Tagalog, Armenian, Persian,
Russian, Vietnamese, Japanese and Arabic (and the romanised Armenian and
Persian that many patients type) the reviewed file keeps, per language, short
phrases for each red-flag category, post-op context phrases and negation
words. A phrase found in a message reports its category unless a negation word
of that language stands just before it; Chinese and Japanese are written
without spaces, so there a phrase is a substring, elsewhere it starts a word
(and may end inside one: the file gives stems).

The result is merged into the message's reading (reading.py), so the tiers,
post-op context and the conversation logic are the same as for English.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

LANGUAGES_PATH = Path(__file__).resolve().parent.parent.parent / "content" / "languages.yml"
# scripts written without spaces between words: phrases are substrings there
UNSPACED_SCRIPTS = frozenset({"Han", "Kana"})
NEGATION_REACH_WORDS = 3
NEGATION_REACH_CHARS = 3
_VIETNAMESE_D = str.maketrans({"đ": "d", "Đ": "d"})
# Spellings keyboards and writers mix: Arabic and Persian letter forms, hamza
# seats, taa marbuta, Russian ё; the zero-width non-joiner (which the channel
# sanitiser turns into a space) and the Arabic tatweel.
_LETTER_VARIANTS = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ё": "е",
        "\u200c": " ",
        "ـ": None,
    }
)
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670]")


def fold(text: str, strip_marks: bool) -> str:
    """NFKC, case-folded; for Latin-script languages also without accents (đ -> d)."""
    text = unicodedata.normalize("NFKC", text or "").casefold().translate(_LETTER_VARIANTS)
    text = _ARABIC_MARKS.sub("", text)
    if strip_marks:
        text = unicodedata.normalize("NFKD", text.translate(_VIETNAMESE_D))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"['’`´]", "", text)
    return " ".join(text.split())


GAP_WORDS = 2


@lru_cache(maxsize=8192)
def _phrase_pattern(phrase: str) -> re.Pattern:
    """A phrase of a spaced script: each word from the start of a word, the last
    one possibly a stem ("kurcqs cav" finds "cavuma", Korean "가슴이 아프" finds
    "아프고"), and up to GAP_WORDS words between two of its words ("kurcqs shat
    cavuma": my chest very hurts)."""
    words = phrase.split()
    gap = r"\w*(?:\W+\w+){0,%d}\W+".replace("%d", str(GAP_WORDS))
    return re.compile(r"(?<!\w)" + gap.join(re.escape(w) for w in words))


@dataclass(frozen=True)
class LanguageTerms:
    code: str
    unspaced: bool
    latin: bool
    categories: Dict[str, Tuple[str, ...]]
    post_op: Tuple[str, ...]
    negation: Tuple[str, ...]

    def _fold(self, text: str) -> str:
        return fold(text, strip_marks=self.latin)

    def _find(self, text: str, phrase: str) -> List[int]:
        """Start offsets of a folded phrase in folded text."""
        if not phrase:
            return []
        if self.unspaced:
            return [m.start() for m in re.finditer(re.escape(phrase), text)]
        return [m.start() for m in re.finditer(_phrase_pattern(phrase), text)]

    def _negated(self, text: str, start: int) -> bool:
        before = text[:start]
        if self.unspaced:
            window = before[-NEGATION_REACH_CHARS:]
            return any(n and n in window for n in self.negation)
        words = before.split()[-NEGATION_REACH_WORDS:]
        window = " " + " ".join(words) + " "
        return any(f" {n} " in window for n in self.negation)

    def read(self, text: str) -> Tuple[List[str], bool]:
        """The categories this message reports in this language, and post-op context."""
        folded = self._fold(text)
        reported = []
        for category, phrases in self.categories.items():
            for phrase in phrases:
                if any(not self._negated(folded, s) for s in self._find(folded, phrase)):
                    reported.append(category)
                    break
        post_op = any(self._find(folded, phrase) for phrase in self.post_op)
        return reported, post_op


def compile_languages(spec: dict) -> List[LanguageTerms]:
    compiled = []
    for code, lang in (spec.get("languages") or {}).items():
        script = str(lang.get("script") or "Latin")
        latin = script == "Latin"
        unspaced = script in UNSPACED_SCRIPTS

        def folded(items, latin=latin) -> Tuple[str, ...]:
            return tuple(sorted({fold(str(x), latin) for x in items or () if str(x).strip()}))

        compiled.append(
            LanguageTerms(
                code=code,
                unspaced=unspaced,
                latin=latin,
                categories={
                    name: folded(phrases) for name, phrases in (lang.get("red_flags") or {}).items()
                },
                post_op=folded(lang.get("post_op_context")),
                negation=folded(lang.get("negation")),
            )
        )
    return compiled


def load_languages_spec(path: Path = LANGUAGES_PATH) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
