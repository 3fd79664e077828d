"""Rasa featurizer: the all-MiniLM-L6-v2 sentence embedding as a dense feature for DIET.

The encoder itself (weights verified by SHA-256, tokenizer, forward pass) is in
nlu_components/sentence_embeddings/, which has no Rasa import so that set-up
scripts can use it quickly; this module is only the pipeline component.

Only a *sentence* feature is added (1 x 384): DIET in Rasa 3.6 combines dense
sentence features with the sparse CountVectors sequence and sentence features,
so no sequence feature is needed. Messages without text (Core's intent- or
action-only messages) are left alone, as Rasa's own dense featurizers do.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.sentence_embeddings import DEFAULT_CACHE_SIZE, get_encoder


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds an all-MiniLM-L6-v2 embedding as a dense 1x384 TEXT sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # LRU cache of recent texts' embeddings (shared by the process)
            "cache_size": DEFAULT_CACHE_SIZE,
            # None: sentence-transformers' 256 word pieces
            "max_seq_length": None,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        # The model package is not listed: Rasa checks these by importing them,
        # and it prints on import. A missing model fails in __init__ with the
        # install command instead.
        return ["tokenizers", "safetensors"]

    @classmethod
    def required_components(cls) -> List[type]:
        return []

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        size = config.get("cache_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: cache_size must be an integer >= 0, got {size!r}"
            )
        length = config.get("max_seq_length")
        if length is not None and (
            not isinstance(length, int) or isinstance(length, bool) or not 2 <= length <= 512
        ):
            raise InvalidConfigException(
                "SentenceEmbeddingFeaturizer: max_seq_length must be null or an integer in "
                f"2..512, got {length!r}"
            )

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name or cls.__name__)

    def __init__(self, config: Dict[Text, Any], name: Text = "SentenceEmbeddingFeaturizer") -> None:
        config = {**self.get_default_config(), **(config or {})}
        super().__init__(name, config)
        self.max_seq_length: Optional[int] = config["max_seq_length"]
        # loads (and verifies) the weights now, so a bad install fails at start-up
        self.encoder = get_encoder(cache_size=config["cache_size"])

    def _featurize(self, messages: Sequence[Message]) -> None:
        todo = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT)]
        if not todo:
            return
        # one call: the encoder batches texts of similar length together
        vectors = self.encoder.encode(
            [m.get(TEXT) for m in todo], max_seq_length=self.max_seq_length
        )
        for message, vector in zip(todo, vectors):
            self.add_features_to_message(
                sequence=None,
                sentence=vector.reshape(1, -1).copy(),
                attribute=TEXT,
                message=message,
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
