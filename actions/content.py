"""The practice's reviewed content, loaded once.

- content/achilles_content.yml: answers from the page (`topics`), honest
  hand-offs for what the page does not cover (`not_covered`), the contact text;
- content/red_flags.yml: the reviewed safety wording (warning-signs answer,
  the short safety line, the line for a sign that needs post-op context).

Adding or changing an answer means editing those YAML files; this module only
reads them, fills in the configured phone and form URL, and answers lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import yaml

from actions.config import Settings, load_settings

SMS_MAX_CHARS = 320


@dataclass(frozen=True)
class Topic:
    """A question the page answers."""

    key: str
    intent: Optional[str]
    title: str
    answer: str
    short: str
    sources: Tuple[str, ...]
    related: Tuple[str, ...]
    safety_line: bool = False


@dataclass(frozen=True)
class Uncovered:
    """A question the page does not answer: named, handed off, closest answer offered."""

    key: str
    intent: str
    title: str
    topic: str
    lead: str
    closest: Optional[str]


@dataclass(frozen=True)
class SafetyTexts:
    warning_signs: str
    safety_line: str
    pending_line: str
    signs: Dict[str, str]  # red-flag category -> how the sign is named
    # red-flag category -> the line for a sign the learned reader is unsure of
    unsure_lines: Dict[str, str]


Answer = Union[Topic, Uncovered]


class Content:
    def __init__(
        self,
        topics: Dict[str, Topic],
        contact: Topic,
        uncovered: Dict[str, Uncovered],
        not_covered_reply: str,
        not_covered_closest: str,
        safety: SafetyTexts,
    ) -> None:
        self.topics = topics
        self.contact = contact
        self.uncovered = uncovered
        self.not_covered_reply = not_covered_reply
        self.not_covered_closest = not_covered_closest
        self.safety = safety
        self._by_intent: Dict[str, Answer] = {t.intent: t for t in topics.values()}
        self._by_intent.update({u.intent: u for u in uncovered.values()})

    @classmethod
    def from_files(cls, path: Path, red_flags_path: Path, settings: Settings) -> Content:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        flags = yaml.safe_load(red_flags_path.read_text(encoding="utf-8"))

        def render(text: str) -> str:
            """Fills the configured phone and form address; other {fields} stay."""
            return (
                text.strip()
                .replace("{phone}", settings.office_phone)
                .replace("{form_url}", settings.appointment_form_url)
            )

        def topic(key: str, entry: dict) -> Topic:
            return Topic(
                key=key,
                intent=entry.get("intent"),
                title=entry["title"],
                answer=render(entry["answer"]),
                short=render(entry["short"]),
                sources=tuple(entry.get("sources", ())),
                related=tuple(entry.get("related", ())),
                safety_line=bool(entry.get("safety_line")),
            )

        topics = {key: topic(key, entry) for key, entry in raw["topics"].items()}
        uncovered = {
            key: Uncovered(
                key=key,
                intent=entry["intent"],
                title=entry["title"],
                topic=entry["topic"],
                lead=entry.get("lead", ""),
                closest=entry.get("closest"),
            )
            for key, entry in (raw.get("not_covered") or {}).items()
        }
        safety = SafetyTexts(
            warning_signs=render(flags["warning_signs_reply"]),
            safety_line=render(flags["safety_line"]),
            pending_line=render(flags["pending_line"]),
            signs={name: cat["sign"] for name, cat in flags["categories"].items()},
            unsure_lines={
                name: render(flags["unsure_lines"][cat["tier"]]).replace("{sign}", cat["sign"])
                for name, cat in flags["categories"].items()
            },
        )
        return cls(
            topics,
            topic("contact", raw["contact"]),
            uncovered,
            render(raw["not_covered_reply"]),
            raw["not_covered_closest"],
            safety,
        )

    def for_intent(self, intent: Optional[str]) -> Optional[Answer]:
        return self._by_intent.get(intent)

    def topic_for_intent(self, intent: Optional[str]) -> Optional[Topic]:
        found = self._by_intent.get(intent)
        return found if isinstance(found, Topic) else None

    @property
    def topic_intents(self) -> List[str]:
        """Intents answered from the page (quick-reply payloads patients may send)."""
        return [t.intent for t in self.topics.values() if t.intent]

    @property
    def answerable_intents(self) -> List[str]:
        return list(self._by_intent)


@lru_cache(maxsize=1)
def get_content() -> Content:
    settings = load_settings()
    return Content.from_files(settings.content_path, settings.red_flags_path, settings)
