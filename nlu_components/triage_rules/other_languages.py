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

A category is also reported from a pair: one of its body-part words and one
of its "what is wrong" words a few words apart in one sentence, the latter not
negated ("Икра на прооперированной ноге опухла"). A `resolved` phrase after a
sign clears it ("...через минуту всё проходит"), and `red_flag_unless` phrases
(ice on the foot) keep a category out. A `not_a_report` word next to a sign
(a story from back then, a friend's, a question about preventing it) or a
`fear` word on the side of the sign the grammar puts it ("また切れるのが怖くて",
"боюсь снова порвать") keeps that sign out, an `own_risk` question ("could it
happen to me too?") makes the signs told someone else's, an `asking_about_signs`
phrase in a question ("how do I know if...?") makes its signs asked about, and a `surgery_considered` word
makes the surgery in its sentence one to come ("수술해야 하나요?"), not
post-op context.

The result is merged into the message's reading (reading.py), so the tiers,
post-op context and the conversation logic are the same as for English.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

# the keys of a language in content/languages.yml that the reading uses
READING_KEYS = (
    "script",
    "red_flags",
    "red_flag_pairs",
    "red_flag_unless",
    "resolved",
    "post_op_context",
    "negation",
    "negation_after",
    "not_a_report",
    "fear",
    "fear_comes",
    "surgery_considered",
    "own_risk",
    "asking_about_signs",
)
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
_KANA = re.compile("[\u3040-\u30ff]")


@lru_cache(maxsize=1024)
def fold(text: str, strip_marks: bool) -> str:
    """NFKC, case-folded; for Latin-script languages also without accents (đ -> d)."""
    text = unicodedata.normalize("NFKC", text or "").casefold().translate(_LETTER_VARIANTS)
    text = _ARABIC_MARKS.sub("", text)
    if strip_marks:
        text = unicodedata.normalize("NFKD", text.translate(_VIETNAMESE_D))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # apostrophes, and the Armenian question and emphasis marks written inside a word ("պե՞տք")
    text = re.sub(r"['’`´\u055b\u055c\u055e]", "", text)
    return " ".join(text.split())


# the question marks of the languages (Armenian writes its own inside the word it asks about)
QUESTION_MARKS = ("?", "？", "؟", "\u055e")
GAP_WORDS = 2
MIN_STEM_CHARS = 3
# a body part and what is wrong with it: this many words apart (characters in
# Chinese and Japanese), in one sentence
PAIR_REACH_WORDS = 6
PAIR_REACH_CHARS = 10
# a story or fear word this close to a sign makes it not a report
STORY_REACH_WORDS = 5
STORY_REACH_CHARS = 8
_WORD = re.compile(r"[\w-]+")
_SENTENCE_END = re.compile(r"[.!?;\n。！？；։؟]+")
# Arabic-script words take clitics at their start (wa-, bi-, li-, fa-, ka-, al-)
_ARABIC_PREFIX = r"(?:[وبلفک]?(?:ال)?)"


@lru_cache(maxsize=8192)
def _phrase_pattern(phrase: str, arabic: bool = False, latin: bool = False) -> re.Pattern:
    """A phrase of a spaced script: each word from the start of a word, a word
    possibly a stem (in Latin letters only one of MIN_STEM_CHARS or more) ("kurcqs cav" finds "cavuma",
    Korean "가슴이 아프" finds "아프고"), a shorter one whole, and up to
    GAP_WORDS words between two of its words ("kurcqs shat cavuma")."""

    def word(w: str) -> str:
        # in Latin letters a short word is whole: "bi mo" must not find "bien ... morado"
        whole = latin and len(w) < MIN_STEM_CHARS
        return re.escape(w) + (r"(?!\w)" if whole else r"\w*")

    words = phrase.split()
    gap = r"(?:\W+\w+){0,%d}\W+".replace("%d", str(GAP_WORDS))
    start = r"(?<!\w)" + (_ARABIC_PREFIX if arabic else "")
    return re.compile(start + gap.join(word(w) for w in words))


def _same_sentence(text: str, a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    """No sentence end between the two spans of `text`."""
    return not _SENTENCE_END.search(text[min(a[1], b[1]) : max(a[0], b[0])])


@dataclass(frozen=True)
class LanguageTerms:
    code: str
    unspaced: bool
    latin: bool
    arabic: bool
    categories: Dict[str, Tuple[str, ...]]
    pairs: Dict[str, Tuple[Tuple[Tuple[str, ...], Tuple[str, ...]], ...]]
    unless: Dict[str, Tuple[str, ...]]
    resolved: Tuple[str, ...]
    post_op: Tuple[str, ...]
    negation: Tuple[str, ...]
    # negation words that also cancel a sign written just BEFORE them ("боли нет");
    # None: all of `negation`
    negation_after: Optional[Tuple[str, ...]] = None
    not_a_report: Tuple[str, ...] = ()
    fear: Tuple[str, ...] = ()
    fear_after: bool = False
    surgery_considered: Tuple[str, ...] = ()
    # asking about one's own risk ("could it happen to me too?"): the signs told are someone else's
    own_risk: Tuple[str, ...] = ()
    # written in Chinese characters: a message with kana is Japanese, not this language
    han: bool = False
    # "how do I know if...?", "what are the symptoms of...?": in a question, the signs are asked about
    asking_about_signs: Tuple[str, ...] = ()

    def _fold(self, text: str) -> str:
        return fold(text, strip_marks=self.latin)

    def _find(self, text: str, phrase: str) -> List[Tuple[int, int]]:
        """(start, end) of a folded phrase in folded text."""
        if not phrase:
            return []
        pattern = (
            re.escape(phrase) if self.unspaced else _phrase_pattern(phrase, self.arabic, self.latin)
        )
        return [m.span() for m in re.finditer(pattern, text)]

    def _negated(self, text: str, start: int, end: int, reach: int = NEGATION_REACH_WORDS) -> bool:
        """A negation word just before (or, as in "ջերմություն չունեմ", just after)."""
        before, after = text[:start], text[end:]
        if self.unspaced:
            window = before[-NEGATION_REACH_CHARS:] + " " + after[:NEGATION_REACH_CHARS]
            return any(n and n in window for n in self.negation)
        # words without their punctuation ("قرمز نیست، فقط")
        rest = after.split(" ", 1)[1] if " " in after else ""
        before_words = " " + " ".join(_WORD.findall(before)[-reach:]) + " "
        after_word = " " + " ".join(_WORD.findall(rest)[:1]) + " "
        after_negation = self.negation if self.negation_after is None else self.negation_after
        return any(f" {n} " in before_words for n in self.negation) or any(
            f" {n} " in after_word for n in after_negation
        )

    def _negated_inside(self, matched: str, phrase: str) -> bool:
        """A negation word in a gap of the phrase ("ոտքս չի ուռել": my leg did not swell)."""
        if self.unspaced:
            return False
        own = set(phrase.split())
        return any(w in self.negation and w not in own for w in matched.split())

    def _distance(self, text: str, a: Tuple[int, int], b: Tuple[int, int]) -> int:
        first, second = sorted((a, b))
        between = text[first[1] : second[0]] if second[0] > first[1] else ""
        return len(between) if self.unspaced else len(between.split())

    def _told_as_story(self, text: str, span: Tuple[int, int]) -> bool:
        """A story word (back then) near the sign, or a fear word on its side, in its sentence."""
        reach = STORY_REACH_CHARS if self.unspaced else STORY_REACH_WORDS
        markers = [(m, None) for m in self.not_a_report] + [(m, self.fear_after) for m in self.fear]
        for marker, after in markers:
            for other in self._find(text, marker):
                if after is not None and (other[0] >= span[0]) != after:
                    continue  # a fear word on the other side: "chest hurts, I'm scared"
                if _same_sentence(text, other, span) and self._distance(text, other, span) <= reach:
                    return True
        return False

    def _asked_about(self, text: str, span: Tuple[int, int], asks: bool) -> bool:
        """In a question about signs: the message asks ("?"), and an asking phrase is in the sign's sentence."""
        if not asks:
            return False
        return any(
            _same_sentence(text, other, span)
            for phrase in self.asking_about_signs
            for other in self._find(text, phrase)
        )

    def _pair_found(
        self, sentence: str, where: Tuple[str, ...], what: Tuple[str, ...], asks: bool
    ) -> bool:
        reach = PAIR_REACH_CHARS if self.unspaced else PAIR_REACH_WORDS
        places = [span for w in where for span in self._find(sentence, w)]
        for term in what:
            for span in self._find(sentence, term):
                if (
                    self._negated(sentence, *span)
                    or self._told_as_story(sentence, span)
                    or self._asked_about(sentence, span, asks)
                ):
                    continue
                if any(p != span and self._distance(sentence, p, span) <= reach for p in places):
                    return True
        return False

    @cached_property  # writes the instance __dict__ directly, so a frozen dataclass is fine
    def _any_term(self) -> re.Pattern:
        """Any of this language's terms: most messages have none, and skip the rest."""
        terms = set(self.post_op)
        for phrases in self.categories.values():
            terms.update(phrases)
        for pairs in self.pairs.values():
            for where, what in pairs:
                terms.update(where)
                terms.update(what)
        firsts = sorted({t.split()[0] for t in terms if t.strip()}, key=len, reverse=True)
        body = "|".join(re.escape(t) for t in firsts) or "(?!)"
        start = "" if self.unspaced else r"(?<!\w)" + (_ARABIC_PREFIX if self.arabic else "")
        return re.compile(start + "(?:" + body + ")")

    def read(self, text: str) -> Tuple[List[str], bool]:
        """The categories this message reports in this language, and post-op context."""
        folded = self._fold(text)
        if not self._any_term.search(folded) or (self.han and _KANA.search(text)):
            return [], False  # (Japanese is written with Chinese characters too, and kana)
        sentences = [s for s in _SENTENCE_END.split(folded) if s.strip()]
        cleared_until = max(
            (start for phrase in self.resolved for start, _ in self._find(folded, phrase)),
            default=-1,
        )
        reported = []
        asks = any(mark in text for mark in QUESTION_MARKS)
        someone_else = any(self._find(folded, phrase) for phrase in self.own_risk)
        categories = set() if someone_else else set(self.categories) | set(self.pairs)
        for category in categories:
            if any(self._find(folded, u) for u in self.unless.get(category, ())):
                continue
            found = any(
                start > cleared_until
                and not self._negated(folded, start, end)
                and not self._negated_inside(folded[start:end], phrase)
                and not self._told_as_story(folded, (start, end))
                and not self._asked_about(folded, (start, end), asks)
                for phrase in self.categories.get(category, ())
                for start, end in self._find(folded, phrase)
            ) or any(
                self._pair_found(sentence, where, what, asks)
                for sentence in sentences
                if folded.find(sentence) > cleared_until
                for where, what in self.pairs.get(category, ())
            )
            if found:
                reported.append(category)
        # "chưa mổ bao giờ", "也没做过手术": a negated surgery is no post-op context (the
        # negation word right next to it: "진통제 안 듣고 깁스 안에서" is still in a cast)
        post_op = any(
            not self._negated(sentence, start, end, reach=1)
            and not self._negated_inside(sentence[start:end], phrase)
            for sentence in sentences
            if not any(self._find(sentence, c) for c in self.surgery_considered)
            for phrase in self.post_op
            for start, end in self._find(sentence, phrase)
        )
        return sorted(reported), post_op


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
                arabic=script == "Arabic",
                han=script == "Han",
                categories={
                    name: folded(phrases) for name, phrases in (lang.get("red_flags") or {}).items()
                },
                pairs={
                    name: tuple((folded(p["where"]), folded(p["what"])) for p in pairs)
                    for name, pairs in (lang.get("red_flag_pairs") or {}).items()
                },
                unless={
                    name: folded(terms)
                    for name, terms in (lang.get("red_flag_unless") or {}).items()
                },
                resolved=folded(lang.get("resolved")),
                post_op=folded(lang.get("post_op_context")),
                negation=folded(lang.get("negation")),
                negation_after=(
                    folded(lang["negation_after"]) if lang.get("negation_after") else None
                ),
                not_a_report=folded(lang.get("not_a_report")),
                fear=folded(lang.get("fear")),
                fear_after=lang.get("fear_comes") == "after",
                surgery_considered=folded(lang.get("surgery_considered")),
                own_risk=folded(lang.get("own_risk")),
                asking_about_signs=folded(lang.get("asking_about_signs")),
            )
        )
    return compiled


def load_languages_spec(path: Path = LANGUAGES_PATH) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
