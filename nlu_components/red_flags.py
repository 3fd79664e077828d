"""Deterministic red-flag detection, run inside the NLU pipeline.

Safety must not depend on a classifier's mood: when a message matches one of
the reviewed red-flag rules in content/red_flags.yml, this component sets the
intent to `emergency` with confidence 1.0 (so the FallbackClassifier after it
never turns it into a fallback) and records which category matched in the
parse data (`red_flag`), which staff see in the conversation log.

The learned `emergency` intent still catches phrasings the rules miss, but only
when DIET is confident (`min_learned_confidence`): below that, an unmatched
"emergency" guess is demoted to the runner-up intent, so an unsure guess such as
"yep, go ahead and send" cannot end an appointment form with a 911 message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Sequence, Text

import yaml

RED_FLAGS_PATH = Path(__file__).resolve().parent.parent / "content" / "red_flags.yml"
EMERGENCY_INTENT = "emergency"


@dataclass(frozen=True)
class RedFlagCategory:
    name: Text
    reason: Text
    use_veto: bool
    rules: Sequence[Sequence[Pattern]]

    def matches(self, text: Text, veto: Pattern) -> bool:
        if self.use_veto and veto.search(text):
            return False
        return any(all(p.search(text) for p in rule) for rule in self.rules)


class RedFlagDetector:
    """Matches a message against the reviewed red-flag rules."""

    def __init__(self, path: Path = RED_FLAGS_PATH) -> None:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        flags = re.IGNORECASE
        self.veto = re.compile(spec["veto"], flags)
        self.categories = [
            RedFlagCategory(
                name=name,
                reason=cat["reason"],
                use_veto=bool(cat.get("use_veto", True)),
                rules=[[re.compile(p, flags) for p in rule["all"]] for rule in cat["rules"]],
            )
            for name, cat in spec["categories"].items()
        ]

    def detect(self, text: Optional[Text]) -> Optional[RedFlagCategory]:
        if not text:
            return None
        normalised = " ".join(text.replace("’", "'").split())
        for category in self.categories:
            if category.matches(normalised, self.veto):
                return category
        return None


try:  # The Rasa registration only exists inside the Rasa server / training.
    from rasa.engine.graph import ExecutionContext, GraphComponent
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.storage.resource import Resource
    from rasa.engine.storage.storage import ModelStorage
    from rasa.shared.nlu.training_data.message import Message
except ImportError:  # pragma: no cover - e.g. imported by a tool without Rasa
    GraphComponent = None

if GraphComponent is not None:

    @DefaultV1Recipe.register(
        [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
    )
    class RedFlagClassifier(GraphComponent):
        """Overrides the predicted intent with `emergency` on a red-flag match."""

        @staticmethod
        def get_default_config() -> Dict[Text, Any]:
            return {"min_learned_confidence": 0.8}

        @classmethod
        def create(
            cls,
            config: Dict[Text, Any],
            model_storage: ModelStorage,
            resource: Resource,
            execution_context: ExecutionContext,
        ) -> "RedFlagClassifier":
            return cls(config)

        def __init__(self, config: Optional[Dict[Text, Any]] = None) -> None:
            config = {**self.get_default_config(), **(config or {})}
            self.min_learned_confidence = float(config["min_learned_confidence"])
            self.detector = RedFlagDetector()

        def process(self, messages: List[Message]) -> List[Message]:
            for message in messages:
                category = self.detector.detect(message.get("text"))
                others = [r for r in (message.get("intent_ranking") or [])
                          if r.get("name") != EMERGENCY_INTENT]
                if category is not None:
                    emergency = {"name": EMERGENCY_INTENT, "confidence": 1.0}
                    message.set("intent", emergency, add_to_output=True)
                    message.set("intent_ranking", [emergency] + others, add_to_output=True)
                    message.set("red_flag", category.name, add_to_output=True)
                elif self._unsure_learned_emergency(message.get("intent")) and others:
                    message.set("intent", others[0], add_to_output=True)
                    message.set("intent_ranking", others, add_to_output=True)
            return messages

        def _unsure_learned_emergency(self, intent: Optional[Dict[Text, Any]]) -> bool:
            return bool(intent) and intent.get("name") == EMERGENCY_INTENT and float(
                intent.get("confidence") or 0.0) < self.min_learned_confidence
