"""Reads a message the way content/red_flags.yml says, and reports red flags.

Pure Python (no Rasa), so the rules can be tested and tried on their own:

    python -m nlu_components.triage_rules "had surgery last week and my calf is hot"

The clinician edits content/red_flags.yml; its header explains the reading
(sentences and clauses, terms with typo tolerance, negation, questions about
signs, post-op context). This module only implements it.
"""
from __future__ import annotations

import gzip
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import yaml
from rapidfuzz import process
from rapidfuzz.distance import OSA

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RED_FLAGS_PATH = PROJECT_ROOT / "content" / "red_flags.yml"
CACHE_DIR = PROJECT_ROOT / "build" / "triage"

# Words this common in English or Spanish are never read as a misspelling of a
# term (log-probability from spacy-lookups-data's lexeme tables).
COMMON_WORD_LOGPROB = -15.5
FUZZY_MIN_LEN = 5        # one letter off from 5 letters on
FUZZY_TWO_EDITS_LEN = 9  # two letters off from 9 letters on
FUZZY_STEM_MIN_LEN = 6   # a stem ("swell*") tolerates a typo from 6 letters on
NEGATION_WINDOW = 3
HYPOTHETICAL_WINDOW = 2  # "he will fall", "could be a clot"

_CONTRACTION_FOLDS = [
    (re.compile(r"\b(cannot|can not|couldnt|could not|unable to)\b"), "cant"),
    (re.compile(r"\bi ve\b"), "ive"),
]
_SENTENCE_SPLIT = re.compile(r"((?<!\d)[.!?;]+|[.!?;]+(?!\d)|\n+)")
_CLAUSE_SPLIT_WORDS = frozenset({"but", "although", "though", "however", "except",
                                 "pero", "aunque", "sino"})
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|,")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_TEMPERATURE_WORDS = frozenset({"temp", "temperature", "thermometer", "degrees", "deg", "f",
                                "c", "fever", "temperatura", "grados", "fiebre", "calentura"})


def normalise(text: str) -> str:
    """Lower-case, strip accents and apostrophes, fold contractions."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"(\w)['’]ll\b", r"\1 will", text)   # he'll fall -> he will fall
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[-/_]", " ", text)
    for pattern, replacement in _CONTRACTION_FOLDS:
        text = pattern.sub(replacement, text)
    return text


def tokens_of(text: str) -> List[str]:
    return _TOKEN.findall(normalise(text))


# ---------------------------------------------------------------- terms ----

@dataclass(frozen=True)
class Term:
    """A word, a stem ("swell*") or a phrase of them, as written in the YAML."""
    source: str
    parts: Tuple[str, ...]  # each part a word or a stem ending in *

    @classmethod
    def parse(cls, source: str) -> "Term":
        marked = source.replace("*", " STAR ").replace("#", " NUMBER ").replace("~", " ANYWORD ")
        parts = tuple(p for p in tokens_of(marked) if p != ",")
        # re-attach the star markers to the word before them; NUMBER is any number
        merged: List[str] = []
        for part in parts:
            if part == "star" and merged:
                merged[-1] += "*"
            elif part == "number":
                merged.append("#")
            elif part == "anyword":
                merged.append("~")
            else:
                merged.append(part)
        return cls(source, tuple(merged))


class WordMatcher:
    """Which term parts a typed token matches, with guarded typo tolerance.

    All parts are known up front, so each token is looked up once (and cached):
    exact words from a set, stems by prefix, typos (only for tokens that are not
    common words) with rapidfuzz against the words long enough to allow one.
    """

    def __init__(self, common_words: FrozenSet[str], parts: Iterable[str],
                 fuzzy: bool = True) -> None:
        self.common_words = common_words
        self.fuzzy = fuzzy
        parts = set(parts)
        self.exact = {p for p in parts if not p.endswith("*") and p not in ("#", "~")}
        self.stems = sorted(p[:-1] for p in parts if p.endswith("*"))
        self.typo_words = sorted(p for p in self.exact if len(p) >= FUZZY_MIN_LEN)
        self.typo_stems = [s for s in self.stems if len(s) >= FUZZY_STEM_MIN_LEN]
        self._cache: Dict[str, FrozenSet[str]] = {}

    def parts_for(self, token: str) -> FrozenSet[str]:
        found = self._cache.get(token)
        if found is None:
            found = self._lookup(token)
            if len(self._cache) < 100_000:
                self._cache[token] = found
        return found

    def matches(self, token: str, part: str) -> bool:
        return part in self.parts_for(token)

    def _lookup(self, token: str) -> FrozenSet[str]:
        found = {"~"}
        if _NUMBER.match(token):
            found.add("#")
        if token in self.exact:
            found.add(token)
        found.update(stem + "*" for stem in self.stems if token.startswith(stem))
        if self.fuzzy and self._may_be_typo(token):
            for _, _, index in process.extract(token, self.typo_words, scorer=OSA.distance,
                                               score_cutoff=2, limit=None):
                word = self.typo_words[index]
                allowed = 2 if len(word) >= FUZZY_TWO_EDITS_LEN else 1
                if abs(len(token) - len(word)) <= allowed and \
                        OSA.distance(token, word, score_cutoff=allowed) <= allowed:
                    found.add(word)
            found.update(stem + "*" for stem in self.typo_stems
                         if OSA.distance(token[:len(stem)], stem, score_cutoff=1) <= 1)
        return frozenset(found)

    def _may_be_typo(self, token: str) -> bool:
        return len(token) >= FUZZY_MIN_LEN - 1 and token.isalpha() \
            and token not in self.common_words


@dataclass(frozen=True)
class Occurrence:
    start: int  # token index within the sentence
    end: int    # exclusive
    clause: int


def find_term(parts_at: Sequence[FrozenSet[str]], first: Dict[str, List[int]],
              term: Term) -> List[Tuple[int, int]]:
    """Where `term` occurs, given each token's matching parts and an index of them."""
    n = len(term.parts)
    return [(i, i + n) for i in first.get(term.parts[0], ())
            if i + n <= len(parts_at)
            and all(term.parts[k] in parts_at[i + k] for k in range(1, n))]


