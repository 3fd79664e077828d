"""Reading one message: which categories it reports, and which it only asks about."""

from __future__ import annotations

from typing import Dict, FrozenSet, List, Optional, Tuple

from nlu_components.triage_rules.markers import NEGATION_WINDOW, ClauseMarkers
from nlu_components.triage_rules.matching import Occurrence
from nlu_components.triage_rules.result import Finding, TriageResult
from nlu_components.triage_rules.spec import Category
from nlu_components.triage_rules.text import Sentence

# Negations that deny a sign at a place ("no swelling in the calf"); a verb's
# ("my pants won't fit over my calf") says nothing about the calf
_PLACE_NEGATIONS = frozenset(
    {"no", "not", "without", "never", "nothing", "zero", "neither", "nor", "sin", "ni", "nada"}
)


class MessageReading(ClauseMarkers):
    """Part of TriageRules (rules.py): the reading of one message, from the
    categories, post-op terms and clause markers TriageRules.__init__ compiled."""

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
        resolved_until = (-1, -1)  # checked and cleared: every sign before it
        better_until = (-1, -1)  # "fine now": the urgent signs before it, not the emergencies
        for number, sentence in enumerate(sentences):
            for occ in self._occurrences(sentence, self.resolved_by, exact=True):
                resolved_until = max(resolved_until, (number, occ.start))
            for occ in self._occurrences(sentence, self.feeling_better, exact=True):
                better_until = max(better_until, (number, occ.start))
        # "my brother got a clot after his surgery, could that happen to me?":
        # asking about one's own risk makes the family's signs a story
        people = self.other_person
        if any(self._occurrences(s, self.own_risk, exact=True) for s in sentences):
            people = self.other_person + self.family
        for number, sentence in enumerate(sentences):
            neg_before = self._occurrences(sentence, self.negation_before, exact=True)
            neg_after = self._occurrences(sentence, self.negation_after, exact=True)
            modals = self._occurrences(sentence, self.hypothetical_before, exact=True)
            # context may be mentioned in a general question ("...normal after surgery?")
            context_questions = self._question_clauses(sentence)
            questions = context_questions | (
                self._generic_questions(sentence) - self._now(sentence)
            )
            senses = self._occurrences(sentence, self.other_senses, exact=True)
            stories = self._other_people_clauses(sentence, people)

            def valid(
                occ: Occurrence,
                location: bool,
                asking: bool = False,
                inside: FrozenSet[int] = frozenset(),
                context: bool = False,
                emergency: bool = False,
                number=number,
                questions=questions,
                sentence=sentence,
                neg_before=neg_before,
                neg_after=neg_after,
                modals=modals,
                senses=senses,
                stories=stories,
            ) -> bool:
                """Counts as reported (or, with asking=True, as asked about).

                `inside`: tokens of the rule's own phrases, whose negation words
                ("pills are not helping") negate nothing else; `context`: a post-op
                word, which a sign checked and cleared later does not undo;
                `emergency`: a sign of the 911 tier, which "fine now" does not clear.
                """
                if inside:
                    neg_before = [n for n in neg_before if n.start not in inside]
                    neg_after = [n for n in neg_after if n.start not in inside]
                if any(_overlaps(occ, s) for s in senses):
                    return False  # "cabin fever", "chest of drawers": another sense of the word
                if not location and occ.clause in stories:
                    return False  # someone else's story: "my uncle got a clot after his surgery"
                if location and any(
                    n.clause == occ.clause
                    and n.end <= occ.start
                    and sentence.tokens[n.start] in _PLACE_NEGATIONS
                    for n in neg_before
                ):
                    return False  # "no swelling in the calf, ... toes warm": not this calf
                if self._negated(sentence, occ, neg_before, neg_after, () if location else modals):
                    return False
                if not location and not context:
                    cleared = resolved_until if emergency else max(resolved_until, better_until)
                    if (number, occ.start) < cleared:
                        return False
                return asking or location or occ.clause not in questions

            before = self._occurrences(sentence, self.not_post_op_before, exact=True)
            after = self._occurrences(sentence, self.not_post_op_after, exact=True)
            for occ in self._occurrences(sentence, self.post_op_terms):
                blocked = any(
                    b.end <= occ.start
                    and occ.start - b.end < NEGATION_WINDOW
                    and b.clause == occ.clause
                    for b in before
                ) or any(
                    a.start >= occ.end
                    and a.start - occ.end < NEGATION_WINDOW
                    and a.clause == occ.clause
                    for a in after
                )
                if not blocked and valid(
                    occ, location=False, context=True, questions=context_questions
                ):
                    result.post_op_context = True

            for category in self.categories:
                if category.name in reported:
                    continue
                status, needs_post_op = self._category_status(sentence, category, valid)
                if status == "report":
                    reported[category.name] = Finding(
                        category.name, category.tier, category.sign, needs_post_op
                    )
                elif status == "asked" and category.name not in asked:
                    asked.append(category.name)
        for language in self.other_languages:
            categories, post_op = language.read(text)
            result.post_op_context = result.post_op_context or post_op
            for name in categories:
                if name not in reported and self.category(name) is not None:
                    reported[name] = self.finding(name)
        result.reports = list(reported.values())
        result.asked_about = [c for c in asked if c not in reported]
        return result

    def is_plain_report(self, text: Optional[str]) -> bool:
        """No marker that makes a report something else: a negation, a question
        about signs, the past or a hypothetical, someone else's story, another
        sense of a word, or a sign checked and cleared.

        The learned reader (nlu_components/red_flag_reader.py) escalates alone
        only on such plain parts; the rules read the markers precisely.
        """
        for sentence in Sentence.split(text or ""):
            markers = (
                self.negation_before,
                self.negation_after,
                self.resolved_by,
                self.feeling_better,
                self.other_senses,
                self.hypothetical_before,
            )
            if any(self._occurrences(sentence, terms, exact=True) for terms in markers):
                return False
            generic = self._generic_questions(sentence) - self._now(sentence)
            if self._question_clauses(sentence) or generic or self._other_people_clauses(sentence):
                return False
        return True

    def excluded_for(self, name: str, text: Optional[str]) -> bool:
        """The text has one of the category's `unless` phrases ("cold pack" for a
        cold foot, a sport for a first pop): the learned reader does not escalate it."""
        category = self.category(name)
        if category is None:
            return True
        terms = [t for rule in category.rules for t in rule.unless]
        return any(self._occurrences(sentence, terms) for sentence in Sentence.split(text or ""))

    def _category_status(
        self, sentence: Sentence, category: Category, valid
    ) -> Tuple[Optional[str], bool]:
        """'report' when a rule matches with valid terms, 'asked' when only inside questions.

        With a report, whether it needs post-op context (the rules that need none
        are tried first, so the stronger reading wins).
        """
        status = None
        rules = sorted(
            category.rules,
            key=lambda r: bool(
                category.needs_post_op if r.needs_post_op is None else r.needs_post_op
            ),
        )
        high, low = self._temperatures(sentence, category)
        if low and not high:
            return None, category.needs_post_op  # measured, and under the threshold
        for rule in rules:
            if rule.unless and self._occurrences(sentence, rule.unless):
                continue
            senses = self._occurrences(sentence, rule.other_senses) if rule.other_senses else []
            found = []
            for index, group in enumerate(rule.groups):
                occs = self._occurrences(sentence, group.terms)
                if index == 0 and category.fever_f is not None:
                    occs += high
                # "s/p open repair, seropurulent drainage": "open" is the surgery, "drainage" still counts
                found.append([o for o in occs if not any(_overlaps(o, other) for other in senses)])
            # "not helping" in "the pills are not helping" negates neither the pills nor the pain
            inside = frozenset(
                i
                for occs in found
                for o in occs
                if o.end - o.start > 1
                for i in range(o.start, o.end)
            )
            emergency = category.tier == "emergency"

            def kept(occs, location, asking=False, inside=inside, emergency=emergency):
                return [o for o in occs if valid(o, location, asking, inside, emergency=emergency)]

            reported = [kept(occs, g.location) for g, occs in zip(rule.groups, found)]
            asked = [kept(occs, g.location, asking=True) for g, occs in zip(rule.groups, found)]
            if all(reported) and _fits_window(reported, rule.within):
                needs = category.needs_post_op if rule.needs_post_op is None else rule.needs_post_op
                return "report", needs
            if all(asked) and _fits_window(asked, rule.within):
                status = "asked"
        return status, category.needs_post_op


def _overlaps(a: Occurrence, b: Occurrence) -> bool:
    return a.start < b.end and b.start < a.end


def _fits_window(groups: List[List[Occurrence]], within: Optional[int]) -> bool:
    if within is None or len(groups) < 2:
        return True
    for anchor in groups[0]:
        if all(any(abs(o.start - anchor.start) <= within for o in g) for g in groups[1:]):
            return True
    return False
