"""Shaping a turn's bot replies into SMS text (pure functions).

Used by channels/sms/channel.py; kept free of Rasa and network code so it is
cheap to unit test.

- `plain_text`: Markdown-lite (**bold**, "- " lists, [label](url), headings)
  becomes plain lines; phone numbers and URLs stay as plain text; typographic
  quotes and dashes become ASCII so a reply stays in the GSM-7 alphabet
  (160 characters a segment instead of 70).
- `button_menu`: quick-reply buttons become words, in the turn's language ("Reply 1 for Symptoms, 2 for
  Recovery."); the payloads are returned so a later "1" can be mapped back.
- `split_sms`: one turn's text into parts of at most `limit` characters
  (Twilio refuses a Body over 1,600), cut at a paragraph, line, sentence or,
  failing those, word boundary.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from nlu_components.language import detect_language

TWILIO_MAX_BODY_CHARS = 1600  # Twilio refuses a longer Body

_ASCII = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2022": "-",
        "\u00b7": "-",
    }
)
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|tel|mailto|sms):[^>\s]+)>")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_LIST_MARKER = re.compile(r"^[ \t]*[-*+][ \t]+", re.M)
_CODE = re.compile(r"`([^`\n]+)`")


def _link_text(match: re.Match[str]) -> str:
    label, url = match.group(1).strip(), match.group(2).strip()
    scheme, _, rest = url.partition(":")
    if scheme in ("tel", "sms", "mailto"):
        if scheme != "mailto" and any(ch.isdigit() for ch in label):
            return label  # "[310.651.2366](tel:+13106512366)": the label is the number
        return rest if label == rest else f"{label} ({rest})"
    return url if label == url else f"{label} ({url})"


def plain_text(text: Optional[str]) -> str:
    """Markdown-lite to plain SMS text (see the module docstring)."""
    text = (text or "").translate(_ASCII).replace("\r\n", "\n")
    text = _LINK.sub(_link_text, text)
    text = _AUTOLINK.sub(
        lambda m: (
            m.group(1).split(":", 1)[1]
            if m.group(1).startswith(("tel:", "mailto:", "sms:"))
            else m.group(1)
        ),
        text,
    )
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = text.replace("**", "")
    text = _HEADING.sub("", text)
    text = _LIST_MARKER.sub("", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _is_link_button(button: Dict[str, Any]) -> bool:
    payload = str(button.get("url") or button.get("payload") or "")
    return button.get("type") in ("web_url", "url") or payload.startswith(
        ("http://", "https://", "tel:")
    )


# the numbered menu's words per reply language ("Responda 1 para Síntomas, 2 para...")
MENU_WORDS = {
    "en": ("Reply {options}.", "{number} for {title}"),
    "es": ("Responda {options}.", "{number} para {title}"),
}


def reply_language(text: str) -> str:
    """The language the assistant answered this turn in: Spanish or English."""
    found = detect_language(text, ("en", "es"), min_words=3, min_probability=0.5)
    return found if found in MENU_WORDS else "en"


def button_menu(
    buttons: Iterable[Dict[str, Any]], first_number: int = 1, language: str = "en"
) -> Tuple[str, List[str]]:
    """("Reply 1 for Symptoms, 2 for Recovery.", ["/ask_symptoms", "/ask_recovery"]),
    in `language`'s words (MENU_WORDS).

    Link buttons are written out ("Online form: https://..."), not numbered.
    Titles containing a comma are separated by semicolons so the menu stays readable.
    """
    numbered: List[Tuple[str, str]] = []
    links: List[str] = []
    for button in buttons or ():
        if not isinstance(button, dict):
            continue
        title = plain_text(str(button.get("title") or "")).replace("\n", " ")
        if _is_link_button(button):
            url = str(button.get("url") or button.get("payload")).strip()
            shown = url.split(":", 1)[1] if url.startswith(("tel:", "mailto:", "sms:")) else url
            links.append(f"{title}: {shown}" if title else shown)
            continue
        payload = button.get("payload")
        if not title or not isinstance(payload, str) or not payload.strip():
            continue
        numbered.append((title, payload.strip()))
    lines = []
    if numbered:
        separator = "; " if any("," in title for title, _ in numbered) else ", "
        sentence, option = MENU_WORDS.get(language, MENU_WORDS["en"])
        options = separator.join(
            option.format(number=first_number + i, title=title)
            for i, (title, _) in enumerate(numbered)
        )
        lines.append(sentence.format(options=options))
    lines.extend(links)
    return "\n".join(lines), [payload for _, payload in numbered]


def render_turn(messages: Sequence[Dict[str, Any]]) -> Tuple[str, List[str]]:
    """One turn's bot messages as one plain text, plus the numbered reply choices
    (the menu in the language of the turn's text)."""
    blocks: List[str] = []
    choices: List[str] = []
    language = reply_language(" ".join(plain_text(m.get("text")) for m in messages))
    for message in messages:
        lines = [plain_text(message.get("text"))]
        for key in ("image", "attachment"):
            value = message.get(key)
            if isinstance(value, str) and value.strip():
                lines.append(value.strip())
        buttons = message.get("buttons") or message.get("quick_replies")
        if buttons:
            menu, payloads = button_menu(buttons, len(choices) + 1, language)
            lines.append(menu)
            choices.extend(payloads)
        block = "\n".join(line for line in lines if line)
        if block:
            blocks.append(block)
    return "\n\n".join(blocks), choices


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"(?:(?<=[.!?:;])|(?<=[.!?][\"')\]]))\s+")
_WORD = re.compile(r"\s+")
_BOUNDARIES = (_PARAGRAPH, _LINE, _SENTENCE, _WORD)


def _cut(text: str, limit: int) -> Tuple[int, int]:
    """(end of this part, start of the rest) for text longer than limit."""
    window = text[: limit + 1]  # whitespace right after the limit is a fine cut too
    fallback: Optional[Tuple[int, int]] = None
    for pattern in _BOUNDARIES:
        cuts = [(m.start(), m.end()) for m in pattern.finditer(window) if m.start() > 0]
        if not cuts:
            continue
        best = max(cuts)
        if best[0] >= limit // 3:  # not a tiny fragment: take the coarsest boundary
            return best
        fallback = max(fallback, best) if fallback else best
    return fallback or (limit, limit)


def split_sms(text: str, limit: int = TWILIO_MAX_BODY_CHARS) -> List[str]:
    """Split into ordered parts of at most `limit` characters on natural boundaries."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = (text or "").strip()
    parts: List[str] = []
    while len(text) > limit:
        end, rest = _cut(text, limit)
        head = text[:end].rstrip()
        if head:
            parts.append(head)
        text = text[rest:].lstrip()
    if text:
        parts.append(text)
    return parts