# ------------------------------------------------------------- sentences ----

@dataclass
class Sentence:
    tokens: List[str]
    clause_of: List[int]  # clause id per token
    asks: bool = False    # ended with a question mark

    @classmethod
    def split(cls, text: str) -> List["Sentence"]:
        sentences = []
        pieces = _SENTENCE_SPLIT.split(normalise(text))
        for index in range(0, len(pieces), 2):
            chunk = pieces[index]
            ending = pieces[index + 1] if index + 1 < len(pieces) else ""
            raw = _TOKEN.findall(chunk)
            tokens, clause_of, clause = [], [], 0
            for tok in raw:
                if tok == "," or tok in _CLAUSE_SPLIT_WORDS:
                    clause += 1
                    if tok == ",":
                        continue
                tokens.append(tok)
                clause_of.append(clause)
            if tokens:
                sentences.append(cls(tokens, clause_of, "?" in ending))
        return sentences

    def index(self, matcher: "WordMatcher"):
        """Each token's matching parts, and where each part matches (cached per matcher)."""
        cache = self.__dict__.setdefault("_index", {})
        if id(matcher) not in cache:
            parts_at = [matcher.parts_for(t) for t in self.tokens]
            first: Dict[str, List[int]] = {}
            for position, parts in enumerate(parts_at):
                for part in parts:
                    first.setdefault(part, []).append(position)
            cache[id(matcher)] = (parts_at, first)
        return cache[id(matcher)]

    def clause_tokens(self, clause: int) -> List[Tuple[int, str]]:
        return [(i, t) for i, t in enumerate(self.tokens) if self.clause_of[i] == clause]


# ---------------------------------------------------------------- rules ----

@dataclass(frozen=True)
class Group:
    terms: Tuple[Term, ...]
    location: bool


@dataclass(frozen=True)
class Rule:
    groups: Tuple[Group, ...]
    within: Optional[int]
    unless: Tuple[Term, ...]
    needs_post_op: Optional[bool] = None  # overrides the category's


@dataclass(frozen=True)
class Category:
    name: str
    tier: str
    sign: str
    needs_post_op: bool
    rules: Tuple[Rule, ...]
    fever_f: Optional[float] = None
    fever_c: Optional[float] = None


@dataclass
class Finding:
    category: str
    tier: str
    sign: str
    needs_post_op: bool


