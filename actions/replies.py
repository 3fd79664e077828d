"""Reply shaping shared by every action: buttons, hand-off text, channel and
language variants (the `language` slot: English, or a language with its own
content file, e.g. Spanish)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.content import ANSWER_LANGUAGES, ENGLISH, Answer, Content, Topic, get_content

SMS_CHANNEL = "twilio"  # name of channels.sms.channel.SmsInput
LANGUAGE_SLOT = "language"
# the language the session's disclaimer was last shown in, besides the English
# one of action_session_start
DISCLAIMER_SLOT = "disclaimer_language"
CALL_OFFICE_BUTTON = {"title": "Call the office", "payload": "/request_human"}
APPOINTMENT_BUTTON = {"title": "Request an appointment", "payload": "/request_appointment"}
QUESTION_WORDS = (
    "what",
    "how",
    "when",
    "why",
    "where",
    "who",
    "which",
    "is",
    "are",
    "do",
    "does",
    "can",
    "could",
    "will",
    "would",
    "should",
    "am",
    "did",
)


def language_of(tracker: Tracker) -> str:
    """The language to answer in: the conversation's (the `language` slot, set
    by the NLU from the last message sure enough to tell) when the assistant
    answers in it, else English."""
    language = tracker.get_slot(LANGUAGE_SLOT)
    return language if language in ANSWER_LANGUAGES else ENGLISH


def content_for(tracker: Tracker) -> Content:
    """The reviewed content in the conversation's language."""
    return get_content(language_of(tracker))


def disclaimer_in_language(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> List[Dict[str, Any]]:
    """The session's disclaimer again, once, when the conversation turns to a
    language other than English (it went out in English at the session start,
    before the patient wrote); `utter_disclaimer` has a variant per language."""
    language = language_of(tracker)
    if language == ENGLISH or tracker.get_slot(DISCLAIMER_SLOT) == language:
        return []
    dispatcher.utter_message(response="utter_disclaimer")
    return [SlotSet(DISCLAIMER_SLOT, language)]


def call_office_button(content: Content) -> Dict[str, str]:
    return {"title": content.ui["call_office"], "payload": CALL_OFFICE_BUTTON["payload"]}


def appointment_button(content: Content) -> Dict[str, str]:
    return {"title": content.ui["request_appointment"], "payload": APPOINTMENT_BUTTON["payload"]}


def is_sms(tracker: Tracker) -> bool:
    return tracker.get_latest_input_channel() == SMS_CHANNEL


def cancel_hint(tracker: Tracker) -> str:
    """How to leave the form: a bare CANCEL (CANCELAR) is a carrier opt-out keyword on SMS."""
    if language_of(tracker) == "es":
        return 'responda "cancelar mi solicitud"' if is_sms(tracker) else 'escriba "cancelar"'
    return 'reply "cancel my request"' if is_sms(tracker) else 'type "cancel"'


def topic_button(topic: Answer) -> Dict[str, str]:
    return {"title": topic.title, "payload": f"/{topic.intent}"}


def topic_buttons(content: Content, keys: Iterable[str]) -> List[Dict[str, str]]:
    return [topic_button(content.topics[k]) for k in keys if k in content.topics]


def topic_text(topic: Topic, tracker: Tracker) -> str:
    """The SMS variant on the SMS channel, the full answer elsewhere."""
    return topic.short if is_sms(tracker) else topic.answer


def handoff_text(content: Content, tracker: Tracker, lead: Optional[str] = None) -> str:
    body = topic_text(content.contact, tracker)
    return f"{lead} {body}" if lead else body


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def triage_of(tracker: Tracker) -> Dict[str, Any]:
    """What the NLU triage component said about the latest message (parse data)."""
    return tracker.latest_message.get("triage") or {}


def safety_lines(content: Content, tracker: Tracker, always: bool = False) -> List[str]:
    """The short safety line(s) an answer carries.

    `always` for fallbacks and hand-offs; otherwise when the triage component
    asked for it (an unsure safety guess) or a sign waits for post-op context;
    a sign the learned reader was unsure of gets its own line.
    """
    triage = triage_of(tracker)
    lines = []
    for category in triage.get("pending") or []:
        sign = content.safety.signs.get(category)
        if sign:
            line = content.safety.pending_line.replace("{sign}", sign)
            lines.append(line[0].upper() + line[1:])
    # signs the learned red-flag reader was unsure of: what to do if it is happening now
    for category in triage.get("unsure") or []:
        line = content.safety.unsure_lines.get(category)
        if line and category not in (triage.get("pending") or []):
            lines.append(line)
    if not lines and (always or triage.get("safety_line")):
        lines.append(content.safety.safety_line)
    return lines


def with_lines(text: str, lines: List[str]) -> str:
    return "\n\n".join([text] + lines) if lines else text


def looks_like_question(text: Optional[str]) -> bool:
    words = (text or "").strip().lower().split()
    return bool(words) and ("?" in text or words[0] in QUESTION_WORDS)
