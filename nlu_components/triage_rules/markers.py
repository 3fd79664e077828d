"""Clause markers: negated, hypothetical or past, asked about, happening now; fever numbers."""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Set, Tuple

from nlu_components.triage_rules.matching import Occurrence, find_term
from nlu_components.triage_rules.spec import Category, Term
from nlu_components.triage_rules.text import _NUMBER, Sentence

NEGATION_WINDOW = 3
# "no X or Y": a negation reaches further along a list joined by these
LIST_NEGATION_WINDOW = 10
_LIST_JOINERS = frozenset({"or", "nor", "ni", "o"})
HYPOTHETICAL_WINDOW = 2  # "he will fall", "could be a clot"
# "a guy in my PT group", "my neighbor told me": the patient's own words just
# after another person's are about that person
OTHER_PERSON_TAIL = 3
_CLAUSE_OPENERS = frozenset({"and", "but", "so", "y", "pero"})
# in that tail, "me" ("my neighbor told me") and "in my PT group" are about the other
# person; "my friend says my calf looks swollen" is the patient's own calf
_OBJECT_PRONOUNS = frozenset({"me", "mi"})
_PREPOSITIONS = frozenset({"in", "of", "at", "from", "with", "to", "en", "de", "con"})

# the patient speaking of themselves (a family member writing for them says "my husband's calf")
_FIRST_PERSON = frozenset({"i", "im", "ive", "id", "me", "my", "mine", "myself", "yo", "mi", "mis"})
# readings from here up to the fever threshold are measured and normal
_NORMAL_F_FROM, _NORMAL_C_FROM = 96.0, 35.5
_YEAR = re.compile(r"^(19[5-9]\d|20[0-4]\d)$")
_TEMPERATURE_WORDS = frozenset(
    {
        "temp",
        "temperature",
        "thermometer",
        "degrees",
        "deg",
        "f",
        "c",
        "fever",
        "temperatura",
        "grados",
        "fiebre",
        "calentura",
    }
)