@dataclass
class TriageResult:
    """What one message says: reports (happening now), questions about signs, context."""
    reports: List[Finding] = field(default_factory=list)
    asked_about: List[str] = field(default_factory=list)
    post_op_context: bool = False

    def tier(self, ranks: Dict[str, int], post_op_known: bool = False) -> Optional[str]:
        """The highest tier this message reaches, given post-op context known elsewhere."""
        post_op = post_op_known or self.post_op_context
        reached = [f.tier for f in self.reports if post_op or not f.needs_post_op]
        return max(reached, key=lambda t: ranks[t]) if reached else None

    def decisive_categories(self, post_op_known: bool = False) -> List[str]:
        post_op = post_op_known or self.post_op_context
        return [f.category for f in self.reports if post_op or not f.needs_post_op]

    @property
    def pending(self) -> List[str]:
        """Reported signs that escalate only with post-op context this message lacks."""
        if self.post_op_context:
            return []
        return [f.category for f in self.reports if f.needs_post_op]

    def as_dict(self, ranks: Dict[str, int], post_op_known: bool = False) -> Dict[str, object]:
        return {
            "tier": self.tier(ranks, post_op_known),
            "categories": self.decisive_categories(post_op_known),
            "pending": self.pending,
            "asked_about": list(self.asked_about),
            "post_op_context": self.post_op_context,
        }


def _terms(items: Iterable[str]) -> Tuple[Term, ...]:
    return tuple(Term.parse(str(x)) for x in items or ())


def common_words_near(term_words: Set[str]) -> FrozenSet[str]:
    """Common English/Spanish words a typo match could confuse with a term word.

    Only these need guarding, so this small set is all that is kept (computed
    once from spacy-lookups-data's frequency tables, a few seconds; the NLU
    component stores it in the trained model, tests cache it under build/).
    """
    import spacy_lookups_data  # registry package, offline
    from rapidfuzz import process

    data = Path(spacy_lookups_data.__file__).parent / "data"
    common: Set[str] = set()
    for lang in ("en", "es"):
        with gzip.open(data / f"{lang}_lexeme_prob.json.gz", "rt", encoding="utf-8") as fh:
            probs = json.load(fh)
        common.update(w for w, p in probs.items()
                      if p > COMMON_WORD_LOGPROB and w.isalpha() and len(w) >= FUZZY_MIN_LEN - 1)
        del probs
    common -= {w.rstrip("*") for w in term_words}
    candidates = sorted(common)
    near: Set[str] = set()
    for term in term_words:
        stem = term.rstrip("*")
        if len(stem) < FUZZY_MIN_LEN:
            continue
        if term.endswith("*"):
            prefixes = [w[:len(stem)] for w in candidates]
            hits = process.extract(stem, prefixes, scorer=OSA.distance, score_cutoff=1,
                                   limit=None)
        else:
            allowed = 2 if len(stem) >= FUZZY_TWO_EDITS_LEN else 1
            hits = process.extract(stem, candidates, scorer=OSA.distance,
                                   score_cutoff=allowed, limit=None)
        near.update(candidates[index] for _, _, index in hits)
    # The exact forms of terms are never "typos" of other terms either.
    return frozenset(near | {w.rstrip("*") for w in term_words})


def cached_common_words_near(term_words: Set[str], cache_dir: Path) -> FrozenSet[str]:
    """common_words_near(), cached in a file named by a hash of the term words."""
    import hashlib

    key = hashlib.sha256(json.dumps(sorted(term_words)).encode()).hexdigest()[:16]
    path = cache_dir / f"common_words_{key}.json"
    if path.exists():
        return frozenset(json.loads(path.read_text()))
    words = common_words_near(term_words)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(words)))
    except OSError:  # read-only install: just recompute next time
        pass
    return words


