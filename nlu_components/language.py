"""Language identification inside the NLU pipeline (py3langid, offline, BSD).

The assistant answers in English only, but many of the practice's patients
write in Spanish. This component:
- sets the `language` entity (and so the `language` slot) when it is sure, so
  the emergency, urgent and "English only" replies come in Spanish for Spanish
  writers (domain.yml response conditions);
- turns a confidently non-English message into `other_language`, whatever the
  English classifier guessed; the triage component after it still escalates
  Spanish red flags.
Short or ambiguous messages ("ok", "Maria Lopez", "310 555 0123") change nothing.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

OTHER_LANGUAGE_INTENT = "other_language"
LANGUAGE_ENTITY = "language"
_WORD = re.compile(r"[^\W\d_]{2,}")


@lru_cache(maxsize=4)
def identifier(languages: tuple):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(languages))
    return ident


def detect_language(text: Text, languages: tuple, min_words: int,
                    min_probability: float) -> tuple:
    """(language, probability), or (None, p) when the message is too short or unsure."""
    if len(_WORD.findall(text or "")) < min_words:
        return None, 0.0
    language, probability = identifier(languages).classify(text)
    if probability < min_probability:
        return None, float(probability)
    return language, float(probability)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class LanguageDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # the languages our patients write in; English plus the usual others
            "languages": ["en", "es", "pt", "fr", "de", "it", "tl", "vi"],
            "min_words": 3,
            "min_probability": 0.9,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = {**self.get_default_config(), **config}
        self.languages = tuple(self.config["languages"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> "LanguageDetector":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            language, _ = detect_language(text, self.languages, self.config["min_words"],
                                          self.config["min_probability"])
            if language is None:
                continue
            entities = [e for e in message.get("entities") or []
                        if e.get("entity") != LANGUAGE_ENTITY]
            entities.append({"entity": LANGUAGE_ENTITY, "value": language, "start": 0,
                             "end": len(text), "extractor": self.__class__.__name__})
            message.set("entities", entities, add_to_output=True)
            if language != "en":
                intent = {"name": OTHER_LANGUAGE_INTENT, "confidence": 1.0}
                ranking = [r for r in message.get("intent_ranking") or []
                           if r.get("name") != OTHER_LANGUAGE_INTENT]
                message.set("intent", intent, add_to_output=True)
                message.set("intent_ranking", [intent] + ranking, add_to_output=True)
        return messages
