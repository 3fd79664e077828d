"""The widget's own words in English and Spanish (issue 19): every word the
widget shows or announces comes from widget/modules/strings.js, which has the
same keys in both languages; the header has the English/Español switch."""

from __future__ import annotations

import re
from pathlib import Path

WIDGET = Path(__file__).resolve().parent.parent.parent / "widget"
STRINGS_JS = (WIDGET / "modules" / "strings.js").read_text(encoding="utf-8")


def block(language: str) -> dict:
    body = re.search(rf"\n  {language}: \{{\n(.*?)\n  \}}", STRINGS_JS, re.S).group(1)
    return dict(re.findall(r"^\s+(\w+): '([^']*)',?$", body, re.M))


def test_both_languages_have_every_string():
    english, spanish = block("en"), block("es")
    assert len(english) >= 20 and english.keys() == spanish.keys()
    for key in english:
        if key not in ("chat",):  # "Chat: " is the same word in both
            assert english[key] != spanish[key], key
    assert (english["switchTo"], spanish["switchTo"]) == ("es", "en")
    assert (english["switchText"], spanish["switchText"]) == ("Español", "English")
    assert "911" in english["note"] and "911" in spanish["note"]


def test_no_english_words_are_left_in_the_views():
    for name in ("view.js", "main.js"):
        code = (WIDGET / "modules" / name).read_text(encoding="utf-8")
        for text in block("en").values():
            if len(text) > 6:
                assert f"'{text}" not in code, (name, text)


def test_the_embed_reads_the_language_and_keeps_the_title_optional():
    embed = (WIDGET / "widget.js").read_text(encoding="utf-8")
    assert "ds.lang || document.documentElement.lang" in embed
    assert "title: (ds.title || '').slice(0, 80)" in embed
    view = (WIDGET / "modules" / "view.js").read_text(encoding="utf-8")
    assert "el('button', 'achw-language')" in view