class TriageRules:
    """content/red_flags.yml, compiled."""

    def __init__(self, spec: dict, common_words: Optional[FrozenSet[str]] = None) -> None:
        self.spec = spec
        self.ranks = {name: int(t["rank"]) for name, t in spec["tiers"].items()}
        self.tier_intents = {name: t["intent"] for name, t in spec["tiers"].items()}
        self.post_op_terms = _terms(spec["post_op_context"])
        self.not_post_op_before = _terms(spec.get("not_post_op_before", ()))
        self.not_post_op_after = _terms(spec.get("not_post_op_after", ()))
        self.negation_before = _terms(spec["negation_before"])
        self.negation_after = _terms(spec["negation_after"])
        self.question_markers = _terms(spec["question_about_signs"])
        self.happening_now = _terms(spec["happening_now"])
        self.hypothetical = _terms(spec["hypothetical_or_past"])
        self.resolved_by = _terms(spec.get("resolved_by", ()))
        self.reporting = _terms(spec["reporting"])
        self.personal = _terms(spec.get("personal_reference", ()))
        self.question_start = frozenset(spec.get("question_start", ()))
        self.hypothetical_before = _terms(spec.get("hypothetical_before", ()))
        conditional = spec.get("conditional") or {}
        self.conditional_if = _terms(conditional.get("if", ()))
        self.conditional_change = _terms(conditional.get("change", ()))
        self.categories = []
        for name, cat in spec["categories"].items():
            rules = tuple(
                Rule(
                    groups=tuple(Group(_terms(g["terms"]), bool(g.get("location")))
                                 for g in rule["groups"]),
                    within=rule.get("within"),
                    unless=_terms(rule.get("unless", ())),
                    needs_post_op=rule.get("needs_post_op"),
                )
                for rule in cat["rules"]
            )
            temp = cat.get("temperature_at_least") or {}
            self.categories.append(Category(
                name=name, tier=cat["tier"], sign=cat["sign"],
                needs_post_op=bool(cat.get("needs_post_op")), rules=rules,
                fever_f=temp.get("fahrenheit"), fever_c=temp.get("celsius")))
        self.common_words = common_words if common_words is not None \
            else cached_common_words_near(self.term_words(), CACHE_DIR)
        every_part = self.all_parts()
        self.matcher = WordMatcher(self.common_words, every_part)
        # Markers (negation, questions, time) are small function words: exact only.
        self.marker_matcher = WordMatcher(self.common_words, every_part, fuzzy=False)

    @classmethod
    def from_file(cls, path: Path = RED_FLAGS_PATH,
                  common_words: Optional[FrozenSet[str]] = None) -> "TriageRules":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")), common_words)

    def term_words(self) -> Set[str]:
        every = list(self.post_op_terms)
        for cat in self.categories:
            for rule in cat.rules:
                for group in rule.groups:
                    every += group.terms
        return {part for term in every for part in term.parts}

    # ------------------------------------------------------------ reading ----

    def all_parts(self) -> Set[str]:
        lists = [self.post_op_terms, self.not_post_op_before, self.not_post_op_after,
                 self.negation_before, self.negation_after, self.question_markers,
                 self.happening_now, self.hypothetical, self.resolved_by, self.reporting,
                 self.personal, self.hypothetical_before, self.conditional_if,
                 self.conditional_change]
        terms = [t for terms in lists for t in terms]
        for category in self.categories:
            for rule in category.rules:
                terms += list(rule.unless)
                for group in rule.groups:
                    terms += list(group.terms)
        return {part for term in terms for part in term.parts}

    def _occurrences(self, sentence: Sentence, terms: Sequence[Term],
                     exact: bool = False) -> List[Occurrence]:
        parts_at, first = sentence.index(self.marker_matcher if exact else self.matcher)
        found = []
        for term in terms:
            for start, end in find_term(parts_at, first, term):
                found.append(Occurrence(start, end, sentence.clause_of[start]))
        return found

    def _negated(self, sentence: Sentence, occ: Occurrence,
                 negations_before: List[Occurrence], negations_after: List[Occurrence],
                 modals: Sequence[Occurrence] = ()) -> bool:
        """Negated ("no fever"), or only possible ("he will fall", "could be a clot")."""
        for neg in negations_before:
            if neg.clause == occ.clause and neg.end <= occ.start \
                    and occ.start - neg.end < NEGATION_WINDOW:
                return True
        for modal in modals:
            if modal.clause == occ.clause and modal.end <= occ.start \
                    and occ.start - modal.end < HYPOTHETICAL_WINDOW:
                return True
        for neg in negations_after:
            if neg.clause == occ.clause and neg.start >= occ.end \
                    and neg.start - occ.end < NEGATION_WINDOW:
                return True
        return False

    def _now(self, sentence: Sentence) -> Set[int]:
        return {o.clause for o in self._occurrences(sentence, self.happening_now, exact=True)}

    def _question_clauses(self, sentence: Sentence) -> Set[int]:
        """Clauses that ask about signs, or are hypothetical or past, not reports."""
        def clauses(terms: Sequence[Term]) -> Set[int]:
            return {o.clause for o in self._occurrences(sentence, terms, exact=True)}

        now = clauses(self.happening_now)
        past_years = {sentence.clause_of[i] for i, t in enumerate(sentence.tokens)
                      if _YEAR.match(t)}
        conditional = clauses(self.conditional_if) & clauses(self.conditional_change)
        hypothetical = (clauses(self.hypothetical) | past_years | conditional) \
            - clauses(self.reporting)
        return (clauses(self.question_markers) | hypothetical) - now

    def _generic_questions(self, sentence: Sentence) -> Set[int]:
        """Questions about no one in particular: "does a fever after surgery mean infection?"

        A clause that opens with a question word (or is a whole sentence ending
        with "?") and names no one (no I, my, he, my husband...).
        """
        personal = {o.clause for o in self._occurrences(sentence, self.personal, exact=True)}
        clause_ids = sorted(set(sentence.clause_of))
        found = set()
        for clause in clause_ids:
            words = [t for i, t in enumerate(sentence.tokens) if sentence.clause_of[i] == clause]
            asks = words[0] in self.question_start or (sentence.asks and len(clause_ids) == 1)
            if asks and clause not in personal:
                found.add(clause)
        return found

    def _fever_numbers(self, sentence: Sentence, category: Category) -> List[Occurrence]:
        if category.fever_f is None:
            return []
        found = []
        has_temp_word = any(t in _TEMPERATURE_WORDS for t in sentence.tokens)
        for i, tok in enumerate(sentence.tokens):
            if not _NUMBER.match(tok):
                continue
            value = float(tok.replace(",", "."))
            unit = sentence.tokens[i + 1] if i + 1 < len(sentence.tokens) else ""
            fahrenheit = category.fever_f <= value <= 110 and ("." in tok or "," in tok
                                                                or unit in ("f", "degrees")
                                                                or has_temp_word)
            celsius = category.fever_c is not None and category.fever_c <= value <= 43 \
                and (unit in ("c", "grados", "degrees") or has_temp_word or "." in tok
                     or "," in tok)
            if fahrenheit or celsius:
                found.append(Occurrence(i, i + 1, sentence.clause_of[i]))
        return found

    def read(self, text: Optional[str]) -> TriageResult:
        """What one message reports (cached: the policy re-reads recent messages)."""
        cache = self.__dict__.setdefault("_read_cache", {})
        if text in cache:
            return cache[text]
        result = self._read(text)
        if len(cache) >= 4096:
            cache.clear()
        cache[text] = result
        return result

    def _read(self, text: Optional[str]) -> TriageResult:
        result = TriageResult()
        if not text or not text.strip():
            return result
        reported: Dict[str, Finding] = {}
        asked: List[str] = []
        sentences = Sentence.split(text)
        # A sign told before "they said it was heartburn" was checked and cleared.
        resolved_until = (-1, -1)
        for number, sentence in enumerate(sentences):
            for occ in self._occurrences(sentence, self.resolved_by, exact=True):
                resolved_until = max(resolved_until, (number, occ.start))
        for number, sentence in enumerate(sentences):
            neg_before = self._occurrences(sentence, self.negation_before, exact=True)
            neg_after = self._occurrences(sentence, self.negation_after, exact=True)
            modals = self._occurrences(sentence, self.hypothetical_before, exact=True)
            # context may be mentioned in a general question ("...normal after surgery?")
            context_questions = self._question_clauses(sentence)
            questions = context_questions | (self._generic_questions(sentence) - self._now(sentence))

            def valid(occ: Occurrence, location: bool, asking: bool = False,
                      number=number, questions=questions) -> bool:
                """Counts as reported (or, with asking=True, as asked about)."""
                if self._negated(sentence, occ, neg_before, neg_after,
                                 () if location else modals):
                    return False
                if not location and (number, occ.start) < resolved_until:
                    return False
                return asking or location or occ.clause not in questions

            before = self._occurrences(sentence, self.not_post_op_before, exact=True)
            after = self._occurrences(sentence, self.not_post_op_after, exact=True)
            for occ in self._occurrences(sentence, self.post_op_terms):
                blocked = any(b.end <= occ.start and occ.start - b.end < NEGATION_WINDOW
                              and b.clause == occ.clause for b in before) or any(
                    a.start >= occ.end and a.start - occ.end < NEGATION_WINDOW
                    and a.clause == occ.clause for a in after)
                if not blocked and valid(occ, location=False, questions=context_questions):
                    result.post_op_context = True

            for category in self.categories:
                if category.name in reported:
                    continue
                status, needs_post_op = self._category_status(sentence, category, valid)
                if status == "report":
                    reported[category.name] = Finding(category.name, category.tier,
                                                      category.sign, needs_post_op)
                elif status == "asked" and category.name not in asked:
                    asked.append(category.name)
        result.reports = list(reported.values())
        result.asked_about = [c for c in asked if c not in reported]
        return result

    def _category_status(self, sentence: Sentence, category: Category,
                         valid) -> Tuple[Optional[str], bool]:
        """'report' when a rule matches with valid terms, 'asked' when only inside questions.

        With a report, whether it needs post-op context (the rules that need none
        are tried first, so the stronger reading wins).
        """
        status = None
        rules = sorted(category.rules, key=lambda r: bool(
            category.needs_post_op if r.needs_post_op is None else r.needs_post_op))
        for rule in rules:
            if rule.unless and self._occurrences(sentence, rule.unless):
                continue
            reported, asked = [], []
            for index, group in enumerate(rule.groups):
                occs = self._occurrences(sentence, group.terms)
                if index == 0 and category.fever_f is not None:
                    occs += self._fever_numbers(sentence, category)
                reported.append([o for o in occs if valid(o, group.location)])
                asked.append([o for o in occs if valid(o, group.location, asking=True)])
            if all(reported) and _fits_window(reported, rule.within):
                needs = category.needs_post_op if rule.needs_post_op is None \
                    else rule.needs_post_op
                return "report", needs
            if all(asked) and _fits_window(asked, rule.within):
                status = "asked"
        return status, category.needs_post_op


