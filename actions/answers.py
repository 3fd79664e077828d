"""Answering patients' questions from the content files, and the honest fallbacks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import replies
from actions.content import Answer, Content, Topic, Uncovered

WARNING_SIGNS_INTENT = "ask_warning_signs"
FALLBACK = "nlu_fallback"
# Candidates offered under "Did you mean ...?"
MAX_SUGGESTIONS = 3
# Below this confidence an answer opens with "Here is what our page says about
# ..." and offers the runner-up; chosen on eval/dev_realistic.yml (README, NLU).
CONFIDENT_ANSWER = 0.7
MAX_BUTTONS = 5

Buttons = List[Dict[str, str]]


def compose_answer(
    content: Content, tracker: Tracker, intent: Optional[Text]
) -> Optional[Tuple[str, Buttons]]:
    """Text and buttons answering `intent`, or None when there is no answer for it."""
    found = content.for_intent(intent)
    if intent == WARNING_SIGNS_INTENT:
        return content.safety.warning_signs, [
            replies.call_office_button(content),
            replies.appointment_button(content),
        ]
    if isinstance(found, Topic):
        return _topic_answer(content, tracker, found)
    if isinstance(found, Uncovered):
        return _uncovered_answer(content, tracker, found)
    return None


def _topic_answer(content: Content, tracker: Tracker, topic: Topic) -> Tuple[str, Buttons]:
    text = replies.topic_text(topic, tracker)
    unsure = replies.latest_confidence(tracker) < CONFIDENT_ANSWER
    if unsure:
        # a guess: say which topic it is, and leave the office's door open in the text
        # (an SMS or screen-reader patient may never see the buttons)
        prefix = content.ui["unsure_prefix"].replace("{title}", topic.title.lower())
        contact = replies.handoff_text(content, tracker, content.ui["clarify_contact_lead"])
        text = f"{prefix}\n\n{text}\n\n{contact}"
    text = replies.with_lines(
        text, replies.safety_lines(content, tracker, always=topic.safety_line)
    )
    buttons = _also_asked(content, tracker, topic.intent, unsure)
    buttons += replies.topic_buttons(content, topic.related)
    return text, _limit(buttons + _office_buttons(content))


def _uncovered_answer(content: Content, tracker: Tracker, entry: Uncovered) -> Tuple[str, Buttons]:
    handoff = content.not_covered_reply.replace("{topic}", entry.topic)
    parts = [entry.lead, handoff] if entry.lead else [handoff]
    buttons: Buttons = []
    closest = content.topics.get(entry.closest) if entry.closest else None
    if closest is not None:
        parts.append(
            content.not_covered_closest.replace("{title}", closest.title.lower())
            + "\n"
            + closest.short
        )
        buttons.append(replies.topic_button(closest))
    text = replies.with_lines("\n\n".join(parts), replies.safety_lines(content, tracker))
    buttons = _also_asked(content, tracker, entry.intent, False) + buttons
    return text, _limit(buttons + _office_buttons(content))


def _office_buttons(content: Content) -> Buttons:
    return [replies.appointment_button(content), replies.call_office_button(content)]


def _also_asked(
    content: Content, tracker: Tracker, answered: Optional[Text], unsure: bool
) -> Buttons:
    """The second question of a long message, and the runner-up when unsure."""
    wanted = [tracker.latest_message.get("secondary_intent")]
    if unsure:
        ranking = tracker.latest_message.get("intent_ranking") or []
        wanted += [r.get("name") for r in ranking[1:3]]
    buttons, seen = [], {answered}
    for intent in wanted:
        found = content.for_intent(intent)
        if found is not None and intent not in seen:
            buttons.append(replies.topic_button(found))
            seen.add(intent)
    return buttons[:2]


def _limit(buttons: Buttons) -> Buttons:
    unique, seen = [], set()
    for button in buttons:
        if button["payload"] not in seen:
            unique.append(button)
            seen.add(button["payload"])
    return unique[:MAX_BUTTONS]


class ActionAnswerTopic(Action):
    """Answers the predicted intent from the reviewed content, or hands off honestly."""

    def name(self) -> Text:
        return "action_answer_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        content = replies.content_for(tracker)
        events = replies.disclaimer_in_language(dispatcher, tracker)
        answer = compose_answer(content, tracker, replies.latest_intent(tracker))
        if answer is None:  # an intent without content: never invent, hand off
            dispatcher.utter_message(
                text=replies.with_lines(
                    replies.handoff_text(content, tracker, content.ui["no_information"]),
                    replies.safety_lines(content, tracker, always=True),
                )
            )
            return events
        text, buttons = answer
        dispatcher.utter_message(text=text, buttons=buttons)
        return events


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


# "Did you mean ...?" only for a real tie: the runner-up has at least this share
# of the leader's confidence (and some support of its own); otherwise an unsure
# message gets a hand-off, named when an uncovered theme is among the candidates
TIE_RATIO = 0.6
TIE_MIN_CONFIDENCE = 0.1
UNCOVERED_MIN_CONFIDENCE = 0.1


def ranked_candidates(content: Content, tracker: Tracker) -> List[Tuple[Answer, float]]:
    """The ranking's intents that have an answer or a named hand-off, best first."""
    out = []
    for r in tracker.latest_message.get("intent_ranking") or []:
        found = content.for_intent(r.get("name"))
        if found is not None and all(found is not seen for seen, _ in out):
            out.append((found, float(r.get("confidence") or 0.0)))
    return out


