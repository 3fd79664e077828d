"""The practice's reviewed content, loaded once.

- content/achilles_content.yml: answers from the page (`topics`), honest
  hand-offs for what the page does not cover (`not_covered`), the contact text;
- content/red_flags.yml: the reviewed safety wording (warning-signs answer,
  the short safety line, the line for a sign that needs post-op context);
- content/achilles_content.<language>.yml (e.g. `.es.yml`): a translation of
  all the patient-facing text above and of the replies' own phrases
  (`UI_TEXTS`), sentence for sentence; each translated text lists the English
  sentences it renders (`<field>_renders`), and tests/test_content_es.py keeps
  the two in step. Topics, intents, sources and related buttons stay those of
  the English file.

Adding or changing an answer means editing those YAML files; this module only
reads them, fills in the configured phone and form URL, and answers lookups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import yaml

from actions.config import Settings, load_settings

SMS_MAX_CHARS = 320
ENGLISH = "en"
# Languages the assistant answers in: English, and those with a translation
# file beside the English content (README "How to add a language").
ANSWER_LANGUAGES = ("en", "es")

# The replies' own phrases (buttons, leads of hand-offs and fallbacks), in
# English; translations live under `ui` in each language's content file.
UI_TEXTS: Dict[str, str] = {
    "call_office": "Call the office",
    "request_appointment": "Request an appointment",
    "none_of_these": "None of these",
    "unsure_prefix": "Here is what our page says about {title}:",
    "no_information": "I don't have information on that.",
    "did_you_mean": "Sorry, I'm not sure I understood. Did you mean:",
    # the unsure replies (actions/answers.py clarify_reply)
    "clarify_lead": "Sorry, I'm not sure I understood. Did you mean one of the topics below?",
    "clarify_contact_lead": "If it's something else, our staff will be glad to help.",
    "unsure_lead": "Sorry, I'm not sure I understood your question, so I won't guess.",
    "still_not_understood": "Sorry, I still couldn't understand that.",
    "staff_help": "Our staff will be glad to help.",
    "out_of_scope": (
        "I can only answer questions about Achilles tendon rupture from our practice's information."
    ),
    "lost_track": "Sorry, I lost track of our conversation.",
    "back_to_form": "Now, back to your appointment request.",
    # the appointment form (actions/appointments.py); {fields} are filled there
    "form_name_invalid": "Please type just your name, for example: Maria Lopez.",
    "form_phone_invalid": (
        "That doesn't look like a 10-digit US phone number. Please type it "
        "like 310 555 0123, or {cancel_hint} to stop."
    ),
    "form_few_words": "Please type a few words.",
    "form_consent": (
        "Here is your request:\n"
        "- Name: {patient_name}\n"
        "- Phone: {patient_phone}\n"
        "- Best time: {preferred_time}\n"
        "- Reason: {visit_reason}\n"
        "Do you agree that the office may store this and call you at this "
        "number about an appointment? (yes / no)"
    ),
    "form_consent_yes": "Yes, send it",
    "form_consent_no": "No, don't send",
    "form_not_sent": (
        "Okay, I have not sent anything. You can call the office at "
        "{office_phone} whenever you like."
    ),
    "form_failed": (
        "Sorry, I could not send your request because of a technical "
        "problem. Please call the office at {office_phone}."
    ),
    "form_sent": (
        "Thank you, {first_name}. Your request has been sent; the office "
        "will call you at {patient_phone}. This chat is "
        "not watched in real time: if your symptoms get worse, call "
        "{office_phone}, or 911 in an emergency."
    ),
}


def fill(text: str, **values: object) -> str:
    """A UI text with its {fields} filled (plain replacement: a patient's name
    may hold braces)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


# A sentence ends at . ! or ? followed by a space and a capital, a quote, an
# opening Spanish mark, bold or a parenthesis (not after "Dr."); each line and
# each "- " list item is its own unit.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(?<!Dr\.)\s+(?=[\"“¿¡*(A-ZÁÉÍÓÚÑ])")


