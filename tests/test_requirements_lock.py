"""requirements.lock covers every requirement, with hashes, and matches what is installed.

`make` installs only the lock (`pip install --require-hashes -r requirements.lock`),
so a pin changed in requirements.txt / requirements-test.txt without re-locking,
or a package upgraded by hand in the venv, fails here.
"""

from __future__ import annotations

import importlib.metadata as md
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_FILES = ("requirements.txt", "requirements-test.txt")
LOCK = ROOT / "requirements.lock"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> List[Tuple[str, Requirement]]:
    found = []
    for name in REQUIREMENT_FILES:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                found.append((name, Requirement(line)))
    return found


def lock_entries() -> Dict[str, Tuple[str, List[str]]]:
    """name -> (version, hashes), from pip-compile's format."""
    entries: Dict[str, Tuple[str, List[str]]] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*\\?$", line)
        if match:
            current = norm(match.group(1))
            entries[current] = (match.group(2), [])
            continue
        hashed = re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line)
        if hashed and current:
            entries[current][1].append(hashed.group(1))
        elif line and not line.startswith(" ") and not line.startswith("#"):
            pytest.fail(f"unexpected line in requirements.lock: {line!r}")
    return entries


LOCKED = lock_entries()
REQUIREMENTS = requirements()


def test_runtime_and_test_requirements_are_separate():
    runtime = {norm(r.name) for f, r in REQUIREMENTS if f == "requirements.txt"}
    test_only = {norm(r.name) for f, r in REQUIREMENTS if f == "requirements-test.txt"}
    assert {"pytest", "playwright", "hypothesis"} <= test_only
    assert not runtime & {"pytest", "playwright", "hypothesis"}
    assert "rasa" in runtime and "phonenumbers" in runtime


def test_every_locked_package_is_pinned_with_hashes():
    assert len(LOCKED) > 100
    for name, (version, hashes) in LOCKED.items():
        assert hashes, f"{name}=={version} has no --hash"


@pytest.mark.parametrize("source,req", REQUIREMENTS, ids=[str(r) for _, r in REQUIREMENTS])
def test_every_requirement_is_in_the_lock_at_an_allowed_version(source, req):
    assert norm(req.name) in LOCKED, f"{req} ({source}) is missing from requirements.lock"
    version = LOCKED[norm(req.name)][0]
    assert req.specifier.contains(version, prereleases=True), (
        f"{source} says {req}, the lock has {version}: re-lock (header of requirements.lock)"
    )


def test_the_known_cves_are_out():
    assert LOCKED["requests"][0] >= "2.32.4" and LOCKED["requests"][0].startswith("2.")
    # rasa 3.6.21 itself requires setuptools>=70.3,<70.4 (pkg_resources is still used)
    assert LOCKED["setuptools"][0].startswith("70.3.")


def test_installed_distributions_match_the_lock():
    installed = {norm(d.metadata["Name"]): d.version for d in md.distributions()}
    named = {norm(r.name) for _, r in REQUIREMENTS}
    drift = {
        name: (version, installed.get(name))
        for name, (version, _) in LOCKED.items()
        if installed.get(name) != version
    }
    assert not {n: v for n, v in drift.items() if n in named}, (
        f"installed differs from the lock for required packages: {drift}"
    )
    assert not drift, f"installed differs from the lock (lock, installed): {drift}"
