"""The dialogue side of safety triage: escalate whatever else is going on.

The NLU triage component decides what one message says. This policy decides
what the conversation says, and acts before anything else, forms included:

- the latest message's intent is a tier (`emergency`, `urgent_problem`):
  answer with that tier's response;
- a sign that needs post-op context ("my calf is swollen and hot") after the
  patient said earlier in the session that they had surgery or are in a cast
  or boot, or the context after the sign ("oh, I had the repair 2 weeks ago"),
  or a follow-up that completes the previous message ("they're cold and
  grey" after "my toes look weird"): answer with the tier's response;
- inside the appointment form, the escalation pauses the form
  (`action_pause_appointment` forgets the answers so far and offers to start
  again later) instead of taking the message as a form answer;
- then listen.

Its predictions are "no user" predictions at priority 7, so they win over
RulePolicy's loop predictions (priority 6), which would otherwise send the
message to the form first. It abstains (all zeros) everywhere else.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from nlu_components.triage import (
    files_fingerprint,
    load_saved_rules,
    rules_from_file,
    save_rules,
)
from nlu_components.triage_rules import (
    CONVERSATION_WINDOW,
    RED_FLAGS_PATH,
    TriageRules,
    decide_conversation,
)
from nlu_components.triage_rules.other_languages import LANGUAGES_PATH

PAUSE_FORM_ACTION = "action_pause_appointment"
EXTRACT_SLOTS_ACTION = "action_extract_slots"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class TriagePolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7, "rules_path": str(RED_FLAGS_PATH)}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        rules: Optional[TriageRules] = None,
        **kwargs: Any,
    ) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context)
        self._rules = rules

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TriagePolicy:
        return cls(
            config,
            model_storage,
            resource,
            execution_context,
            rules=load_saved_rules(model_storage, resource),
        )

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        """The reviewed rule files, so a change to them retrains the policy."""
        return files_fingerprint(
            [{**cls.get_default_config(), **config}["rules_path"], LANGUAGES_PATH]
        )

    @property
    def rules(self) -> TriageRules:
        if self._rules is None:
            self._rules = rules_from_file(self.config["rules_path"])
        return self._rules

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        save_rules(rules_from_file(self.config["rules_path"]), self._model_storage, self._resource)
        return self._resource

    # ------------------------------------------------------------------------

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        action = self._next_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(self._default_predictions(domain))
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(
            probabilities, is_no_user_prediction=True, diagnostic_data={"triage": action}
        )

    def _next_action(self, tracker: DialogueStateTracker) -> Optional[Text]:
        responses = {spec["response"] for spec in self.rules.spec["tiers"].values()}
        done = actions_since_last_user_message(tracker)
        if not done:
            tier = self._tier_of_latest_message(tracker)
            return self.rules.spec["tiers"][tier]["response"] if tier else None
        if done[0] not in responses:
            return None
        if len(done) == 1:
            return PAUSE_FORM_ACTION if tracker.active_loop_name else ACTION_LISTEN_NAME
        if len(done) == 2 and done[1] == PAUSE_FORM_ACTION:
            return ACTION_LISTEN_NAME
        return None

    def _tier_of_latest_message(self, tracker: DialogueStateTracker) -> Optional[Text]:
        latest = tracker.latest_message
        if latest is None or not latest.text:
            return None
        by_intent = {spec["intent"]: tier for tier, spec in self.rules.spec["tiers"].items()}
        intent = (latest.intent or {}).get("name")
        if intent in by_intent:
            return by_intent[intent]
        earlier, earlier_post_op = session_context(
            tracker, set(spec["response"] for spec in self.rules.spec["tiers"].values())
        )
        decision = decide_conversation(
            self.rules, earlier, latest.text, earlier_post_op, learned=reader_findings(tracker)
        )
        return decision.tier


def actions_since_last_user_message(tracker: DialogueStateTracker) -> List[Text]:
    done: List[Text] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name not in (
            EXTRACT_SLOTS_ACTION,
            ACTION_LISTEN_NAME,
            None,
        ):
            done.append(event.action_name)
    return list(reversed(done))


def reader_findings(tracker: DialogueStateTracker) -> Dict[Text, List[Text]]:
    """Each message of the session -> the categories the learned reader was sure of.

    The reader ran when the message was parsed (nlu_components/triage.py); its
    findings are in the parse data, so nothing is encoded again here.
    """
    found: Dict[Text, List[Text]] = {}
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered) and event.text:
            categories = ((event.parse_data or {}).get("triage") or {}).get("reader") or []
            if categories:
                found.setdefault(event.text, list(categories))
    return found


def session_context(tracker: DialogueStateTracker, escalations: set):
    """Earlier user texts to read with the latest one, and post-op context before them.

    Texts come from this session, after the last escalation (a sign already
    escalated is not escalated again), at most CONVERSATION_WINDOW of them.
    Post-op context counts from anywhere in the session.
    """
    texts: List[Text] = []
    post_op = False
    user_events = []
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            user_events.append(event)
    user_events = list(reversed(user_events))[:-1]  # all but the latest message
    for event in user_events:
        triage = (event.parse_data or {}).get("triage") or {}
        post_op = post_op or bool(triage.get("post_op_context"))
    last_escalation = None
    for index, event in enumerate(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name in escalations:
            last_escalation = index
    if last_escalation is not None:
        after = set(id(e) for e in list(tracker.events)[last_escalation:])
        user_events = [e for e in user_events if id(e) in after]
    texts = [e.text for e in user_events if e.text][-CONVERSATION_WINDOW:]
    return texts, post_op