def sentences(text: Optional[str]) -> List[str]:
    """The sentences of an answer (list items and lines count as sentences)."""
    units: List[str] = []
    for line in (text or "").strip().splitlines():
        line = line.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        units += [part.strip() for part in _SENTENCE_BREAK.split(line) if part.strip()]
    return units


@dataclass(frozen=True)
class Topic:
    """A question the page answers."""

    key: str
    intent: Optional[str]
    title: str
    answer: str
    short: str
    sources: Tuple[str, ...]
    related: Tuple[str, ...]
    safety_line: bool = False


@dataclass(frozen=True)
class Uncovered:
    """A question the page does not answer: named, handed off, closest answer offered."""

    key: str
    intent: str
    title: str
    topic: str
    lead: str
    closest: Optional[str]


@dataclass(frozen=True)
class SafetyTexts:
    warning_signs: str
    safety_line: str
    pending_line: str
    signs: Dict[str, str]  # red-flag category -> how the sign is named
    # red-flag category -> the line for a sign the learned reader is unsure of
    unsure_lines: Dict[str, str]
    # red-flag category -> its tier (a translation words unsure_lines per tier)
    tiers: Dict[str, str] = field(default_factory=dict)


Answer = Union[Topic, Uncovered]


class Content:
    def __init__(
        self,
        topics: Dict[str, Topic],
        contact: Topic,
        uncovered: Dict[str, Uncovered],
        not_covered_reply: str,
        not_covered_closest: str,
        safety: SafetyTexts,
        ui: Optional[Dict[str, str]] = None,
        language: str = ENGLISH,
    ) -> None:
        self.language = language
        self.ui = {**UI_TEXTS, **(ui or {})}
        self.topics = topics
        self.contact = contact
        self.uncovered = uncovered
        self.not_covered_reply = not_covered_reply
        self.not_covered_closest = not_covered_closest
        self.safety = safety
        self._by_intent: Dict[str, Answer] = {t.intent: t for t in topics.values()}
        self._by_intent.update({u.intent: u for u in uncovered.values()})

    @classmethod
    def from_files(cls, path: Path, red_flags_path: Path, settings: Settings) -> Content:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        flags = yaml.safe_load(red_flags_path.read_text(encoding="utf-8"))
        render = _renderer(settings)

        def topic(key: str, entry: dict) -> Topic:
            return Topic(
                key=key,
                intent=entry.get("intent"),
                title=entry["title"],
                answer=render(entry["answer"]),
                short=render(entry["short"]),
                sources=tuple(entry.get("sources", ())),
                related=tuple(entry.get("related", ())),
                safety_line=bool(entry.get("safety_line")),
            )

        topics = {key: topic(key, entry) for key, entry in raw["topics"].items()}
        uncovered = {
            key: Uncovered(
                key=key,
                intent=entry["intent"],
                title=entry["title"],
                topic=entry["topic"],
                lead=entry.get("lead", ""),
                closest=entry.get("closest"),
            )
            for key, entry in (raw.get("not_covered") or {}).items()
        }
        safety = SafetyTexts(
            warning_signs=render(flags["warning_signs_reply"]),
            safety_line=render(flags["safety_line"]),
            pending_line=render(flags["pending_line"]),
            signs={name: cat["sign"] for name, cat in flags["categories"].items()},
            unsure_lines={
                name: render(flags["unsure_lines"][cat["tier"]]).replace("{sign}", cat["sign"])
                for name, cat in flags["categories"].items()
            },
            tiers={name: cat["tier"] for name, cat in flags["categories"].items()},
        )
        return cls(
            topics,
            topic("contact", raw["contact"]),
            uncovered,
            render(raw["not_covered_reply"]),
            raw["not_covered_closest"],
            safety,
        )

    @classmethod
    def translated(cls, english: Content, path: Path, settings: Settings, language: str) -> Content:
        """The English content with every patient-facing text from a translation file.

        Keys, intents, sources, related topics and safety flags stay the English
        file's; a text missing from the translation stays English.
        """
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        render = _renderer(settings)

        def topic(base: Topic, entry: dict) -> Topic:
            return replace(
                base,
                title=entry.get("title") or base.title,
                answer=render(entry["answer"]) if entry.get("answer") else base.answer,
                short=render(entry["short"]) if entry.get("short") else base.short,
            )

        topics = {
            key: topic(base, (raw.get("topics") or {}).get(key) or {})
            for key, base in english.topics.items()
        }
        uncovered = {}
        for key, base in english.uncovered.items():
            entry = (raw.get("not_covered") or {}).get(key) or {}
            uncovered[key] = replace(
                base,
                title=entry.get("title") or base.title,
                topic=entry.get("topic") or base.topic,
                lead=entry.get("lead") or base.lead,
            )
        flags = raw.get("safety") or {}
        signs = {
            **english.safety.signs,
            **{k: v for k, v in (flags.get("signs") or {}).items() if k in english.safety.signs},
        }
        unsure = flags.get("unsure_lines") or {}
        safety = SafetyTexts(
            warning_signs=render(flags["warning_signs_reply"])
            if flags.get("warning_signs_reply")
            else english.safety.warning_signs,
            safety_line=render(flags["safety_line"])
            if flags.get("safety_line")
            else english.safety.safety_line,
            pending_line=render(flags["pending_line"])
            if flags.get("pending_line")
            else english.safety.pending_line,
            signs=signs,
            unsure_lines={
                name: render(unsure[tier]).replace("{sign}", signs[name])
                if unsure.get(tier)
                else english.safety.unsure_lines[name]
                for name, tier in english.safety.tiers.items()
            },
            tiers=english.safety.tiers,
        )
        ui = {k: v for k, v in (raw.get("ui") or {}).items() if k in UI_TEXTS}
        return cls(
            topics,
            topic(english.contact, raw.get("contact") or {}),
            uncovered,
            render(raw["not_covered_reply"])
            if raw.get("not_covered_reply")
            else english.not_covered_reply,
            raw.get("not_covered_closest") or english.not_covered_closest,
            safety,
            ui=ui,
            language=language,
        )

    def for_intent(self, intent: Optional[str]) -> Optional[Answer]:
        return self._by_intent.get(intent)

    def topic_for_intent(self, intent: Optional[str]) -> Optional[Topic]:
        found = self._by_intent.get(intent)
        return found if isinstance(found, Topic) else None

    @property
    def topic_intents(self) -> List[str]:
        """Intents answered from the page (quick-reply payloads patients may send)."""
        return [t.intent for t in self.topics.values() if t.intent]

    @property
    def answerable_intents(self) -> List[str]:
        return list(self._by_intent)


def _renderer(settings: Settings):
    def render(text: str) -> str:
        """Fills the configured phone and form address; other {fields} stay."""
        return (
            text.strip()
            .replace("{phone}", settings.office_phone)
            .replace("{form_url}", settings.appointment_form_url)
        )

    return render


def translation_path(content_path: Path, language: str) -> Path:
    """content/achilles_content.yml -> content/achilles_content.es.yml"""
    return content_path.with_name(f"{content_path.stem}.{language}{content_path.suffix}")


@lru_cache(maxsize=len(ANSWER_LANGUAGES) + 1)
def get_content(language: str = ENGLISH) -> Content:
    """The content in `language` (English when it is not one the assistant answers in)."""
    settings = load_settings()
    english = (
        get_content(ENGLISH)
        if language != ENGLISH
        else Content.from_files(settings.content_path, settings.red_flags_path, settings)
    )
    if language == ENGLISH or language not in ANSWER_LANGUAGES:
        return english
    path = translation_path(settings.content_path, language)
    if not path.exists():
        return english
    return Content.translated(english, path, settings, language)
