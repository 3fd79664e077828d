"""The forward pass as an ONNX graph built in memory, run by ONNX Runtime (the default)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import numpy as np

from nlu_components.sentence_embeddings.bert_weights import _BertWeights

# ONNX Runtime intra-op threads (MiniLMEncoder(threads=...) or this variable)
THREADS_ENV = "SENTENCE_EMBEDDING_THREADS"
DEFAULT_THREADS = 1


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
            for key, value in (
                ("location", "in-memory"),
                ("offset", "0"),
                ("length", str(arr.nbytes)),
            ):
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
        return op(
            "Gemm", x, init(name + ".w", weight), init(name + ".b", bias.reshape(-1)), transB=1
        )

    def layer_norm(x: str, gamma: np.ndarray, beta: np.ndarray, name: str) -> str:
        return op(
            "LayerNormalization",
            x,
            init(name + ".g", gamma.reshape(-1)),
            init(name + ".b", beta.reshape(-1)),
            axis=-1,
            epsilon=eps,
        )

    i64 = np.int64
    batch_len = op("Shape", "input_ids")  # [B, L]
    length = op("Shape", "input_ids", start=1, end=2)  # [L]
    heads_shape = op("Concat", batch_len, init("heads_dims", [heads, head_dim], i64), axis=0)
    flat = init("flat_dims", [-1, hidden], i64)
    one = init("one", 1.0)

    # embeddings: word + position (+ token type 0, folded into position) -> LayerNorm
    words = op("Gather", init("word_embeddings", w.word), "input_ids", axis=0)  # (B, L, H)
    positions = op(
        "Slice",
        init("position_embeddings", w.position),
        init("zero", [0], i64),
        length,
        init("axis0", [0], i64),
    )  # (L, H)
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
    summed = op(
        "ReduceSum", op("Mul", x, op("Unsqueeze", mask, init("axis2", [2], i64))), axis1, keepdims=0
    )
    counts = op("Max", op("ReduceSum", mask, axis1, keepdims=1), init("eps_count", 1e-9))
    pooled = op("Div", summed, counts)
    norms = op("Max", op("ReduceL2", pooled, axes=[1], keepdims=1), init("eps_norm", 1e-12))
    graph.node.append(helper.make_node("Div", [pooled, norms], ["embedding"]))

    graph.input.extend(
        [
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
            for name in ("input_ids", "attention_mask")
        ]
    )
    graph.output.append(
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])
    )
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
            names, [ort.OrtValue.ortvalue_from_numpy(external[n]) for n in names]
        )
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if threads > 1:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            serialized, options, providers=["CPUExecutionProvider"]
        )
        self.threads = int(threads)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (out,) = self._session.run(
            ["embedding"],
            {
                "input_ids": ids.astype(np.int64, copy=False),
                "attention_mask": mask.astype(np.int64),
            },
        )
        return out
