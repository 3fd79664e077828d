"""Language identification inside the NLU pipeline (py3langid, offline, BSD).

The assistant answers in English, but many of the practice's patients write
in Spanish or another Los Angeles language (content/languages.yml). This
component recognises the language by its script (Chinese, Japanese, Korean,
Armenian, Russian, Arabic, Persian), by distinctive words or letters (Tagalog,
Vietnamese, Armenian or Persian typed in Latin letters), else by n-grams, and:
- sets the `language` entity (and so the `language` slot) when it is sure, so
  the emergency, urgent and "English only" replies come in Spanish for Spanish
  writers (domain.yml response conditions);
- turns a confident message in a language the assistant does not answer in
  into `other_language`, whatever the classifier guessed, and one in a language
  it answers in (`answer_languages`: English, Spanish) away from it (the
  runner-up); the triage component after it still escalates Spanish red flags.

Character n-gram identification alone is unreliable on short chat messages
("Hi, I have a question" scores 0.95 Portuguese), so a language is accepted
only when the message also has more of that language's function words (spaCy's
stop-word lists, minus those shared with English) than English ones. Short or
ambiguous messages ("ok", "Maria Lopez", "310 555 0123") change nothing.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from functools import lru_cache
from typing import Any, Dict, FrozenSet, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

OTHER_LANGUAGE_INTENT = "other_language"
LANGUAGE_ENTITY = "language"
ENGLISH = "en"
# tried when the n-gram guess has no function words of its own: the practice's
# most common other language
USUAL_OTHER_LANGUAGE = "es"
_WORD = re.compile(r"[a-z]+")


def _words(text: Text) -> List[Text]:
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return _WORD.findall("".join(ch for ch in text if not unicodedata.combining(ch)))


@lru_cache(maxsize=4)
def identifier(languages: Tuple[Text, ...]):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(languages))
    return ident


@lru_cache(maxsize=16)
def function_words(language: Text) -> FrozenSet[Text]:
    module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    return frozenset(_words(" ".join(module.STOP_WORDS)))


def detect_language(
    text: Text, languages: Tuple[Text, ...], min_words: int, min_probability: float
) -> Optional[Text]:
    """The message's language when sure of it, else None."""
    words = _words(text)
    if len(words) < min_words:
        return None
    guess, probability = identifier(languages).classify(text)
    english = function_words(ENGLISH)

    def supported(language: Text) -> bool:
        own = function_words(language) - english
        theirs = english - function_words(language)
        own_hits = sum(w in own for w in words)
        return own_hits >= 1 and own_hits > sum(w in theirs for w in words)

    if guess == ENGLISH:
        return ENGLISH if probability >= min_probability else None
    if probability >= min_probability and supported(guess):
        return guess
    if USUAL_OTHER_LANGUAGE in languages and supported(USUAL_OTHER_LANGUAGE):
        return USUAL_OTHER_LANGUAGE
    # English function words only ("Hi, I have a question about my recovery")
    english_hits = sum(w in english - function_words(guess) for w in words)
    if english_hits >= 2 and not any(w in function_words(guess) - english for w in words):
        return ENGLISH
    return None


