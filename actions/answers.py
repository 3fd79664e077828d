"""Answering patients' questions from the content file, and the honest fallbacks."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions import replies
from actions.content import get_content

DomainDict = Dict[Text, Any]

# Candidates offered under "Did you mean ...?"
MAX_SUGGESTIONS = 3


class ActionAnswerTopic(Action):
    """Answers the topic the predicted intent asks for (content/achilles_content.yml)."""

    def name(self) -> Text:
        return "action_answer_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        content = get_content()
        topic = content.for_intent(replies.latest_intent(tracker))
        if topic is None:  # an intent without content: never invent, hand off
            dispatcher.utter_message(text=replies.handoff_text(
                content, tracker, "I don't have information on that."))
            return []
        buttons = replies.topic_buttons(content, topic.related)
        buttons += [replies.APPOINTMENT_BUTTON, replies.CALL_OFFICE_BUTTON]
        dispatcher.utter_message(text=replies.topic_text(topic, tracker), buttons=buttons)
        return []


def previous_bot_action(tracker: Tracker) -> Optional[Text]:
    """The last action (not action_listen) run before the latest user message."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest_user:
                return None
            seen_latest_user = True
        elif seen_latest_user and event.get("event") == "action":
            if event.get("name") not in ("action_listen", None):
                return event.get("name")
    return None


class ActionClarifyOrHandoff(Action):
    """Two-stage fallback: first "Did you mean ...?", on a second miss hand off."""

    def name(self) -> Text:
        return "action_clarify_or_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        content = get_content()
        candidates = [
            content.for_intent(r.get("name"))
            for r in tracker.latest_message.get("intent_ranking") or []
        ]
        candidates = [t for t in candidates if t is not None][:MAX_SUGGESTIONS]
        if previous_bot_action(tracker) == self.name() or not candidates:
            dispatcher.utter_message(
                text=replies.handoff_text(
                    content, tracker, "Sorry, I still couldn't understand that."),
                buttons=[replies.APPOINTMENT_BUTTON],
            )
            return []
        buttons = [replies.topic_button(t) for t in candidates]
        buttons.append({"title": "None of these", "payload": "/request_human"})
        dispatcher.utter_message(text="Sorry, I'm not sure I understood. Did you mean:",
                                 buttons=buttons)
        return []


class HandoffAction(Action, ABC):
    """Sends the office's phone and online form, after a short lead sentence.

    Abstract (rasa-sdk skips it when registering actions): subclasses name it.
    """

    lead: Text = ""
    offer_appointment: bool = True

    @abstractmethod
    def name(self) -> Text:
        ...

    def events(self) -> List[Dict[Text, Any]]:
        return []

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(
            text=replies.handoff_text(get_content(), tracker, self.lead),
            buttons=[replies.APPOINTMENT_BUTTON] if self.offer_appointment else [],
        )
        return self.events()


class ActionHandoff(HandoffAction):
    """"Talk to a person" / "Call the office": phone, online form, in-chat request."""

    lead = "Our staff will be glad to help."

    def name(self) -> Text:
        return "action_handoff"


class ActionOutOfScope(HandoffAction):
    lead = ("I can only answer questions about Achilles tendon rupture from our "
            "practice's information. For anything else,")

    def name(self) -> Text:
        return "action_out_of_scope"


class ActionDefaultFallback(HandoffAction):
    """Replaces Rasa's default when no policy is confident: hand off, keep going."""

    lead = "Sorry, I lost track of our conversation."
    offer_appointment = False

    def name(self) -> Text:
        return "action_default_fallback"

    def events(self) -> List[Dict[Text, Any]]:
        return [UserUtteranceReverted()]
