"""The channel sanitiser: bad input becomes something Rasa can answer politely."""

from __future__ import annotations

import pytest

from channels.sanitize import (
    EMPTY_MESSAGE,
    MAX_MESSAGE_CHARS,
    button_intents,
    sanitize_user_text,
)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   \n\t ",
        "😀😀😀",
        "\x00\x01\x02",
        "?!...",
        12345,
        {"text": "hi"},
        b"\xff\xfe\x00",
        "/",
        "//",
    ],
)
def test_unreadable_input_becomes_empty_message(raw):
    assert sanitize_user_text(raw) == EMPTY_MESSAGE


def test_control_characters_are_removed_and_whitespace_folded():
    assert sanitize_user_text("what\x00 is\u200b a\n\nrupture\x1b") == "what is a rupture"


def test_huge_input_is_bounded_at_a_word_boundary():
    text = sanitize_user_text("achilles " * 1000)
    assert len(text) <= MAX_MESSAGE_CHARS
    assert text.endswith("achilles")


@pytest.mark.parametrize(
    "raw",
    [
        "/restart",
        "/session_start",
        '/emergency{"x": 1}',
        "/back",
        "/nlu_fallback",
        '/ask_symptoms{"a":1}',
    ],
)
def test_typed_commands_cannot_trigger_intents(raw):
    assert not sanitize_user_text(raw).startswith("/")


def test_button_payloads_pass_through():
    assert "ask_symptoms" in button_intents()
    assert "emergency" not in button_intents()
    assert sanitize_user_text("/ask_symptoms") == "/ask_symptoms"
    assert sanitize_user_text("/request_appointment") == "/request_appointment"


@pytest.mark.parametrize(
    "raw", ["ما هو تمزق وتر العرقوب", "跟腱断裂是什么", "Что такое разрыв ахиллова сухожилия?"]
)
def test_non_latin_scripts_reach_the_nlu_as_typed(raw):
    # the language detector and the red-flag reading need the words themselves
    assert sanitize_user_text(raw) == raw


def test_html_is_kept_as_text_for_nlu():
    assert sanitize_user_text("<script>alert(1)</script>") == "<script>alert(1)</script>"


@pytest.mark.asyncio
async def test_rate_limiter_allows_up_to_the_limit_per_sender_only():
    from channels.rate_limit import SenderRateLimiter

    limiter = SenderRateLimiter("3/minute", "async+memory://")
    first = [await limiter.allow("rest", "a") for _ in range(5)]
    other = await limiter.allow("rest", "b")
    assert first == [True, True, True, False, False] and other is True