def is_real_tie(tracker: Tracker) -> bool:
    """The two best intents (whatever they are) are close: worth asking which one."""
    ranking = [
        r for r in tracker.latest_message.get("intent_ranking") or [] if r.get("name") != FALLBACK
    ]
    if len(ranking) < 2:
        return False
    first, second = (float(r.get("confidence") or 0.0) for r in ranking[:2])
    return second >= TIE_MIN_CONFIDENCE and second >= TIE_RATIO * first


def clarify_reply(content: Content, tracker: Tracker) -> Tuple[str, Buttons]:
    """First miss. A real tie between topics: "Did you mean ...?" with the office's
    phone and form in the text; a question no topic fits: the named hand-off of
    the closest uncovered theme, else the general hand-off, with the candidates
    as buttons. Every variant names the phone and the online form in its text."""
    ranked = ranked_candidates(content, tracker)
    candidates = [answer for answer, _ in ranked][:MAX_SUGGESTIONS]
    safety = replies.safety_lines(content, tracker, always=True)
    topics = [a for a in candidates if a.intent]
    if is_real_tie(tracker) and len(topics) >= 2:
        text = "\n\n".join(
            [
                content.ui["clarify_lead"],
                replies.handoff_text(content, tracker, content.ui["clarify_contact_lead"]),
            ]
        )
        buttons = [replies.topic_button(t) for t in topics]
        buttons.append({"title": content.ui["none_of_these"], "payload": "/request_human"})
        return replies.with_lines(text, safety), buttons
    uncovered = next(
        (
            answer
            for answer, confidence in ranked[:MAX_SUGGESTIONS]
            if isinstance(answer, Uncovered) and confidence >= UNCOVERED_MIN_CONFIDENCE
        ),
        None,
    )
    if uncovered is not None:
        text, buttons = _uncovered_answer(content, tracker, uncovered)
        text = replies.with_lines(text, [line for line in safety if line not in text])
        others = [replies.topic_button(a) for a in candidates if a is not uncovered]
        return text, _limit(others[:2] + buttons)
    text = replies.with_lines(
        replies.handoff_text(content, tracker, content.ui["unsure_lead"]), safety
    )
    buttons = [replies.topic_button(a) for a in candidates[:2]]
    return text, _limit(buttons + [replies.appointment_button(content)])


class ActionClarifyOrHandoff(Action):
    """Two-stage fallback: first "Did you mean ...?" (a real tie) or a hand-off,
    on a second miss in a row the general hand-off."""

    def name(self) -> Text:
        return "action_clarify_or_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        content = replies.content_for(tracker)
        events = replies.disclaimer_in_language(dispatcher, tracker)
        safety = replies.safety_lines(content, tracker, always=True)
        if previous_bot_action(tracker) == self.name() or not ranked_candidates(content, tracker):
            dispatcher.utter_message(
                text=replies.with_lines(
                    replies.handoff_text(content, tracker, content.ui["still_not_understood"]),
                    safety,
                ),
                buttons=[replies.appointment_button(content)],
            )
            return events
        text, buttons = clarify_reply(content, tracker)
        dispatcher.utter_message(text=text, buttons=buttons)
        return events


class HandoffAction(Action, ABC):
    """Sends the office's phone and online form, after a short lead sentence.

    Abstract (rasa-sdk skips it when registering actions): subclasses name it.
    """

    lead: Text = ""  # key of the lead sentence in Content.ui (UI_TEXTS)
    offer_appointment: bool = True
    # the disclaimer in the patient's language, once (not when the turn is reverted)
    shows_disclaimer: bool = True

    @abstractmethod
    def name(self) -> Text: ...

    def events(self) -> List[Dict[Text, Any]]:
        return []

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        content = replies.content_for(tracker)
        events = (
            replies.disclaimer_in_language(dispatcher, tracker) if self.shows_disclaimer else []
        )
        dispatcher.utter_message(
            text=replies.with_lines(
                replies.handoff_text(content, tracker, content.ui.get(self.lead, self.lead)),
                replies.safety_lines(content, tracker, always=True),
            ),
            buttons=[replies.appointment_button(content)] if self.offer_appointment else [],
        )
        return events + self.events()


class ActionHandoff(HandoffAction):
    """ "Talk to a person" / "Call the office": phone, online form, in-chat request."""

    lead = "staff_help"

    def name(self) -> Text:
        return "action_handoff"


class ActionOutOfScope(HandoffAction):
    lead = "out_of_scope"

    def name(self) -> Text:
        return "action_out_of_scope"


class ActionDefaultFallback(HandoffAction):
    """Replaces Rasa's default when no policy is confident: hand off, keep going."""

    lead = "lost_track"
    offer_appointment = False
    shows_disclaimer = False

    def name(self) -> Text:
        return "action_default_fallback"

    def events(self) -> List[Dict[Text, Any]]:
        return [UserUtteranceReverted()]
