"""The BertModel weights, laid out for both forward passes."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from nlu_components.sentence_embeddings.model_files import ModelIntegrityError


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
        self.emb_ln = (
            col(get("embeddings.LayerNorm.weight")),
            col(get("embeddings.LayerNorm.bias")),
        )
        scale = 1.0 / np.sqrt(self.head_dim)
        self.layers: List[Dict[str, np.ndarray]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [
                    get(p + "attention.self.query.weight") * scale,
                    get(p + "attention.self.key.weight"),
                    get(p + "attention.self.value.weight"),
                ]
            )
            qkv_b = np.concatenate(
                [
                    get(p + "attention.self.query.bias") * scale,
                    get(p + "attention.self.key.bias"),
                    get(p + "attention.self.value.bias"),
                ]
            )
            self.layers.append(
                dict(
                    qkv_w=np.ascontiguousarray(qkv_w, f32),
                    qkv_b=col(qkv_b),
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
                )
            )