def _fits_window(groups: List[List[Occurrence]], within: Optional[int]) -> bool:
    if within is None or len(groups) < 2:
        return True
    for anchor in groups[0]:
        if all(any(abs(o.start - anchor.start) <= within for o in g) for g in groups[1:]):
            return True
    return False


# A follow-up that points back at the previous message ("they're cold and grey"
# after "my toes look weird") is read together with it.
_BACK_REFERENCES = frozenset({"it", "its", "they", "theyre", "them", "this", "that", "there",
                              "theres", "and", "also", "like", "esta", "estan", "eso", "lo",
                              "los", "la", "las", "y", "tambien", "como"})
BACK_REFERENCE_REACH = 8  # words into the follow-up
# How many earlier user messages a pending sign or a back-reference may reach.
CONVERSATION_WINDOW = 3


@dataclass
class ConversationDecision:
    tier: Optional[str]
    categories: List[str]
    reason: str  # "message", "earlier_context", "later_context" or "follow_up"


def decide_conversation(rules: "TriageRules", earlier: Sequence[str], latest: str,
                        earlier_post_op: bool = False) -> ConversationDecision:
    """The tier the latest message reaches given the conversation before it.

    `earlier` are the previous user messages of the session, oldest first;
    `earlier_post_op` says post-op context was given before them (e.g. a slot).
    """
    now = rules.read(latest)
    before = [rules.read(text) for text in earlier]
    post_op_before = earlier_post_op or any(r.post_op_context for r in before)
    tier = now.tier(rules.ranks, post_op_known=post_op_before)
    if tier is not None:
        reason = "message" if now.tier(rules.ranks) else "earlier_context"
        return ConversationDecision(tier, now.decisive_categories(post_op_before), reason)
    recent = before[-CONVERSATION_WINDOW:]
    if now.post_op_context:  # context after the sign: "oh, and I had the repair"
        pending = [f for r in recent for f in r.reports if f.needs_post_op]
        if pending:
            best = max(pending, key=lambda f: rules.ranks[f.tier])
            return ConversationDecision(best.tier, [f.category for f in pending],
                                        "later_context")
    words = tokens_of(latest)[:BACK_REFERENCE_REACH]
    if earlier and any(w in _BACK_REFERENCES for w in words):
        joined = rules.read(f"{earlier[-1]} {latest}")
        new = [f for f in joined.reports
               if f.category not in {g.category for g in before[-1].reports}]
        post_op = post_op_before or joined.post_op_context
        reached = [f for f in new if post_op or not f.needs_post_op]
        if reached:
            best = max(reached, key=lambda f: rules.ranks[f.tier])
            return ConversationDecision(best.tier, [f.category for f in reached], "follow_up")
    return ConversationDecision(None, [], "")


@lru_cache(maxsize=4)
def load_rules(path: str = str(RED_FLAGS_PATH)) -> TriageRules:
    return TriageRules.from_file(Path(path))


if __name__ == "__main__":  # try a message: python -m nlu_components.triage_rules "..."
    rules = load_rules()
    for message in sys.argv[1:]:
        print(message, "->", rules.read(message).as_dict(rules.ranks))
