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


def variant(domain, response, language=None):
    """The response's text for the `language` slot value (None: the default)."""
    for v in domain["responses"][response]:
        conditions = {c["name"]: c["value"] for c in v.get("condition", [])}
        if conditions.get("language") == language:
            return v["text"]
    raise AssertionError(f"{response} has no variant for {language}")


def test_emergency_reply_says_911_and_emergency_room(domain):
    text = variant(domain, "utter_emergency")
    assert "911" in text and "emergency room" in text and "{office_phone}" in text
    assert "911" in variant(domain, "utter_emergency", "es")


def test_urgent_reply_says_call_the_office_now_then_er_or_urgent_care(domain):
    text = variant(domain, "utter_urgent_problem")
    assert "Call the office now at {office_phone}" in text
    assert "emergency room or urgent care" in text
    spanish = variant(domain, "utter_urgent_problem", "es")
    assert "{office_phone}" in spanish and "emergencias" in spanish


def test_every_other_language_reply_carries_the_911_line(domain):
    for language in (None, "es"):
        assert "911" in variant(domain, "utter_other_language", language)


def test_tiers_of_the_reviewed_file_have_domain_responses_and_intents(domain):
    spec = yaml.safe_load((ROOT / "content" / "red_flags.yml").read_text())
    for tier in spec["tiers"].values():
        assert tier["response"] in domain["responses"]
        assert tier["intent"] in domain["intents"]


def test_disclaimer_says_not_watched_stored_and_what_to_do_in_an_emergency(domain):
    text = variant(domain, "utter_disclaimer")
    assert "not watched by staff in real time" in text
    assert "stored" in text and "911" in text


def test_button_payloads_in_responses_are_allowed_by_the_channel(domain):
    from channels.sanitize import sanitize_user_text

    for name, variants in domain["responses"].items():
        for variant in variants:
            for button in variant.get("buttons", []):
                assert sanitize_user_text(button["payload"]) == button["payload"], name
