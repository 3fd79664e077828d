"""SMS text: replies shaped for SMS (channels/sms/formatting.py), carrier
keywords (channels/sms/keywords.py) and numbered-menu choices
(channels/sms/menus.py). Pure functions, no servers."""

from __future__ import annotations

import pytest

from channels.sms import formatting, keywords, menus


def sentences(n: int) -> str:
    return " ".join(f"Sentence number {i} says something useful about recovery." for i in range(n))


def test_split_sms_default_limit_cuts_on_sentences_and_keeps_everything():
    text = sentences(120)
    parts = formatting.split_sms(text)
    assert len(parts) >= 4
    assert all(len(p) <= 1600 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == text


def test_split_sms_prefers_paragraphs_then_lines():
    para1, para2 = sentences(8), sentences(8)
    parts = formatting.split_sms(f"{para1}\n\n{para2}", limit=len(para1) + 50)
    assert parts == [para1, para2]
    lines = [f"line {i} " + "x" * 30 for i in range(10)]
    parts = formatting.split_sms("\n".join(lines), limit=120)
    assert all(len(p) <= 120 for p in parts)
    assert "\n".join(parts).split("\n") == lines


def test_split_sms_edge_cases():
    assert formatting.split_sms("") == []
    assert formatting.split_sms("  short  ") == ["short"]
    blob = "x" * 3500  # no boundary at all: hard cut
    parts = formatting.split_sms(blob)
    assert [len(p) for p in parts] == [1600, 1600, 300]
    exact = "y" * 1600
    assert formatting.split_sms(exact) == [exact]


def test_plain_text_strips_markdown_keeps_lines_phone_and_urls():
    text = (
        "Many say **someone kicked them**.\n- a sudden snap\n- swelling\n\n"
        "## Next\nCall [310.651.2366](tel:+13106512366) or see "
        "[the form](https://example.com/form), <https://example.com/x>. "
        "\u201cQuote\u201d \u2013 ok"
    )
    assert formatting.plain_text(text) == (
        "Many say someone kicked them.\na sudden snap\nswelling\n\nNext\n"
        "Call 310.651.2366 or see the form (https://example.com/form), "
        'https://example.com/x. "Quote" - ok'
    )


def test_buttons_become_a_numbered_menu():
    text, choices = formatting.render_turn(
        [
            {"text": "First."},
            {
                "text": "Pick one:",
                "buttons": [
                    {"title": "Symptoms", "payload": "/ask_symptoms"},
                    {"title": "Recovery", "payload": "/ask_recovery"},
                ],
            },
            {
                "text": "Or:",
                "buttons": [
                    {"title": "Yes, send it", "payload": "/affirm"},
                    {"title": "Form", "type": "web_url", "url": "https://example.com/f"},
                ],
            },
        ]
    )
    assert text == (
        "First.\n\nPick one:\nReply 1 for Symptoms, 2 for Recovery.\n\n"
        "Or:\nReply 3 for Yes, send it.\nForm: https://example.com/f"
    )
    assert choices == ["/ask_symptoms", "/ask_recovery", "/affirm"]


@pytest.mark.parametrize(
    "body, keyword",
    [
        ("STOP", "STOP"),
        (" stop. ", "STOP"),
        ("Cancel", "CANCEL"),
        ("QUIT!", "QUIT"),
        ("unsubscribe", "UNSUBSCRIBE"),
        ("start", "START"),
        ("Yes", "YES"),
        ("help", "HELP"),
        ("INFO", "INFO"),
        ("cancel my request", None),
        ("stop texting me", None),
        ("what helps?", None),
        ("", None),
        (None, None),
        ("REVOKE", "REVOKE"),
        ("revoke.", "REVOKE"),
        ("Opt out", "OPT OUT"),
        (" OPT  OUT! ", "OPT OUT"),
        ("opt-out", "OPT OUT"),
        ("optout", "OPTOUT"),
        ("opt out of what?", None),
        ("revoke my request", None),
        ("opt", None),
    ],
)
def test_carrier_keywords_are_whole_message_only(body, keyword):
    assert keywords.carrier_keyword(body) == keyword


@pytest.mark.parametrize(
    "body, number",
    [
        ("1", 1),
        (" 2. ", 2),
        ("#3", 3),
        ("12", 12),
        ("1 please", None),
        ("one", None),
    ],
)
def test_choice_numbers(body, number):
    assert menus.choice_number(body) == number


def test_the_numbered_menu_is_in_the_language_of_the_reply():
    """Issue 19: a Spanish reply's buttons are offered in Spanish over SMS."""
    yes_no = [
        {"title": "Sí, envíela", "payload": "/affirm"},
        {"title": "No, no la envíe", "payload": "/deny"},
    ]
    spanish, payloads = formatting.render_turn(
        [
            {
                "text": "¿Está de acuerdo en que la oficina guarde estos datos y le llame?",
                "buttons": yes_no,
            }
        ]
    )
    assert spanish.endswith("Responda 1 para Sí, envíela; 2 para No, no la envíe.")
    assert payloads == ["/affirm", "/deny"]
    english, _ = formatting.render_turn(
        [{"text": "Do you agree that the office may store this?", "buttons": yes_no[:1]}]
    )
    assert english.endswith("Reply 1 for Sí, envíela.")
