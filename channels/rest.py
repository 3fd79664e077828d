"""The REST channel (/webhooks/rest/webhook), hardened for the public internet.

Same request and response format as Rasa's RestInput ({"sender", "message"} in,
a JSON list of bot messages out), but:
- malformed requests get a clear 400, never a 500;
- the message is sanitised (channels/sanitize.py);
- clients cannot spoof the input channel or attach arbitrary metadata;
- one sender, or one client address rotating sender ids, flooding the webhook
  gets a polite 429, and when too many turns are in flight a polite 503, both
  with the office phone (channels/rate_limit.py);
- conversation ids of the other channels ("web-..." widget ids, "sms-..." SMS
  ids, and widget ids from before they were signed) are refused: knowing such
  an id must not let a REST client read or continue that conversation;
- if the turn failed or produced no reply (action server down, database
  trouble), the patient still gets a useful answer with the office phone number
  (channels/turn.py).
The request body size is bounded by Sanic (SANIC_REQUEST_MAX_SIZE, set by the
Makefile to channels/settings.py MAX_PUBLIC_BODY_BYTES); larger bodies get 413.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.config import load_settings
from channels.rate_limit import (
    BUSY_RETRY_AFTER_SECONDS,
    BUSY_TEXT,
    RATE_LIMITED_TEXT,
    request_client_address,
    sender_rate_limiter,
    turn_slots,
)
from channels.sanitize import sanitize_user_text
from channels.turn import run_turn, technical_trouble_reply

logger = logging.getLogger(__name__)

SENDER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")
# Conversation ids the other channels mint (channels/socketio_ids.py and
# channels/sms/identities.py CONVERSATION_PREFIX): never accepted here.
OTHER_CHANNEL_PREFIXES = ("web-", "sms-")
# The widget's ids before they were signed: uuid4 hex. Refused when the stored
# conversation with that id came from another channel.
LEGACY_WIDGET_ID = re.compile(r"[0-9a-f]{32}")


def bad_request(reason: Text) -> HTTPResponse:
    return response.json({"error": "bad_request", "reason": reason}, status=400)


def too_many_requests(sender_id: Text) -> HTTPResponse:
    return response.json(
        [
            {
                "recipient_id": sender_id,
                "text": RATE_LIMITED_TEXT.format(phone=load_settings().office_phone),
            }
        ],
        status=429,
    )


def busy(sender_id: Text) -> HTTPResponse:
    return response.json(
        [{"recipient_id": sender_id, "text": BUSY_TEXT.format(phone=load_settings().office_phone)}],
        status=503,
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


async def belongs_to_another_channel(request: Request, sender_id: Text, channel: Text) -> bool:
    """True for another channel's id: by prefix, or (for ids shaped like the
    widget's old unsigned ids) by the channel of the stored conversation."""
    if sender_id.lower().startswith(OTHER_CHANNEL_PREFIXES):
        return True
    if not LEGACY_WIDGET_ID.fullmatch(sender_id):
        return False
    store = getattr(getattr(request.app.ctx, "agent", None), "tracker_store", None)
    if store is None:
        return False
    try:
        tracker = await store.retrieve(sender_id)
    except Exception:  # the turn itself will meet (and report) the same trouble
        logger.exception("Could not look up the channel of a conversation")
        return False
    stored_channel = tracker.get_latest_input_channel() if tracker else None
    return stored_channel not in (None, channel)


async def handle_turn(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    text: Text,
    sender_id: Text,
    input_channel: Text,
) -> List[Dict]:
    """Runs one patient turn; never raises, never answers with silence.

    When the turn fails (e.g. the tracker store cannot be written) the replies
    already produced are kept and the phone number is added, because the
    conversation may not have been recorded for staff.
    """
    collector = CollectingOutputChannel()
    failed = await run_turn(
        on_new_message, UserMessage(text, collector, sender_id, input_channel=input_channel)
    )
    if failed or not collector.messages:
        return collector.messages + [dict(technical_trouble_reply(), recipient_id=sender_id)]
    return collector.messages


class SafeRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint("safe_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:
                return bad_request("The body must be JSON.")
            if not isinstance(body, dict):
                return bad_request(
                    'The body must be a JSON object {"sender": ..., "message": ...}.'
                )
            sender_id = body.get("sender")
            if not isinstance(sender_id, str) or not SENDER_ID.fullmatch(sender_id):
                return bad_request('"sender" must be 1-128 letters, digits or _.:@-')
            if await belongs_to_another_channel(request, sender_id, self.name()):
                return bad_request(
                    '"sender" is a conversation id of another channel '
                    "(website chat or SMS); choose your own id"
                )
            limiter = sender_rate_limiter()
            if not await limiter.allow_ip(request_client_address(request)):
                logger.warning("Rate limit: a client address exceeded RATE_LIMIT_PER_IP")
                return too_many_requests(sender_id)
            if not await limiter.allow(self.name(), sender_id):
                return too_many_requests(sender_id)
            text = sanitize_user_text(body.get("message"))
            with turn_slots().slot() as admitted:
                if not admitted:
                    logger.warning(
                        "Busy: MAX_CONCURRENT_TURNS turns in flight; a REST "
                        "turn was refused with 503"
                    )
                    return busy(sender_id)
                messages = await handle_turn(on_new_message, text, sender_id, self.name())
            return response.json(messages)

        return webhook
