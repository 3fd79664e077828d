"""The content file: schema, coverage of intents, traceability to the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.config import DEFAULT_OFFICE_PHONE, load_settings
from actions.content import SMS_MAX_CHARS, Content, Uncovered

ROOT = Path(__file__).resolve().parent.parent
CONTENT_PATH = ROOT / "content" / "achilles_content.yml"
RED_FLAGS_PATH = ROOT / "content" / "red_flags.yml"
PAGE_PATH = ROOT / "content" / "source" / "achilles-tendon-rupture-page.txt"
SHARED_PAGE = ROOT.parent / "shared" / "source" / "achilles-tendon-rupture-page.txt"
RAW = yaml.safe_load(CONTENT_PATH.read_text(encoding="utf-8"))
TOPICS = RAW["topics"]


def normalise(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def content() -> Content:
    return Content.from_files(CONTENT_PATH, RED_FLAGS_PATH, load_settings())


@pytest.mark.parametrize("key", sorted(TOPICS))
def test_topic_has_every_field(key):
    entry = TOPICS[key]
    for field in ("intent", "title", "answer", "short", "sources", "related"):
        assert entry.get(field), f"{key} lacks {field}"
    assert entry["intent"].startswith("ask_")


@pytest.mark.parametrize("key", sorted(TOPICS) + ["contact"])
def test_every_source_sentence_is_in_the_page(key):
    page = normalise(PAGE_PATH.read_text(encoding="utf-8"))
    entry = RAW["contact"] if key == "contact" else TOPICS[key]
    for sentence in entry["sources"]:
        assert normalise(sentence) in page, f"{key}: not in the page: {sentence!r}"


def test_page_copy_matches_the_practice_page():
    if not SHARED_PAGE.exists():
        pytest.skip("the shared page is not next to this checkout")
    assert PAGE_PATH.read_bytes() == SHARED_PAGE.read_bytes()


def test_short_variants_fit_an_sms(content):
    for topic in list(content.topics.values()) + [content.contact]:
        assert len(topic.short) <= SMS_MAX_CHARS, (topic.key, len(topic.short))


def test_related_topics_exist_and_are_not_self(content):
    for topic in content.topics.values():
        assert topic.related
        for related in topic.related:
            assert related in content.topics, f"{topic.key} -> unknown {related}"
            assert related != topic.key


def test_every_question_intent_has_exactly_one_answer(domain):
    """Each ask_* intent is answered from the page, handed off by name, or (warning
    signs) answered from the reviewed safety file."""
    intents = (
        [t["intent"] for t in TOPICS.values()]
        + [u["intent"] for u in RAW["not_covered"].values()]
        + ["ask_warning_signs"]
    )
    assert len(intents) == len(set(intents))
    assert set(intents) == {i for i in domain["intents"] if i.startswith("ask_")}


def test_not_covered_entries_name_their_topic_and_point_at_real_topics(content):
    for entry in content.uncovered.values():
        assert isinstance(entry, Uncovered) and entry.topic and entry.title
        assert entry.closest is None or entry.closest in content.topics
    assert "{topic}" in content.not_covered_reply and "{phone}" not in content.not_covered_reply


def test_placeholders_are_filled_from_configuration(monkeypatch):
    monkeypatch.setenv("OFFICE_PHONE", "555.000.1111")
    monkeypatch.setenv("APPOINTMENT_FORM_URL", "https://clinic.test/book")
    content = Content.from_files(CONTENT_PATH, RED_FLAGS_PATH, load_settings())
    assert "555.000.1111" in content.contact.answer
    assert "https://clinic.test/book" in content.contact.answer
    for topic in list(content.topics.values()) + [content.contact]:
        assert DEFAULT_OFFICE_PHONE not in topic.answer + topic.short, topic.key
        assert not re.search(r"\{\w+\}", topic.answer + topic.short), topic.key
    assert "555.000.1111" in content.safety.warning_signs + content.safety.safety_line
    assert "https://clinic.test/book" in content.not_covered_reply