# Letters that only Persian writes among the Arabic-script languages
_PERSIAN_LETTERS = frozenset("پچژگکی")
# Vietnamese letters (with their tone marks) no other Latin-script language here uses
_VIETNAMESE_LETTERS = frozenset("ăâđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
_SCRIPT_LANGUAGES = (
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CJK", "zh"),
    ("ARMENIAN", "hy"),
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
)
UNKNOWN_SCRIPT = "other"


def script_language(text: Text) -> Optional[Text]:
    """The language a mostly non-Latin message is written in, from its letters.

    None for Latin-script text; UNKNOWN_SCRIPT for a script none of our
    languages uses. Japanese mixes kana with Chinese characters, so any kana
    makes it Japanese; Persian is told from Arabic by its own letters.
    """
    letters = [ch for ch in text or "" if ch.isalpha()]
    if not letters:
        return None
    names = [unicodedata.name(ch, "") for ch in letters]
    if sum(n.startswith("LATIN") for n in names) / len(letters) >= 0.5:
        return None
    for prefix, language in _SCRIPT_LANGUAGES:
        if any(n.startswith(prefix) for n in names):
            if language == "ar" and any(ch in _PERSIAN_LETTERS for ch in letters):
                return "fa"
            return language
    return UNKNOWN_SCRIPT


@lru_cache(maxsize=1)
def latin_markers() -> Dict[Text, FrozenSet[Text]]:
    """content/languages.yml: distinctive words of each Latin-script language
    (Tagalog, Vietnamese, romanised Armenian and Persian), minus English ones."""
    from nlu_components.triage_rules.other_languages import load_languages_spec

    english = function_words(ENGLISH)
    markers = {}
    for code, lang in (load_languages_spec().get("languages") or {}).items():
        words = frozenset(_words(" ".join(map(str, lang.get("markers") or ())))) - english
        if words:
            markers[code] = words
    return markers


def marked_language(text: Text, min_hits: int = 2) -> Optional[Text]:
    """A Latin-script language recognised by its distinctive words or letters."""
    if sum(ch in _VIETNAMESE_LETTERS for ch in (text or "").lower()) >= 2:
        return "vi"
    words = _words(text)
    english_hits = sum(w in function_words(ENGLISH) for w in words)
    best, best_hits = None, 0
    for code, markers in latin_markers().items():
        hits = len({w for w in words if w in markers})
        if hits > best_hits:
            best, best_hits = code, hits
    if best is not None and best_hits >= min_hits and best_hits > english_hits:
        return best
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # the languages our patients write in; English plus the usual others
            "languages": ["en", "es", "pt", "fr", "de", "it", "tl"],
            "min_words": 3,
            "min_probability": 0.9,
            # answered in their own language (content/achilles_content.<code>.yml),
            # so never turned into other_language
            "answer_languages": ["en", "es"],
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.get_default_config(), **config}
        self.languages = tuple(self.config["languages"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls(config)

    def language_of(self, text: Text) -> Optional[Text]:
        """The message's language when sure: its script, then its distinctive
        words (Tagalog, Vietnamese, romanised Armenian or Persian), then the
        n-gram identifier checked against function words."""
        return (
            script_language(text)
            or marked_language(text)
            or detect_language(
                text, self.languages, self.config["min_words"], self.config["min_probability"]
            )
        )

    @staticmethod
    def _mark_other_language(message: Message) -> None:
        ranking = [
            r for r in message.get("intent_ranking") or [] if r.get("name") != OTHER_LANGUAGE_INTENT
        ]
        intent = {"name": OTHER_LANGUAGE_INTENT, "confidence": 1.0}
        message.set("intent", intent, add_to_output=True)
        message.set("intent_ranking", [intent] + ranking, add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            language = self.language_of(text)
            if language is None:
                continue
            if language == UNKNOWN_SCRIPT:  # no reply of its own: the default note
                self._mark_other_language(message)
                continue
            entities = [
                e for e in message.get("entities") or [] if e.get("entity") != LANGUAGE_ENTITY
            ]
            entities.append(
                {
                    "entity": LANGUAGE_ENTITY,
                    "value": language,
                    "start": 0,
                    "end": len(text),
                    "extractor": self.__class__.__name__,
                }
            )
            message.set("entities", entities, add_to_output=True)
            ranking = [
                r
                for r in message.get("intent_ranking") or []
                if r.get("name") != OTHER_LANGUAGE_INTENT
            ]
            if language not in self.config["answer_languages"]:
                self._mark_other_language(message)
            elif (message.get("intent") or {}).get("name") == OTHER_LANGUAGE_INTENT and ranking:
                message.set("intent", ranking[0], add_to_output=True)
                message.set("intent_ranking", ranking, add_to_output=True)
        return messages
