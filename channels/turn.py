"""One patient turn, as every channel runs it, and the answer when it failed.

Every channel (REST, widget, SMS) hands the message to Rasa through `run_turn`
and, when it reports a failure or the turn produced no reply, adds
`technical_trouble_reply()`: the patient always gets the office phone rather
than silence, even if the conversation could not be recorded for staff.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Text

from rasa.core.channels.channel import UserMessage

from actions.config import load_settings
from stores.tracker_store import begin_turn

logger = logging.getLogger(__name__)


def technical_trouble_reply() -> Dict[Text, Any]:
    phone = load_settings().office_phone
    return {
        "text": "Sorry, I'm having technical trouble and can't answer right now. "
        f"Please call the office at {phone}. In an emergency, call 911."
    }


async def run_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
) -> bool:
    """Hands one message to Rasa; True if the turn failed or was not recorded
    (the caller then adds the office phone number)."""
    storage = begin_turn()
    try:
        await on_new_message(message)
    except Exception:  # logged with the stack; the patient still gets an answer
        logger.exception("Turn failed for a %s conversation", message.input_channel)
        return True
    if storage.failed:
        logger.error(
            "The tracker store failed during a %s turn: this turn may not be recorded for staff",
            message.input_channel,
        )
    return storage.failed
