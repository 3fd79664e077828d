"""The tier a message reaches given the messages before it in the conversation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from nlu_components.triage_rules.text import tokens_of

if TYPE_CHECKING:
    from nlu_components.triage_rules.result import TriageResult
    from nlu_components.triage_rules.rules import TriageRules

# A follow-up that points back at the previous message ("they're cold and grey"
# after "my toes look weird") is read together with it.
_BACK_REFERENCES = frozenset(
    {
        "it",
        "its",
        "they",
        "theyre",
        "them",
        "this",
        "that",
        "there",
        "theres",
        "and",
        "also",
        "like",
        "esta",
        "estan",
        "eso",
        "lo",
        "los",
        "la",
        "las",
        "y",
        "tambien",
        "como",
    }
)
BACK_REFERENCE_REACH = 8  # words into the follow-up
# How many earlier user messages a pending sign or a back-reference may reach.
CONVERSATION_WINDOW = 3


@dataclass
class ConversationDecision:
    tier: Optional[str]
    categories: List[str]
    reason: str  # "message", "earlier_context", "later_context" or "follow_up"


def decide_conversation(
    rules: TriageRules,
    earlier: Sequence[str],
    latest: str,
    earlier_post_op: bool = False,
    learned: Optional[Dict[str, List[str]]] = None,
) -> ConversationDecision:
    """The tier the latest message reaches given the conversation before it.

    `earlier` are the previous user messages of the session, oldest first;
    `earlier_post_op` says post-op context was given before them (e.g. a slot);
    `learned` maps a message's text to the categories the learned red-flag
    reader was sure it reports (read as if the rules had found them).
    """

    def read(text: str) -> TriageResult:
        result = rules.read(text)
        categories = (learned or {}).get(text) or []
        extra = [rules.finding(c) for c in categories if rules.category(c) is not None]
        return result.with_reports(extra) if extra else result

    now = read(latest)
    before = [read(text) for text in earlier]
    post_op_before = earlier_post_op or any(r.post_op_context for r in before)
    tier = now.tier(rules.ranks, post_op_known=post_op_before)
    if tier is not None:
        reason = "message" if now.tier(rules.ranks) else "earlier_context"
        return ConversationDecision(tier, now.decisive_categories(post_op_before), reason)
    recent = before[-CONVERSATION_WINDOW:]
    if now.post_op_context:  # context after the sign: "oh, and I had the repair"
        # ...unless the later message explains the sign away ("something snapped" | "on my boot, a buckle clip")
        pending = [
            f
            for r in recent
            for f in r.reports
            if f.needs_post_op and not rules.excluded_for(f.category, latest)
        ]
        if pending:
            best = max(pending, key=lambda f: rules.ranks[f.tier])
            return ConversationDecision(best.tier, [f.category for f in pending], "later_context")
    words = tokens_of(latest)[:BACK_REFERENCE_REACH]
    if earlier and any(w in _BACK_REFERENCES for w in words):
        joined = rules.read(f"{earlier[-1]} {latest}")
        new = [
            f for f in joined.reports if f.category not in {g.category for g in before[-1].reports}
        ]
        post_op = post_op_before or joined.post_op_context
        reached = [f for f in new if post_op or not f.needs_post_op]
        if reached:
            best = max(reached, key=lambda f: rules.ranks[f.tier])
            return ConversationDecision(best.tier, [f.category for f in reached], "follow_up")
    return ConversationDecision(None, [], "")
