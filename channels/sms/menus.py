"""Numbered reply menus: SMS has no buttons, so an answer's buttons are sent as
"Reply 1 for Symptoms, 2 for Recovery." (formatting.py) and a later "1" is
mapped back to that button's payload.

The latest menu of each conversation is kept in the state store (state.py,
SMS_CHOICES_TTL_SECONDS), so a "1" reaching another replica works too. When the
store fails, the patient's text goes to the assistant unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from typing import List, Optional

from channels.sms.state import StateStore

logger = logging.getLogger(__name__)

_CHOICE = re.compile(r"#?\s*(\d{1,2})\s*[.)!]?")


def choice_number(body: Optional[str]) -> Optional[int]:
    """1 for "1", " 1. ", "#1"; None for anything else."""
    match = _CHOICE.fullmatch((body or "").strip())
    return int(match.group(1)) if match else None


class ReplyMenus:
    """Each conversation's latest menu: the payloads of its numbered buttons."""

    def __init__(self, state: StateStore, ttl_seconds: float) -> None:
        self.state = state
        self.ttl_seconds = ttl_seconds

    async def map_choice(self, conversation_id: str, body: str) -> str:
        """The payload for a reply like "1", else the text as it came."""
        number = choice_number(body)
        if number is None:
            return body
        try:
            raw = await self.state.get(f"choices:{conversation_id}")
            payloads = json.loads(raw) if raw else []
        except Exception:
            logger.exception("Could not read the reply menu of %s", conversation_id)
            return body
        if 1 <= number <= len(payloads):
            return payloads[number - 1]
        return body

    async def remember(self, conversation_id: str, choices: List[str]) -> None:
        """Keep this turn's menu; a turn without buttons clears the last one."""
        key = f"choices:{conversation_id}"
        try:
            if choices:
                await self.state.set(key, json.dumps(choices), self.ttl_seconds)
            else:
                await self.state.delete(key)
        except Exception:
            logger.exception("Could not store the reply menu of %s", conversation_id)
