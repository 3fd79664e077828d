"""Safety triage inside the NLU pipeline: the last word on every message's intent.

Runs after every classifier (DIET, language, FallbackClassifier), so a red-flag
decision is final: nothing after it can turn it into "Did you mean...?".

- A message that reports a red flag (content/red_flags.yml, read by
  nlu_components/triage_rules/) gets the tier's intent (`emergency` or
  `urgent_problem`) at confidence 1.0.
- A learned safety guess (the classifier said emergency/urgent_problem) stands
  when it is confident and the rules saw neither a question about signs nor a
  sign that needs post-op context the message lacks; otherwise it is demoted
  to the runner-up and the reply carries the safety line (naming the sign).
- Every message gets a `triage` entry in its parse data: tier, categories,
  signs reported but waiting for post-op context (`pending`), signs only asked
  about, whether it gives post-op context, and `safety_line` when the answer
  should carry the short safety line. The dialogue policy
  (policies/triage_policy.py) reads these across the conversation; staff see
  them in the console.

The compiled rules (and the typo guard computed from spacy-lookups-data) are
stored in the trained model, so a model answers the same way wherever it runs.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.triage_rules import RED_FLAGS_PATH, TriageRules

FALLBACK_INTENT = "nlu_fallback"
WARNING_SIGNS_INTENT = "ask_warning_signs"
RULES_FILE = "red_flags.json"
COMMON_WORDS_FILE = "common_words.json"


def save_rules(rules: TriageRules, model_storage: ModelStorage, resource: Resource) -> None:
    with model_storage.write_to(resource) as directory:
        (directory / RULES_FILE).write_text(json.dumps(rules.spec), encoding="utf-8")
        (directory / COMMON_WORDS_FILE).write_text(
            json.dumps(sorted(rules.common_words)), encoding="utf-8"
        )


def load_saved_rules(model_storage: ModelStorage, resource: Resource) -> Optional[TriageRules]:
    try:
        with model_storage.read_from(resource) as directory:
            spec = json.loads((directory / RULES_FILE).read_text(encoding="utf-8"))
            common = json.loads((directory / COMMON_WORDS_FILE).read_text(encoding="utf-8"))
    except (ValueError, FileNotFoundError):
        return None
    return TriageRules(spec, frozenset(common))


def rules_from_file(path: Text) -> TriageRules:
    return TriageRules(yaml.safe_load(open(path, encoding="utf-8")))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TriageClassifier(GraphComponent):
    """Overrides the intent with the red-flag tier; annotates every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "rules_path": str(RED_FLAGS_PATH),
            # a learned emergency/urgent guess below this is demoted (safety line kept)
            "min_learned_confidence": 0.8,
            # a safety intent this likely anywhere in the ranking adds the safety line
            "safety_line_confidence": 0.2,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        rules: Optional[TriageRules],
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._rules = rules
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TriageClassifier:
        return cls(config, None, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TriageClassifier:
        return cls(config, load_saved_rules(model_storage, resource), model_storage, resource)

    @property
    def rules(self) -> TriageRules:
        if self._rules is None:  # untrained (unit tests): read the reviewed file
            self._rules = rules_from_file(self.config["rules_path"])
        return self._rules

    def train(self, training_data: TrainingData) -> Resource:
        save_rules(rules_from_file(self.config["rules_path"]), self._model_storage, self._resource)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._triage(message)
        return messages

    # ------------------------------------------------------------------------

    def _triage(self, message: Message) -> None:
        rules = self.rules
        safety_intents = set(rules.tier_intents.values())
        result = rules.read(message.get("text"))
        triage: Dict[Text, Any] = result.as_dict(rules.ranks)
        ranking = list(message.get("intent_ranking") or [])
        others = [r for r in ranking if r.get("name") not in safety_intents]
        intent = message.get("intent") or {}
        learned = self._learned_safety_guess(ranking, safety_intents)

        tier = triage["tier"]
        if tier is not None:
            chosen = {"name": rules.tier_intents[tier], "confidence": 1.0}
            triage["decided_by"] = "rules"
            self._set_intent(message, chosen, [chosen] + others)
        elif learned is not None:
            name, confidence = learned
            # The reviewed rules know which signs need post-op context: a learned
            # escalation of such a sign waits for it (the policy escalates when it
            # comes, and the answer names the sign meanwhile).
            if (
                confidence >= self.config["min_learned_confidence"]
                and not result.asked_about
                and not result.pending
            ):
                triage["tier"] = next(t for t, i in rules.tier_intents.items() if i == name)
                triage["decided_by"] = "model"
                chosen = {"name": name, "confidence": confidence}
                self._set_intent(message, chosen, [chosen] + others)
            else:  # unsure, or a question about signs: answer, with the safety line
                triage["safety_line"] = True
                replacement = self._replacement(result.asked_about, others)
                self._set_intent(
                    message,
                    replacement,
                    [replacement] + [r for r in others if r is not replacement],
                )
        elif result.asked_about and intent.get("name") == FALLBACK_INTENT:
            chosen = {"name": WARNING_SIGNS_INTENT, "confidence": 1.0}
            self._set_intent(
                message,
                chosen,
                [chosen] + [r for r in others if r.get("name") != WARNING_SIGNS_INTENT],
            )

        if result.pending or any(
            r.get("name") in safety_intents
            and float(r.get("confidence") or 0) >= self.config["safety_line_confidence"]
            for r in ranking[:3]
        ):
            triage["safety_line"] = True
        triage.setdefault("safety_line", False)
        triage.setdefault("decided_by", None)
        message.set("triage", triage, add_to_output=True)

    @staticmethod
    def _learned_safety_guess(ranking: List[Dict[Text, Any]], safety: set):
        """The classifier's top guess when it is a safety intent (past nlu_fallback)."""
        for entry in ranking:
            if entry.get("name") == FALLBACK_INTENT:
                continue
            if entry.get("name") in safety:
                return entry["name"], float(entry.get("confidence") or 0.0)
            return None
        return None

    @staticmethod
    def _replacement(asked_about: List[str], others: List[Dict[Text, Any]]) -> Dict[Text, Any]:
        if asked_about:
            return {"name": WARNING_SIGNS_INTENT, "confidence": 1.0}
        if others:
            return others[0]
        return {"name": FALLBACK_INTENT, "confidence": 1.0}

    @staticmethod
    def _set_intent(
        message: Message, intent: Dict[Text, Any], ranking: List[Dict[Text, Any]]
    ) -> None:
        message.set("intent", intent, add_to_output=True)
        message.set("intent_ranking", ranking, add_to_output=True)
