"""content/red_flags.yml, compiled: TriageRules, which reads messages (reading.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Iterable, Optional, Set, Tuple

import yaml

from nlu_components.triage_rules.common_words import cached_common_words_near
from nlu_components.triage_rules.matching import WordMatcher
from nlu_components.triage_rules.other_languages import (
    READING_KEYS,
    compile_languages,
    load_languages_spec,
)
from nlu_components.triage_rules.reading import MessageReading
from nlu_components.triage_rules.result import Finding
from nlu_components.triage_rules.spec import Category, Group, Rule, Term

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
RED_FLAGS_PATH = PROJECT_ROOT / "content" / "red_flags.yml"
CACHE_DIR = PROJECT_ROOT / "build" / "triage"


def _terms(items: Iterable[str]) -> Tuple[Term, ...]:
    return tuple(Term.parse(str(x)) for x in items or ())


class TriageRules(MessageReading):
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
        self.feeling_better = _terms(spec.get("feeling_better", ()))
        self.reporting = _terms(spec["reporting"])
        self.other_senses = _terms(spec.get("other_senses", ()))
        self.other_person = _terms(spec.get("other_person", ()))
        self.personal = _terms(spec.get("personal_reference", ()))
        self.family = _terms(spec.get("family", ()))
        self.own_risk = _terms(spec.get("own_risk", ()))
        self.question_start = frozenset(spec.get("question_start", ()))
        self.question_start_without_mark = frozenset(
            spec.get("question_start_without_mark", spec.get("question_start", ()))
        )
        self.hypothetical_before = _terms(spec.get("hypothetical_before", ()))
        conditional = spec.get("conditional") or {}
        self.conditional_if = _terms(conditional.get("if", ()))
        self.conditional_change = _terms(conditional.get("change", ()))
        # red-flag phrases of the other languages (content/languages.yml)
        self.other_languages = compile_languages(spec.get("other_languages") or {})
        self.categories = []
        for name, cat in spec["categories"].items():
            rules = tuple(
                Rule(
                    groups=tuple(
                        Group(_terms(g["terms"]), bool(g.get("location"))) for g in rule["groups"]
                    ),
                    within=rule.get("within"),
                    unless=_terms(rule.get("unless", ())),
                    needs_post_op=rule.get("needs_post_op"),
                    other_senses=_terms(rule.get("other_senses", ())),
                )
                for rule in cat["rules"]
            )
            temp = cat.get("temperature_at_least") or {}
            self.categories.append(
                Category(
                    name=name,
                    tier=cat["tier"],
                    sign=cat["sign"],
                    needs_post_op=bool(cat.get("needs_post_op")),
                    rules=rules,
                    fever_f=temp.get("fahrenheit"),
                    fever_c=temp.get("celsius"),
                )
            )
        self.common_words = (
            common_words
            if common_words is not None
            else cached_common_words_near(self.term_words(), CACHE_DIR)
        )
        every_part = self.all_parts()
        self.matcher = WordMatcher(self.common_words, every_part)
        # Markers (negation, questions, time) are small function words: exact only.
        self.marker_matcher = WordMatcher(self.common_words, every_part, fuzzy=False)

    @classmethod
    def from_file(
        cls, path: Path = RED_FLAGS_PATH, common_words: Optional[FrozenSet[str]] = None
    ) -> TriageRules:
        return cls(read_spec(path), common_words)

    def category(self, name: str) -> Optional[Category]:
        return next((c for c in self.categories if c.name == name), None)

    def finding(self, name: str) -> Finding:
        """A report of the named category (for the learned reader's findings)."""
        cat = self.category(name)
        return Finding(cat.name, cat.tier, cat.sign, cat.needs_post_op)

    def term_words(self) -> Set[str]:
        every = list(self.post_op_terms)
        for cat in self.categories:
            for rule in cat.rules:
                for group in rule.groups:
                    every += group.terms
        return {part for term in every for part in term.parts}

    def all_parts(self) -> Set[str]:
        lists = [
            self.post_op_terms,
            self.not_post_op_before,
            self.not_post_op_after,
            self.negation_before,
            self.negation_after,
            self.question_markers,
            self.happening_now,
            self.hypothetical,
            self.resolved_by,
            self.feeling_better,
            self.reporting,
            self.other_senses,
            self.other_person,
            self.personal,
            self.family,
            self.own_risk,
            self.hypothetical_before,
            self.conditional_if,
            self.conditional_change,
        ]
        terms = [t for terms in lists for t in terms]
        for category in self.categories:
            for rule in category.rules:
                terms += list(rule.unless) + list(rule.other_senses)
                for group in rule.groups:
                    terms += list(group.terms)
        return {part for term in terms for part in term.parts}


def read_spec(path: Path = RED_FLAGS_PATH) -> dict:
    """content/red_flags.yml, with the other languages' red-flag phrases of
    content/languages.yml under `other_languages` (only what the reading uses)."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    languages = load_languages_spec().get("languages") or {}
    spec["other_languages"] = {
        "languages": {
            code: {k: lang.get(k) for k in READING_KEYS} for code, lang in languages.items()
        }
    }
    return spec


@lru_cache(maxsize=4)
def load_rules(path: str = str(RED_FLAGS_PATH)) -> TriageRules:
    return TriageRules.from_file(Path(path))
