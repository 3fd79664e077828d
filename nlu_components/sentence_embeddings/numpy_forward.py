"""The forward pass in NumPy: the dependency-free fallback."""

from __future__ import annotations

import numpy as np

from nlu_components.sentence_embeddings.bert_weights import _BertWeights

# erf for float32, the rational approximation Eigen and XLA use for float32
# (TensorFlow's tf.math.erf): |error| < 5e-7 against the exact erf, i.e. exact
# GELU to float32 precision -- not the tanh approximation of GELU.
_ERF_P = [
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
]
_ERF_Q = [
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
]
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
