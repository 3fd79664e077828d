"""What reading one message finds: reported signs, questions about signs, post-op context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional


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

    def with_reports(self, extra: List[Finding]) -> TriageResult:
        """This result with more reported signs (the learned reader's); one that needs
        no post-op context replaces the rules' finding of its category that waits for it."""
        known = {f.category for f in self.reports if not f.needs_post_op}
        added = [f for f in extra if f.category not in known]
        replaced = {f.category for f in added}
        return TriageResult(
            [f for f in self.reports if f.category not in replaced] + added,
            [c for c in self.asked_about if c not in {f.category for f in added}],
            self.post_op_context,
        )

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
