"""The Twilio SMS channel: `SmsInput`, POST /webhooks/twilio/webhook.

The webhook checks the signature, drops Twilio's retries and answers at once;
the turn runs in the background: carrier keywords and opt-outs first, then the
assistant, then the reply as plain SMS parts. The steps and the reasons for
them are in README.md in this folder; the parts are in the sibling modules.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Set, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from actions.config import load_settings
from channels.rate_limit import BUSY_TEXT, sender_rate_limiter, turn_slots
from channels.sanitize import sanitize_user_text
from channels.settings import MAX_PUBLIC_BODY_BYTES, SmsSettings, sms_id_secret
from channels.sms import formatting, keywords
from channels.sms.identities import ConversationIds
from channels.sms.locks import KeyedLocks
from channels.sms.menus import ReplyMenus
from channels.sms.opt_outs import OptOuts, OptOutStore
from channels.sms.seen import SeenMessages
from channels.sms.sender import SendOutcome, TwilioMessageSender
from channels.sms.state import InMemoryStateStore, StateStore, make_state_store
from channels.sms.webhook import FormParams, empty_twiml, parse_form, validation_url
from channels.turn import run_turn, technical_trouble_reply
from stores import phone_vault
from stores.schema import upgrade_to_head

logger = logging.getLogger(__name__)

CHANNEL_NAME = "twilio"  # actions/replies.py SMS_CHANNEL


class SmsCollector(CollectingOutputChannel):
    """Collects one turn's bot messages; named "twilio" so channel-specific
    responses (`channel: twilio` in the domain) are chosen."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# actions whose turn makes the office call the patient back (console "Needs action")
CALLBACK_ACTIONS = {
    "utter_emergency": "911",
    "utter_urgent_problem": "urgent",
    "action_handoff": "person",
    "action_submit_appointment": "appointment",
}


def callback_reason(events: Any) -> Optional[str]:
    """The call-back reason of the latest turn (events after the last user message)."""
    reason = None
    for event in reversed(list(events)):
        name = getattr(event, "type_name", None)
        if name == "user":
            break
        if name == "action" and getattr(event, "action_name", None) in CALLBACK_ACTIONS:
            reason = reason or CALLBACK_ACTIONS[event.action_name]
    return reason


