"""Domain consistency with configuration and training data."""
from __future__ import annotations

from pathlib import Path

import yaml

from actions.config import DEFAULT_APPOINTMENT_FORM_URL, DEFAULT_OFFICE_PHONE

ROOT = Path(__file__).resolve().parent.parent


def test_slot_defaults_equal_configuration_defaults(domain):
    # The emergency reply must carry the right number even before session start.
    assert domain["slots"]["office_phone"]["initial_value"] == DEFAULT_OFFICE_PHONE
    assert domain["slots"]["appointment_form_url"]["initial_value"] == DEFAULT_APPOINTMENT_FORM_URL


def test_every_domain_intent_has_training_examples(domain):
    trained = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        trained |= {block["intent"] for block in yaml.safe_load(path.read_text())["nlu"]}
    assert set(domain["intents"]) == trained


def test_emergency_reply_says_911_and_emergency_room(domain):
    text = domain["responses"]["utter_emergency"][0]["text"]
    assert "911" in text and "emergency room" in text and "{office_phone}" in text


def test_button_payloads_in_responses_are_allowed_by_the_channel(domain):
    from channels.sanitize import sanitize_user_text

    for name, variants in domain["responses"].items():
        for variant in variants:
            for button in variant.get("buttons", []):
                assert sanitize_user_text(button["payload"]) == button["payload"], name
