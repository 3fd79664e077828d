"""The in-chat appointment request: form validation, consent, submission."""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.answers import compose_answer
from actions.appointment_store import save_request
from actions.config import load_settings
from actions.content import fill

logger = logging.getLogger(__name__)

FORM_SLOTS = ("patient_name", "patient_phone", "preferred_time", "visit_reason", "contact_consent")
NAME_MAX_CHARS = 80
FREE_TEXT_MAX_CHARS = 500
# A topic question typed instead of an answer is answered, then the form re-asks.
QUESTION_MIN_CONFIDENCE = 0.6


def normalise_us_phone(text: Text) -> Optional[Text]:
    """'310.555.0123', '+1 (310) 555-0123' -> '(310) 555-0123'; None if not a US number."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return None
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def clean_text(value: Any) -> Text:
    return " ".join(str(value or "").split())


class ValidateAppointmentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_appointment_form"

    def answered_question_instead(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
        """If the patient asked a topic question instead of answering, answer it."""
        text = tracker.latest_message.get("text")
        if (
            not replies.looks_like_question(text)
            or replies.latest_confidence(tracker) < QUESTION_MIN_CONFIDENCE
        ):
            return False
        content = replies.content_for(tracker)
        answer = compose_answer(content, tracker, replies.latest_intent(tracker))
        if answer is None:
            return False
        dispatcher.utter_message(text=answer[0])
        dispatcher.utter_message(text=content.ui["back_to_form"])
        return True

    def validate_patient_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if self.answered_question_instead(dispatcher, tracker):
            return {"patient_name": None}
        name = clean_text(value)
        if (
            not name
            or len(name) > NAME_MAX_CHARS
            or re.search(r"\d", name)
            or len(name.split()) > 6
        ):
            dispatcher.utter_message(text=replies.content_for(tracker).ui["form_name_invalid"])
            return {"patient_name": None}
        return {"patient_name": name}

    def validate_patient_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if self.answered_question_instead(dispatcher, tracker):
            return {"patient_phone": None}
        phone = normalise_us_phone(clean_text(value))
        if phone is None:
            dispatcher.utter_message(
                text=fill(
                    replies.content_for(tracker).ui["form_phone_invalid"],
                    cancel_hint=replies.cancel_hint(tracker),
                )
            )
            return {"patient_phone": None}
        return {"patient_phone": phone}

    def _free_text(
        self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        if self.answered_question_instead(dispatcher, tracker):
            return {slot: None}
        text = clean_text(value)
        if len(text) < 2:
            dispatcher.utter_message(text=replies.content_for(tracker).ui["form_few_words"])
            return {slot: None}
        return {slot: text[:FREE_TEXT_MAX_CHARS]}

    def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._free_text("preferred_time", value, dispatcher, tracker)

    def validate_visit_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._free_text("visit_reason", value, dispatcher, tracker)


class ActionAskContactConsent(Action):
    """Shows what will be sent and asks for explicit consent to be contacted."""

    def name(self) -> Text:
        return "action_ask_contact_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        slot = tracker.get_slot
        ui = replies.content_for(tracker).ui
        dispatcher.utter_message(
            text=fill(
                ui["form_consent"],
                **{
                    name: slot(name)
                    for name in ("patient_name", "patient_phone", "preferred_time", "visit_reason")
                },
            ),
            buttons=[
                {"title": ui["form_consent_yes"], "payload": "/affirm"},
                {"title": ui["form_consent_no"], "payload": "/deny"},
            ],
            # repeats the form's answers and asks for one: the website widget
            # keeps neither in the browser (channels/socketio.py message_privacy)
            private=True,
            private_reply=True,
        )
        return []


class ActionSubmitAppointment(Action):
    def name(self) -> Text:
        return "action_submit_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        settings = load_settings()
        ui = replies.content_for(tracker).ui
        reset = [SlotSet(s, None) for s in FORM_SLOTS]
        if tracker.get_slot("contact_consent") is not True:
            dispatcher.utter_message(
                text=fill(ui["form_not_sent"], office_phone=settings.office_phone)
            )
            return reset
        try:
            request_id = save_request(
                settings.database_url,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel(),
                patient_name=tracker.get_slot("patient_name"),
                phone=tracker.get_slot("patient_phone"),
                preferred_time=tracker.get_slot("preferred_time"),
                reason=tracker.get_slot("visit_reason"),
                consent=True,
                language=replies.language_of(tracker),
            )
        except Exception:  # the patient must not lose the request silently
            logger.exception("Could not store the appointment request")
            dispatcher.utter_message(
                text=fill(ui["form_failed"], office_phone=settings.office_phone)
            )
            return reset
        logger.info("Stored appointment request %s", request_id)
        first_name = tracker.get_slot("patient_name").split()[0]
        dispatcher.utter_message(
            text=fill(
                ui["form_sent"],
                first_name=first_name,
                patient_phone=tracker.get_slot("patient_phone"),
                office_phone=settings.office_phone,
            ),
            private=True,
        )  # name and phone: not kept in the browser
        return reset


def leave_form() -> List[Dict[Text, Any]]:
    """Events that end the form and forget every answer (issue #10: a name or phone
    left in the slots would be repeated back when the form starts again, and would
    stay in the conversation; stores/tracker_store.py deletes the kept answers when
    the slots are reset)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None)] + [
        SlotSet(slot, None) for slot in FORM_SLOTS
    ]


class ActionCancelAppointment(Action):
    """The patient cancels the form: nothing is sent, every answer is forgotten."""

    def name(self) -> Text:
        return "action_cancel_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_appointment_cancelled")
        return leave_form()


class ActionPauseAppointment(Action):
    """After a safety escalation inside the form: stop asking and forget the answers.

    The escalating message may have been taken as the answer to the question being
    asked (from_text), and a patient sent to 911 or the office may not come back:
    the name and phone given so far are not kept (issue #10). "Request an
    appointment" starts the form again.
    """

    def name(self) -> Text:
        return "action_pause_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_appointment_paused")
        return leave_form()
