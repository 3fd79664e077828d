"""Session start: the configured phone/form URL into slots, and the disclaimer once."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import load_settings


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = load_settings()
        dispatcher.utter_message(response="utter_disclaimer")
        return [
            SessionStarted(),
            SlotSet("office_phone", settings.office_phone),
            SlotSet("appointment_form_url", settings.appointment_form_url),
            ActionExecuted("action_listen"),
        ]
