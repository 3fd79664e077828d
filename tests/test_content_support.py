"""Every answer stays within the page: "nothing beyond the page" enforced, not promised.

For each topic, each sentence (or list item) of its chat answer and SMS variant
is checked word by word against the page sentences the topic lists as its
`sources`:
- every content word (spaCy lemma, stop words aside) must be a word of those
  sources, or a plain-language word from `plain_words` whose page word is in
  those sources, or a conversation word from `framing_words`;
- every number must appear in those sources.
The two word lists are short and reviewed with the content, so any word that
is not the page's own is visible to the clinician who signs the file. A whole
sentence is the unit, so one invented claim fails the test.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import List, Set

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "content" / "achilles_content.yml").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{\w+\}")


@lru_cache(maxsize=1)
def nlp():
    import spacy

    return spacy.load("en_achilles_lookup")  # the project's offline pipeline (set-up)


def words(text: str, content_only: bool = True) -> List[Set[str]]:
    """Each (content) word as {lower form, lemma}."""
    model = nlp()
    text = PLACEHOLDER.sub(" ", text).replace("**", " ")
    return [
        {t.lower_, t.lemma_.lower()}
        for t in model(text)
        if t.is_alpha and not (content_only and t.lower_ in model.Defaults.stop_words)
    ]


def numbers(text: str) -> Set[str]:
    return set(re.findall(r"\d+", PLACEHOLDER.sub(" ", text)))


def units(text: str) -> List[str]:
    """Sentences and list items."""
    parts = re.split(r"\n+|(?<=[.!?])\s+(?=[A-Z*])", text)
    return [p.strip(" -") for p in parts if p.strip(" -")]


def unsupported(answer: str, sources: List[str]) -> List[str]:
    source_text = " ".join(sources)
    vocabulary = set().union(*words(source_text, content_only=False)) if sources else set()
    framing = {w.lower() for w in RAW["framing_words"]}
    plain = {k.lower(): set().union(*words(v)) for k, v in RAW["plain_words"].items()}
    problems = []
    for unit in units(answer):
        for forms in words(unit):
            if forms & vocabulary or forms & framing:
                continue
            if any(plain.get(f) and plain[f] & vocabulary for f in forms):
                continue
            problems.append(f"{sorted(forms)[0]!r} in {unit!r}")
        for number in numbers(unit) - numbers(source_text):
            problems.append(f"number {number} in {unit!r}")
    return problems


@pytest.mark.parametrize("key", sorted(RAW["topics"]))
def test_every_answer_sentence_rests_on_its_sources(key):
    topic = RAW["topics"][key]
    problems = unsupported(topic["answer"], topic["sources"]) + unsupported(
        topic["short"], topic["sources"]
    )
    assert problems == [], "\n".join(problems)


def test_the_check_catches_an_invented_claim():
    topic = RAW["topics"]["recovery"]
    invented = topic["answer"] + "\nMost patients are back to running within 3 months."
    problems = unsupported(invented, topic["sources"])
    assert any("running" in p for p in problems) and any("number 3" in p for p in problems)


def test_a_plain_word_needs_its_page_word_in_the_sources():
    # "cord" stands for "tendon": allowed only where the sources speak of the tendon
    assert unsupported("The cord.", ["The tendon travels down the back of the leg."]) == []
    assert unsupported("The cord.", ["Walking will be difficult but not impossible."]) != []


def test_every_plain_word_maps_to_a_page_word():
    page = (ROOT / "content" / "source" / "achilles-tendon-rupture-page.txt").read_text()
    page_words = set().union(*words(page))
    for plain, page_word in RAW["plain_words"].items():
        assert set().union(*words(page_word)) & page_words, (plain, page_word)
        assert plain.lower() != str(page_word).lower(), f"{plain}: a word is not its own gloss"
