"""Intent names as the human titles the assistant's buttons use (issue 20).

Answer topics and hand-offs: their `title` in content/achilles_content.yml (the
"Did you mean…?" and related-topic buttons); "Call the office" and "Request an
appointment": the buttons' texts (actions/content.py UI_TEXTS); the rest:
console/intent_titles.yml. An intent without a title shows its name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from actions.content import UI_TEXTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTENT_FILE = PROJECT_ROOT / "content" / "achilles_content.yml"
OTHER_TITLES_FILE = Path(__file__).resolve().parent / "intent_titles.yml"
BUTTON_INTENTS = {"request_human": "call_office", "request_appointment": "request_appointment"}


@cache
def titles() -> Dict[str, str]:
    found: Dict[str, str] = {}
    other = yaml.safe_load(OTHER_TITLES_FILE.read_text(encoding="utf-8")) or {}
    found.update({str(k): str(v) for k, v in other.items()})
    content = yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")) or {}
    for section in ("topics", "not_covered"):
        for entry in (content.get(section) or {}).values():
            if isinstance(entry, dict) and entry.get("intent") and entry.get("title"):
                found[entry["intent"]] = entry["title"]
    for intent, key in BUTTON_INTENTS.items():
        found[intent] = UI_TEXTS[key]
    return found


def title(intent: str) -> str:
    return titles().get(intent or "", intent or "?")


def choices(intents: List[str]) -> List[Tuple[str, str]]:
    """(intent, title) sorted by title, for the correction drop-down."""
    return sorted(((i, title(i)) for i in intents), key=lambda pair: pair[1].lower())
