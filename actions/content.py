"""The practice's reviewed content (content/achilles_content.yml), loaded once.

Adding or changing an answer means editing that YAML file; this module only
reads it, fills in the configured phone and form URL, and answers lookups.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from actions.config import Settings, load_settings

SMS_MAX_CHARS = 320


@dataclass(frozen=True)
class Topic:
    key: str
    intent: Optional[str]
    title: str
    answer: str
    short: str
    sources: Tuple[str, ...]
    related: Tuple[str, ...]


class Content:
    def __init__(self, topics: Dict[str, Topic], contact: Topic) -> None:
        self.topics = topics
        self.contact = contact
        self._by_intent = {t.intent: t for t in topics.values()}

    @classmethod
    def from_file(cls, path: Path, settings: Settings) -> "Content":
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))

        def render(text: str) -> str:
            return text.strip().format(
                phone=settings.office_phone, form_url=settings.appointment_form_url
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
            )

        topics = {key: topic(key, entry) for key, entry in raw["topics"].items()}
        return cls(topics, topic("contact", raw["contact"]))

    def for_intent(self, intent: Optional[str]) -> Optional[Topic]:
        return self._by_intent.get(intent)

    @property
    def topic_intents(self) -> List[str]:
        return list(self._by_intent)


@lru_cache(maxsize=1)
def get_content() -> Content:
    settings = load_settings()
    return Content.from_file(settings.content_path, settings)