class ClauseMarkers:
    """Part of TriageRules (rules.py): where the marker terms it compiled occur in
    a sentence, and what they say about each clause.

    Uses what TriageRules.__init__ sets up: `matcher` and `marker_matcher`, the
    marker term lists (`negation_before`, `happening_now`, `question_markers`...).
    """

    def _occurrences(
        self, sentence: Sentence, terms: Sequence[Term], exact: bool = False
    ) -> List[Occurrence]:
        parts_at, first = sentence.index(self.marker_matcher if exact else self.matcher)
        found = []
        for term in terms:
            for start, end in find_term(parts_at, first, term):
                # a term is read inside one clause: "...comes roaring back, surgery was
                # friday" holds no "back surgery"
                if sentence.clause_of[start] == sentence.clause_of[end - 1]:
                    found.append(Occurrence(start, end, sentence.clause_of[start]))
        return found

    def _negated(
        self,
        sentence: Sentence,
        occ: Occurrence,
        negations_before: List[Occurrence],
        negations_after: List[Occurrence],
        modals: Sequence[Occurrence] = (),
    ) -> bool:
        """Negated ("no fever"), or only possible ("he will fall", "could be a clot")."""
        for neg in negations_before:
            if neg.clause != occ.clause or neg.end > occ.start:
                continue
            if occ.start - neg.end < NEGATION_WINDOW:
                return True
            # a negated list: "no chest pain or shortness of breath or anything"
            between = sentence.tokens[neg.end : occ.start]
            if occ.start - neg.end < LIST_NEGATION_WINDOW and any(
                t in _LIST_JOINERS for t in between
            ):
                return True
        for modal in modals:
            if (
                modal.clause == occ.clause
                and modal.end <= occ.start
                and occ.start - modal.end < HYPOTHETICAL_WINDOW
            ):
                return True
        for neg in negations_after:
            if (
                neg.clause == occ.clause
                and neg.start >= occ.end
                and neg.start - occ.end < NEGATION_WINDOW
            ):
                return True
        return False

    def _now(self, sentence: Sentence) -> Set[int]:
        return {o.clause for o in self._occurrences(sentence, self.happening_now, exact=True)}

    def _question_clauses(self, sentence: Sentence) -> Set[int]:
        """Clauses that ask about signs, or are hypothetical or past, not reports."""

        def clauses(terms: Sequence[Term]) -> Set[int]:
            return {o.clause for o in self._occurrences(sentence, terms, exact=True)}

        now = clauses(self.happening_now)
        past_years = {
            sentence.clause_of[i] for i, t in enumerate(sentence.tokens) if _YEAR.match(t)
        }
        changes = clauses(self.conditional_change)
        conditional = clauses(self.conditional_if) & changes
        # a clause that opens with "if", in a question or with a would/could in the
        # sentence: "If I slipped on the crutches, would that ruin the repair?"
        opening_if = self._clauses_opening_with_if(sentence)
        opening = opening_if - now if opening_if and (sentence.asks or changes) else set()
        conditional |= opening
        reporting = clauses(self.reporting)
        hypothetical = (clauses(self.hypothetical) | past_years | conditional) - reporting
        asked = clauses(self.question_markers)
        if (
            asked and sentence.asks
        ):  # "is her risk higher, like infection or the wound not closing?"
            asked = set(sentence.clause_of)
        # "if my incision started leaking": a condition, even with a "now" word in it;
        # "if I got a fever...": opened by "if", even with a "reporting" phrase in it
        return ((asked | hypothetical) - now) | (conditional - reporting) | opening

    def _clauses_opening_with_if(self, sentence: Sentence) -> Set[int]:
        """Clauses whose first word (after and/but/so) is a conditional "if" word."""
        found = set()
        for occ in self._occurrences(sentence, self.conditional_if, exact=True):
            opening = [i for i, t in sentence.clause_tokens(occ.clause) if t not in _CLAUSE_OPENERS]
            if opening and opening[0] == occ.start:
                found.add(occ.clause)
        return found

    def _other_people_clauses(
        self, sentence: Sentence, people: Optional[Sequence[Term]] = None
    ) -> Set[int]:
        """Clauses about someone who is not the patient, told with nothing happening now.

        "my uncle got a clot after his hip surgery" is a story; "my friend says my
        calf looks swollen" is not (the patient is in it), nor is anything said
        with a "happening now" word. `people` defaults to `other_person`.
        """
        if self._now(sentence):
            return set()
        found = set()
        for occ in self._occurrences(sentence, people or self.other_person, exact=True):
            words = sentence.clause_tokens(occ.clause)
            # the tail ends at "and"/"but": "tripped over the dog and my ankle gave way"
            tail_end = occ.end + OTHER_PERSON_TAIL
            for i, t in words:
                if occ.end <= i < tail_end and t in _CLAUSE_OPENERS:
                    tail_end = i
            tokens = sentence.tokens
            own = [
                i
                for i, t in words
                if t in _FIRST_PERSON
                and not (t in ("my", "mi") and i == occ.start - 1)
                and not (
                    occ.end <= i < tail_end
                    and (t in _OBJECT_PRONOUNS or (i > 0 and tokens[i - 1] in _PREPOSITIONS))
                )
            ]
            if not own:
                found.add(occ.clause)
        return found

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
            starts = self.question_start if sentence.asks else self.question_start_without_mark
            asks = words[0] in starts or (sentence.asks and len(clause_ids) == 1)
            if asks and clause not in personal:
                found.add(clause)
        return found

    def _temperatures(
        self, sentence: Sentence, category: Category
    ) -> Tuple[List[Occurrence], List[Occurrence]]:
        """Temperature readings in the sentence: (at or above the threshold, below it).

        A reading below the threshold ("a fever of 100", "99.8") says the patient
        measured and has no fever by the office's definition.
        """
        if category.fever_f is None:
            return [], []
        high, low = [], []
        fever_c = category.fever_c
        has_temp_word = any(t in _TEMPERATURE_WORDS for t in sentence.tokens)
        for i, tok in enumerate(sentence.tokens):
            if not _NUMBER.match(tok):
                continue
            value = float(tok.replace(",", "."))
            unit = sentence.tokens[i + 1] if i + 1 < len(sentence.tokens) else ""
            # a decimal or a temperature word says it is a reading, in either scale
            reading = "." in tok or "," in tok or has_temp_word
            marked_f = reading or unit in ("f", "degrees")
            marked_c = reading or unit in ("c", "grados", "degrees")
            occurrence = Occurrence(i, i + 1, sentence.clause_of[i])
            if (category.fever_f <= value <= 110 and marked_f) or (
                fever_c is not None and fever_c <= value <= 43 and marked_c
            ):
                high.append(occurrence)
            elif (_NORMAL_F_FROM <= value < category.fever_f and marked_f) or (
                fever_c is not None and _NORMAL_C_FROM <= value < fever_c and marked_c
            ):
                low.append(occurrence)
        return high, low
