"""Safety triage inside the NLU pipeline: the last word on every message's intent.

Runs after every classifier (DIET, language, FallbackClassifier), so a red-flag
decision is final: nothing after it can turn it into "Did you mean...?".

- A message that reports a red flag (content/red_flags.yml, read by
  nlu_components/triage_rules/) gets the tier's intent (`emergency` or
  `urgent_problem`) at confidence 1.0.
- The learned red-flag reader (nlu_components/red_flag_reader.py) reads each
  part of the message. A part it is sure of (`reader_sure`), that the rules
  read as a plain report (not negated, asked about, past, hypothetical or
  someone else's story), adds that category as if the rules had found it
  (`decided_by: reader` when the rules alone found nothing). A part it is
  less sure of (`reader_unsure`..`reader_sure`), or one the rules read as
  something other than a report, is not escalated: the answer carries a line
  naming the sign and what to do if it is happening now (`unsure`).
- The intent classifier's own emergency/urgent_problem guess never escalates
  alone: it is demoted to the runner-up and the reply carries the safety line.
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
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.red_flag_reader import (
    READER_DATA_PATH,
    RedFlagReader,
    data_files,
    load_clauses,
)
from nlu_components.sentence_classifier import split_parts
from nlu_components.triage_rules import RED_FLAGS_PATH, Finding, TriageResult, TriageRules
from nlu_components.triage_rules.other_languages import LANGUAGES_PATH
from nlu_components.triage_rules.rules import read_spec

FALLBACK_INTENT = "nlu_fallback"
WARNING_SIGNS_INTENT = "ask_warning_signs"
RULES_FILE = "red_flags.json"
COMMON_WORDS_FILE = "common_words.json"
READER_FILE = "red_flag_reader.joblib"


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


def save_reader(reader: RedFlagReader, model_storage: ModelStorage, resource: Resource) -> None:
    import joblib

    with model_storage.write_to(resource) as directory:
        joblib.dump(reader.model, directory / READER_FILE)


def load_saved_reader(model_storage: ModelStorage, resource: Resource) -> Optional[RedFlagReader]:
    import joblib

    try:
        with model_storage.read_from(resource) as directory:
            return RedFlagReader(joblib.load(directory / READER_FILE))
    except (ValueError, FileNotFoundError):
        return None


def message_parts(text: Text) -> List[Text]:
    """The parts the reader reads: the intent classifier's (so the encoder's cache answers)."""
    parts = split_parts(text)
    return parts if len(parts) >= 2 else [text]


def reader_findings(
    reader: RedFlagReader,
    rules: TriageRules,
    text: Optional[Text],
    result: TriageResult,
    sure_at: float,
    unsure_at: float,
    min_words: int = 5,
) -> Tuple[List[Finding], List[Text]]:
    """The reader's sure findings that `result` (the rules' reading) lacks, and
    the categories it is unsure of: below `sure_at`, or in a part the rules read
    as something other than a plain report or that has one of the category's
    `unless` phrases."""
    if not text or not text.strip():
        return [], []
    # a rule finding still waiting for post-op context does not silence a sure reading
    # that needs none ("can't feel my toes at all since this morning")
    known = {f.category for f in result.reports if not f.needs_post_op} | set(result.asked_about)
    sure: Dict[Text, Finding] = {}
    unsure: List[Text] = []
    for hit in reader.hits(message_parts(text)):
        if rules.category(hit.category) is None or hit.category in known:
            continue
        if hit.probability < unsure_at:
            continue
        # the category's `unless` phrases anywhere in the message ("the nerve block...")
        if (
            hit.probability >= sure_at
            and len(hit.part.split()) >= min_words
            and rules.is_plain_report(hit.part)
            and not rules.excluded_for(hit.category, text)
        ):
            sure.setdefault(hit.category, rules.finding(hit.category))
        elif hit.category not in unsure:
            unsure.append(hit.category)
    return list(sure.values()), [c for c in unsure if c not in sure]


def files_fingerprint(paths: List[Any]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        file = Path(path)
        digest.update(str(file).encode())
        digest.update(file.read_bytes() if file.exists() else b"missing")
    return digest.hexdigest()


def rules_from_file(path: Text) -> TriageRules:
    return TriageRules(read_spec(Path(path)))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TriageClassifier(GraphComponent):
    """Overrides the intent with the red-flag tier; annotates every message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "rules_path": str(RED_FLAGS_PATH),
            # a safety intent this likely anywhere in the ranking adds the safety line
            "safety_line_confidence": 0.2,
            # the learned red-flag reader (eval/RESULTS.md: how these were chosen)
            "reader_data": str(READER_DATA_PATH),
            "use_reader": True,
            "reader_sure": 0.85,
            "reader_unsure": 0.5,
            # a shorter part ("It's my right leg") never escalates on the reader alone
            "reader_min_words": 5,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        rules: Optional[TriageRules],
        model_storage: ModelStorage,
        resource: Resource,
        reader: Optional[RedFlagReader] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._rules = rules
        self._reader = reader
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
        return cls(
            config,
            load_saved_rules(model_storage, resource),
            model_storage,
            resource,
            load_saved_reader(model_storage, resource),
        )

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        """The reviewed files it compiles and learns from, so Rasa's training
        cache retrains it when one of them changes."""
        settings = {**cls.get_default_config(), **config}
        return files_fingerprint(
            [settings["rules_path"], LANGUAGES_PATH]
            + (data_files(Path(settings["reader_data"])) if settings["use_reader"] else [])
        )

    @property
    def rules(self) -> TriageRules:
        if self._rules is None:  # untrained (unit tests): read the reviewed file
            self._rules = rules_from_file(self.config["rules_path"])
        return self._rules

    @property
    def reader(self) -> Optional[RedFlagReader]:
        return self._reader if self.config["use_reader"] else None

    def train(self, training_data: TrainingData) -> Resource:
        save_rules(rules_from_file(self.config["rules_path"]), self._model_storage, self._resource)
        if self.config["use_reader"]:
            self._reader = RedFlagReader.train(*load_clauses(Path(self.config["reader_data"])))
            save_reader(self._reader, self._model_storage, self._resource)
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
        text = message.get("text")
        by_rules = rules.read(text)
        sure, unsure = self._reader_findings(text, by_rules)
        result = by_rules.with_reports(sure) if sure else by_rules
        triage: Dict[Text, Any] = result.as_dict(rules.ranks)
        triage["reader"] = [f.category for f in sure]
        triage["unsure"] = unsure
        ranking = list(message.get("intent_ranking") or [])
        others = [r for r in ranking if r.get("name") not in safety_intents]
        intent = message.get("intent") or {}
        learned = self._learned_safety_guess(ranking, safety_intents)

        tier = triage["tier"]
        if tier is not None:
            chosen = {"name": rules.tier_intents[tier], "confidence": 1.0}
            decided = by_rules.tier(rules.ranks) is not None
            triage["decided_by"] = "rules" if decided else "reader"
            self._set_intent(message, chosen, [chosen] + others)
        elif learned is not None:
            # the intent classifier's safety guess alone: answer, with the safety line
            triage["safety_line"] = True
            replacement = self._replacement(result.asked_about, others)
            self._set_intent(
                message, replacement, [replacement] + [r for r in others if r is not replacement]
            )
        elif result.asked_about and intent.get("name") == FALLBACK_INTENT:
            chosen = {"name": WARNING_SIGNS_INTENT, "confidence": 1.0}
            self._set_intent(
                message,
                chosen,
                [chosen] + [r for r in others if r.get("name") != WARNING_SIGNS_INTENT],
            )

        if (
            result.pending
            or unsure
            or any(
                r.get("name") in safety_intents
                and float(r.get("confidence") or 0) >= self.config["safety_line_confidence"]
                for r in ranking[:3]
            )
        ):
            triage["safety_line"] = True
        triage.setdefault("safety_line", False)
        triage.setdefault("decided_by", None)
        message.set("triage", triage, add_to_output=True)

    def _reader_findings(self, text: Optional[Text], result) -> Tuple[List[Finding], List[Text]]:
        if self.reader is None:
            return [], []
        return reader_findings(
            self.reader,
            self.rules,
            text,
            result,
            self.config["reader_sure"],
            self.config["reader_unsure"],
            int(self.config["reader_min_words"]),
        )

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
