"""MiniLMEncoder: texts -> sentence vectors, and the process-wide encoder (get_encoder)."""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from nlu_components.sentence_embeddings.bert_weights import _BertWeights
from nlu_components.sentence_embeddings.model_files import (
    MODEL_SHA256,
    ModelIntegrityError,
    PathLike,
    read_model_files,
)
from nlu_components.sentence_embeddings.numpy_forward import _NumpyBert
from nlu_components.sentence_embeddings.onnx_forward import _default_threads, _OnnxRuntimeBert

# sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
DEFAULT_MAX_SEQ_LENGTH = 256
DEFAULT_CACHE_SIZE = 2048
# texts per forward pass; sorted by length so a batch holds similar lengths
DEFAULT_BATCH_SIZE = 32

logger = logging.getLogger(__name__)


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
                    "NumPy forward pass, about twice as slow (pip install -r requirements.txt)"
                )
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
            pooling.get(k)
            for k in (
                "pooling_mode_cls_token",
                "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens",
            )
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
        self._cache: OrderedDict[Tuple[str, int], np.ndarray] = OrderedDict()
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
            while (
                end < len(order)
                and end - start < self.batch_size
                and len(encoded[order[end]]) <= first_len * 1.25 + 4
            ):
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
        missing: OrderedDict[str, List[int]] = OrderedDict()
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
