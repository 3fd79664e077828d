"""Reads a message the way content/red_flags.yml says, and reports red flags.

Pure Python (no Rasa), so the rules can be tested and tried on their own:

    python -m nlu_components.triage_rules "had surgery last week and my calf is hot"

The clinician edits content/red_flags.yml; its header explains the reading
(sentences and clauses, terms with typo tolerance, negation, questions about
signs, post-op context). This package only implements it:

- rules.py: the file compiled (TriageRules, load_rules), with
  spec.py: what its terms and rules become;
- text.py: normalised text, tokens, sentences and clauses;
- matching.py: terms found in a sentence, with guarded typo tolerance, and
  common_words.py: the common words that guard it;
- markers.py: negation, questions, hypothetical or past, fever numbers, per clause;
- reading.py: one message read (result.py: what it reports and asks about);
- conversation.py: the tier a message reaches given the conversation before it.

The names below are the ones the NLU component, the dialogue policy and the
tests use.
"""

from nlu_components.triage_rules.conversation import (
    CONVERSATION_WINDOW,
    ConversationDecision,
    decide_conversation,
)
from nlu_components.triage_rules.result import Finding, TriageResult
from nlu_components.triage_rules.rules import RED_FLAGS_PATH, TriageRules, load_rules
from nlu_components.triage_rules.text import normalise, tokens_of

__all__ = [
    "CONVERSATION_WINDOW",
    "ConversationDecision",
    "Finding",
    "RED_FLAGS_PATH",
    "TriageResult",
    "TriageRules",
    "decide_conversation",
    "load_rules",
    "normalise",
    "tokens_of",
]