class SmsInput(InputChannel):
    """Twilio Programmable Messaging webhook (README.md here)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> SmsInput:
        return cls(SmsSettings.load(credentials))

    def __init__(
        self,
        settings: SmsSettings,
        *,
        state: Optional[StateStore] = None,
        opt_outs: Optional[OptOutStore] = None,
        seen: Optional[SeenMessages] = None,
        ids: Optional[ConversationIds] = None,
        sender: Optional[TwilioMessageSender] = None,
    ) -> None:
        self.settings = settings
        problems = settings.problems()
        self.enabled = not problems
        self._tasks: Set[asyncio.Task] = set()
        self.locks = KeyedLocks()
        # raw numbers: this process's memory only, never a shared store
        self.numbers = InMemoryStateStore(max_entries=50_000)
        if not self.enabled:
            logger.warning(
                "SMS channel (Twilio) is OFF: %s not set. /webhooks/twilio/webhook "
                "answers 503 until it is configured.",
                ", ".join(problems),
            )
            return
        self.validator = RequestValidator(settings.auth_token)
        self.ids = ids or ConversationIds(sms_id_secret())
        self.state = state or make_state_store(settings)
        self.menus = ReplyMenus(self.state, settings.choices_ttl_seconds)
        self.opt_outs = OptOuts(opt_outs or OptOutStore(load_settings().database_url))
        # MessageSids in the database: a replay after a restart is still a replay
        self.seen = seen or SeenMessages(load_settings().database_url)
        self.sender = sender or TwilioMessageSender(settings)
        logger.info(
            "SMS channel (Twilio) on; signatures checked against %s",
            settings.webhook_url or "the request URL",
        )

    # ---- HTTP

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("twilio_sms_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"status": "not_configured"}, status=503)
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        @webhook.listener("after_server_stop")
        async def close_sender(app: Any, loop: Any) -> None:
            if self.enabled:
                await self.sender.close()

        return webhook

    async def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        if not self.enabled:
            return response.text("SMS channel not configured", status=503)
        body = request.body or b""
        if len(body) > MAX_PUBLIC_BODY_BYTES:
            return response.text("Request too large", status=413)
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        params = (
            parse_form(body)
            if content_type.lower() == "application/x-www-form-urlencoded"
            else FormParams()
        )
        signature = request.headers.get("X-Twilio-Signature") or ""
        url = validation_url(request.url, self.settings.webhook_url)
        if not signature or not self.validator.validate(url, params, signature):
            logger.warning(
                "Rejected an SMS webhook call with a %s X-Twilio-Signature "
                "(checked against %s; behind a proxy, set TWILIO_WEBHOOK_URL "
                "to the URL configured at Twilio)",
                "wrong" if signature else "missing",
                url,
            )
            return response.text("Forbidden", status=403)

        number = params.first("From").strip()
        message_sid = (
            params.first("MessageSid") or params.first("SmsMessageSid") or params.first("SmsSid")
        ).strip()
        if not number or not message_sid:
            return response.text("From and MessageSid are required", status=400)
        try:
            first_time = await self.state.add(
                f"sid:{message_sid}", "1", self.settings.dedup_ttl_seconds
            )
        except Exception:  # de-duplication is best effort; never lose the message
            logger.exception("SMS de-duplication store failed; processing %s anyway", message_sid)
            first_time = True
        if first_time:
            # the database remembers every MessageSid across restarts and replicas
            try:
                first_time = await self.seen.first_time(message_sid)
            except Exception:
                logger.exception("SMS MessageSid table failed; processing %s anyway", message_sid)
        if not first_time:
            logger.info("Twilio retry of %s ignored (already received)", message_sid)
            return empty_twiml()
        self._spawn(
            self._process(on_new_message, number, params.first("Body"), message_sid, request.app)
        )
        return empty_twiml()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- one turn

    async def _process(
        self, on_new_message: OnNewMessage, number: str, body: str, message_sid: str, app: Any
    ) -> None:
        conversation_id = self.ids.for_number(number)
        await self.numbers.set(conversation_id, number, self.settings.number_ttl_seconds)
        async with self.locks.hold(conversation_id):
            try:
                await self._turn(on_new_message, conversation_id, body, message_sid, app)
            except Exception:
                logger.exception(
                    "SMS turn %s failed for conversation %s", message_sid, conversation_id
                )

    async def _turn(
        self,
        on_new_message: OnNewMessage,
        conversation_id: str,
        body: str,
        message_sid: str,
        app: Any,
    ) -> None:
        keyword = keywords.carrier_keyword(body)
        state = await self.opt_outs.state(conversation_id)
        opted_out = state is not False  # unknown (database down) counts as opted out

        if keyword in keywords.OPT_OUT_KEYWORDS:
            await self.opt_outs.record(conversation_id, True, keyword)
            form_cancelled = await self._cancel_open_form(
                on_new_message, conversation_id, message_sid, app
            )
            if state is True:
                logger.info("Repeated opt-out from conversation %s; nothing sent", conversation_id)
                return
            logger.info("Conversation %s opted out (%s)", conversation_id, keyword)
            await self._deliver(
                conversation_id,
                keywords.opt_out_text(form_cancelled, keywords.keyword_language(keyword)),
            )
            return
        if keyword in keywords.HELP_KEYWORDS:
            await self._deliver(
                conversation_id, keywords.help_text(keywords.keyword_language(keyword))
            )
            return
        if keyword in ("START", "UNSTOP") or (keyword == "YES" and opted_out):
            await self.opt_outs.record(conversation_id, False, keyword)
            logger.info("Conversation %s opted in (%s)", conversation_id, keyword)
            await self._deliver(conversation_id, keywords.opt_in_text())
            return
        if opted_out:
            logger.info(
                "Message %s from opted-out conversation %s not processed",
                message_sid,
                conversation_id,
            )
            return

        if not await sender_rate_limiter().allow(self.name(), conversation_id):
            # every SMS reply costs money: a flooding number gets no answer
            logger.warning(
                "Rate limit: message %s from conversation %s dropped", message_sid, conversation_id
            )
            return
        text = sanitize_user_text(await self.menus.map_choice(conversation_id, body))
        collector = SmsCollector()
        with turn_slots().slot() as admitted:
            if admitted:
                failed = await run_turn(
                    on_new_message,
                    UserMessage(
                        text,
                        collector,
                        conversation_id,
                        input_channel=self.name(),
                        message_id=message_sid,
                    ),
                )
        if not admitted:  # too many turns in flight: a polite text, not a long wait
            logger.warning(
                "Busy: MAX_CONCURRENT_TURNS turns in flight; message %s from "
                "conversation %s answered with the busy text",
                message_sid,
                conversation_id,
            )
            await self._deliver(
                conversation_id, BUSY_TEXT.format(phone=load_settings().office_phone)
            )
            return
        await self._keep_number_if_needed(conversation_id, app)
        messages = collector.messages
        if failed or not messages:  # maybe not recorded for staff: give the phone number
            messages = messages + [technical_trouble_reply()]
        reply, choices = formatting.render_turn(messages)
        await self.menus.remember(conversation_id, choices)
        await self._deliver(conversation_id, reply)

    async def _keep_number_if_needed(self, conversation_id: str, app: Any) -> None:
        """A turn that escalated, asked for a person or sent an appointment request
        keeps the patient's number, encrypted, for the office's call-back
        (stores/phone_vault.py); other conversations stay a keyed hash only."""
        store = getattr(getattr(getattr(app, "ctx", None), "agent", None), "tracker_store", None)
        number = await self.numbers.get(conversation_id)
        if store is None or number is None:
            return
        try:
            tracker = await store.retrieve(conversation_id)
            reason = callback_reason(tracker.events if tracker is not None else [])
            if reason:
                await asyncio.to_thread(
                    phone_vault.keep,
                    upgrade_to_head(load_settings().database_url),
                    conversation_id,
                    number,
                    reason,
                )
        except Exception:
            logger.exception("Could not keep the call-back number of %s", conversation_id)

    async def _cancel_open_form(
        self, on_new_message: OnNewMessage, conversation_id: str, message_sid: str, app: Any
    ) -> bool:
        """An opt-out in the middle of the appointment form also cancels the form
        (its reply is not sent: the opt-out confirmation says so)."""
        store = getattr(getattr(getattr(app, "ctx", None), "agent", None), "tracker_store", None)
        if store is None:
            return False
        try:
            tracker = await store.retrieve(conversation_id)
            if tracker is None or not tracker.active_loop_name:
                return False
            await on_new_message(
                UserMessage(
                    "/cancel",
                    SmsCollector(),
                    conversation_id,
                    input_channel=self.name(),
                    message_id=message_sid,
                )
            )
            return True
        except Exception:
            logger.exception("Could not cancel the open form of conversation %s", conversation_id)
            return False

    async def _deliver(self, conversation_id: str, text: str) -> None:
        """Send the text in parts, in order; stop at the first part that fails."""
        parts = formatting.split_sms(text, self.settings.max_part_chars)
        number = await self.numbers.get(conversation_id)
        if number is None:
            logger.error("No number in memory for conversation %s; reply not sent", conversation_id)
            return
        for index, part in enumerate(parts, start=1):
            result = await self.sender.send(number, part, conversation_id)
            if result.outcome is SendOutcome.SENT:
                continue
            if result.outcome is SendOutcome.UNSUBSCRIBED:
                logger.info(
                    "Twilio says conversation %s has opted out (%s); reply not sent",
                    conversation_id,
                    result.detail,
                )
                if await self.opt_outs.state(conversation_id) is not True:
                    await self.opt_outs.record(conversation_id, True, "twilio")
                return
            logger.error(
                "SMS reply to conversation %s NOT delivered: part %d of %d failed "
                "(%s); the conversation is recorded",
                conversation_id,
                index,
                len(parts),
                result.detail,
            )
            return
