"""How a message is cut up for reading: normalised text, tokens, sentences and clauses."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Protocol, Tuple


class WordMatcher(Protocol):
    """What `Sentence.index` needs of a matcher (nlu_components/triage_rules/matching.py
    implements it; this module does not import it, so the two form no cycle)."""

    def parts_for(self, token: str) -> FrozenSet[str]: ...


_CONTRACTION_FOLDS = [
    (re.compile(r"\b(cannot|can not|couldnt|could not|unable to)\b"), "cant"),
    (re.compile(r"\bi ve\b"), "ive"),
]
_SENTENCE_SPLIT = re.compile(r"((?<!\d)[.!?;]+|[.!?;]+(?!\d)|\n+)")
_CLAUSE_SPLIT_WORDS = frozenset(
    {"but", "although", "though", "however", "except", "pero", "aunque", "sino"}
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|,")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


def normalise(text: str) -> str:
    """Lower-case, strip accents and apostrophes, fold contractions."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"(\w)['’]ll\b", r"\1 will", text)  # he'll fall -> he will fall
    text = re.sub(r"['’`´]", "", text)
    text = re.sub(r"[-/_]", " ", text)
    for pattern, replacement in _CONTRACTION_FOLDS:
        text = pattern.sub(replacement, text)
    return text


def tokens_of(text: str) -> List[str]:
    return _TOKEN.findall(normalise(text))


@dataclass
class Sentence:
    tokens: List[str]
    clause_of: List[int]  # clause id per token
    asks: bool = False  # ended with a question mark

    @classmethod
    def split(cls, text: str) -> List[Sentence]:
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

    def index(self, matcher: WordMatcher):
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
