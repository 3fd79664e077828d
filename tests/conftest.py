"""Shared fixtures: the domain, rasa-sdk trackers (tests/trackers.py) and dispatchers.

Test modules import helpers from helper modules (servers.py, trackers.py), never
from a conftest.py: pytest loads each folder's conftest.py as the module `conftest`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rasa_sdk.executor import CollectingDispatcher  # noqa: E402

from trackers import make_tracker  # noqa: E402


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def tracker_factory():
    return make_tracker


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """In-process channel tests share one limiter; give every test its own
    (and its own count of turns in flight, read from the environment again)."""
    from channels.rate_limit import sender_rate_limiter, turn_slots

    sender_rate_limiter.cache_clear()
    turn_slots.cache_clear()
    yield
    sender_rate_limiter.cache_clear()
    turn_slots.cache_clear()
