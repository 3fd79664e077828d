"""What content/red_flags.yml compiles to: terms, and the rules of each category."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from nlu_components.triage_rules.text import tokens_of


@dataclass(frozen=True)
class Term:
    """A word, a stem ("swell*") or a phrase of them, as written in the YAML."""

    source: str
    parts: Tuple[str, ...]  # each part a word or a stem ending in *

    @classmethod
    def parse(cls, source: str) -> Term:
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
    # phrases in which this rule's words mean something else ("open repair" for
    # "open"): they take out only the words they contain, not the sentence
    other_senses: Tuple[Term, ...] = ()


@dataclass(frozen=True)
class Category:
    name: str
    tier: str
    sign: str
    needs_post_op: bool
    rules: Tuple[Rule, ...]
    fever_f: Optional[float] = None
    fever_c: Optional[float] = None
