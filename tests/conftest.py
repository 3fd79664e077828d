"""Shared fixtures: project paths, the domain, and rasa-sdk trackers/dispatchers."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rasa_sdk import Tracker  # noqa: E402
from rasa_sdk.executor import CollectingDispatcher  # noqa: E402

_THIS_CONFTEST = sys.modules[__name__]


def pytest_plugin_registered(plugin, manager):
    """pytest imports every conftest.py outside a package (tests/console/, sms/, widget/)
    as the module `conftest`, each replacing the one before in sys.modules; the test
    modules' `from conftest import ...` means this file, so it is put back each time."""
    if getattr(plugin, "__name__", None) == "conftest" and plugin is not _THIS_CONFTEST:
        sys.modules["conftest"] = _THIS_CONFTEST


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(text: str = "", intent: Optional[str] = None, confidence: float = 0.95,
                 ranking: Optional[List[Dict[str, Any]]] = None,
                 slots: Optional[Dict[str, Any]] = None, channel: str = "rest",
                 events: Optional[List[Dict[str, Any]]] = None,
                 active_loop: Optional[str] = None, sender_id: str = "test-user") -> Tracker:
    """A rasa-sdk Tracker whose latest message is `text` classified as `intent`."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
    }
    user_event = {"event": "user", "text": text, "parse_data": latest,
                  "input_channel": channel}
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=(events or []) + [user_event],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


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
