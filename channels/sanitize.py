"""Turns whatever a channel received into safe text for Rasa.

- control characters are removed, whitespace folded, length bounded;
- empty, whitespace-only, emoji-only or binary input becomes the internal
  `/empty_message` intent (a polite "please type a question" reply);
- text in any script is passed on as typed: the NLU pipeline recognises the
  language (nlu_components/language.py) and reads red flags in it, so "can't
  breathe" in Korean gets the 911 reply in Korean;
- a leading "/" is honoured only for the button payloads patients may send
  (topic questions, appointment, call the office, yes/no); anything else,
  e.g. "/restart" or '/emergency{"x": 1}', is passed on as plain words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, FrozenSet

from actions.content import get_content

MAX_MESSAGE_CHARS = 1000
EMPTY_MESSAGE = "/empty_message"
_PAYLOAD = re.compile(r"/([a-z_]+)")
_CONVERSATION_BUTTON_INTENTS = (
    "request_appointment",
    "request_human",
    "affirm",
    "deny",
    "greet",
    "cancel",
)


@lru_cache(maxsize=1)
def button_intents() -> FrozenSet[str]:
    """Intents a patient may send as a "/intent" payload (our quick-reply buttons)."""
    return frozenset(get_content().answerable_intents) | frozenset(_CONVERSATION_BUTTON_INTENTS)


def _strip_controls(text: str) -> str:
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") else ch for ch in text
    )


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut


def sanitize_user_text(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        return EMPTY_MESSAGE
    text = " ".join(_strip_controls(raw).replace("\ufffd", " ").split())
    if text.startswith("/"):
        match = _PAYLOAD.fullmatch(text)
        if match and match.group(1) in button_intents():
            return text
        text = text.lstrip("/ ")
    if not any(ch.isalnum() for ch in text):
        return EMPTY_MESSAGE
    return _truncate(text, MAX_MESSAGE_CHARS)
