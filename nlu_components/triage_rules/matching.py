"""Which terms a sentence contains: typed words against term parts, with guarded typo tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Sequence, Tuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

from nlu_components.triage_rules.spec import Term
from nlu_components.triage_rules.text import _NUMBER

FUZZY_MIN_LEN = 5  # one letter off from 5 letters on
FUZZY_TWO_EDITS_LEN = 9  # two letters off from 9 letters on
FUZZY_STEM_MIN_LEN = 6  # a stem ("swell*") tolerates a typo from 6 letters on


class WordMatcher:
    """Which term parts a typed token matches, with guarded typo tolerance.

    All parts are known up front, so each token is looked up once (and cached):
    exact words from a set, stems by prefix, typos (only for tokens that are not
    common words) with rapidfuzz against the words long enough to allow one.
    """

    def __init__(
        self, common_words: FrozenSet[str], parts: Iterable[str], fuzzy: bool = True
    ) -> None:
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
            for _, _, index in process.extract(
                token, self.typo_words, scorer=OSA.distance, score_cutoff=2, limit=None
            ):
                word = self.typo_words[index]
                allowed = 2 if len(word) >= FUZZY_TWO_EDITS_LEN else 1
                if (
                    abs(len(token) - len(word)) <= allowed
                    and OSA.distance(token, word, score_cutoff=allowed) <= allowed
                ):
                    found.add(word)
            found.update(
                stem + "*"
                for stem in self.typo_stems
                if OSA.distance(token[: len(stem)], stem, score_cutoff=1) <= 1
            )
        return frozenset(found)

    def _may_be_typo(self, token: str) -> bool:
        return (
            len(token) >= FUZZY_MIN_LEN - 1 and token.isalpha() and token not in self.common_words
        )


@dataclass(frozen=True)
class Occurrence:
    start: int  # token index within the sentence
    end: int  # exclusive
    clause: int


def find_term(
    parts_at: Sequence[FrozenSet[str]], first: Dict[str, List[int]], term: Term
) -> List[Tuple[int, int]]:
    """Where `term` occurs, given each token's matching parts and an index of them."""
    n = len(term.parts)
    return [
        (i, i + n)
        for i in first.get(term.parts[0], ())
        if i + n <= len(parts_at) and all(term.parts[k] in parts_at[i + k] for k in range(1, n))
    ]
