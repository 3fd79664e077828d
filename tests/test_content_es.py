"""The Spanish translation (content/achilles_content.es.yml) against the English.

Every translated text lists the English sentences it renders (`<field>_renders`);
this checks that the list is the English text as it is now (so a change to the
English fails until the Spanish follows), that the Spanish has exactly one
sentence per English sentence, and that each pair carries the same numbers,
names and placeholders. The Spanish domain responses are held to the same
pairing against their English variants.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
import yaml

from actions.content import SMS_MAX_CHARS, UI_TEXTS, get_content, sentences

ROOT = Path(__file__).resolve().parent.parent
ENGLISH = yaml.safe_load((ROOT / "content" / "achilles_content.yml").read_text(encoding="utf-8"))
FLAGS = yaml.safe_load((ROOT / "content" / "red_flags.yml").read_text(encoding="utf-8"))
SPANISH_PATH = ROOT / "content" / "achilles_content.es.yml"
SPANISH = yaml.safe_load(SPANISH_PATH.read_text(encoding="utf-8"))
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

_PLACEHOLDER = re.compile(r"\{\w+\}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ACRONYM = re.compile(r"\b[A-Z]{2,}s?\b")
# names written the same in both languages, and those Spanish spells its own way
_NAMES = {
    "Soomekh": "Soomekh",
    "Amniox": "Amniox",
    "Achilles": "Aquiles",
    "US": "Estados Unidos",
}


def english_texts() -> Dict[Tuple[str, ...], str]:
    """Every English text the Spanish file translates, by its path in that file."""
    texts: Dict[Tuple[str, ...], str] = {}
    for key, topic in ENGLISH["topics"].items():
        for field in ("title", "answer", "short"):
            texts[("topics", key, field)] = topic[field]
    for field in ("title", "answer", "short"):
        texts[("contact", field)] = ENGLISH["contact"][field]
    texts[("not_covered_reply",)] = ENGLISH["not_covered_reply"]
    texts[("not_covered_closest",)] = ENGLISH["not_covered_closest"]
    for key, entry in ENGLISH["not_covered"].items():
        for field in ("title", "topic", "lead"):
            if entry.get(field):
                texts[("not_covered", key, field)] = entry[field]
    for field in ("warning_signs_reply", "safety_line", "pending_line"):
        texts[("safety", field)] = FLAGS[field]
    for tier, text in FLAGS["unsure_lines"].items():
        texts[("safety", "unsure_lines", tier)] = text
    for name, category in FLAGS["categories"].items():
        texts[("safety", "signs", name)] = category["sign"]
    for key, text in UI_TEXTS.items():
        texts[("ui", key)] = text
    return texts


def spanish_entry(path: Tuple[str, ...]) -> Tuple[dict, str]:
    node = SPANISH
    for part in path[:-1]:
        node = (node or {}).get(part) or {}
    return node, path[-1]


def marks(text: str) -> Set[str]:
    """Numbers, placeholders, acronyms and names a sentence carries."""
    found = set(_PLACEHOLDER.findall(text))
    bare = _PLACEHOLDER.sub(" ", text)
    found |= set(_NUMBER.findall(bare))
    found |= set(_ACRONYM.findall(bare)) - set(_NAMES)
    for english, spanish in _NAMES.items():
        if re.search(rf"\b({english}|{spanish})\b", bare):
            found.add(english)
    return found


def pairs() -> Iterator[Tuple[str, str, str, List[str]]]:
    for path, english in english_texts().items():
        node, field = spanish_entry(path)
        yield ".".join(path), node.get(field), english, node.get(f"{field}_renders")


PAIRS = list(pairs())


def test_the_file_says_it_awaits_a_medical_translators_review():
    header = SPANISH_PATH.read_text(encoding="utf-8").lower()
    assert "translation to be reviewed by a qualified medical translator" in header
    assert SPANISH["status"] == "translation to be reviewed by a qualified medical translator"
    assert SPANISH["language"] == "es"


@pytest.mark.parametrize("name, spanish, english, renders", PAIRS, ids=[p[0] for p in PAIRS])
def test_every_english_text_has_its_spanish_sentence_for_sentence(name, spanish, english, renders):
    assert spanish, f"{name}: no Spanish text"
    assert renders == sentences(english), f"{name}: the English changed; update the Spanish"
    spanish_sentences = sentences(spanish)
    assert len(spanish_sentences) == len(renders), (name, spanish_sentences, renders)
    for es, en in zip(spanish_sentences, renders):
        assert marks(es) == marks(en), (name, en, es)
        assert es != en, (name, "not translated", en)


def test_nothing_in_the_spanish_file_lacks_an_english_source():
    expected = {p[0] for p in PAIRS}

    def walk(node, prefix):
        for key, value in node.items():
            if key.endswith("_renders"):
                continue
            path = prefix + (key,)
            if isinstance(value, dict):
                yield from walk(value, path)
            elif isinstance(value, str) and prefix:
                yield ".".join(path)

    translated = set(walk({k: v for k, v in SPANISH.items() if isinstance(v, dict)}, ()))
    assert translated - expected == set()
    for key in ("not_covered_reply", "not_covered_closest"):
        assert key in expected


def test_spanish_sms_variants_fit_an_sms():
    content = get_content("es")
    for topic in list(content.topics.values()) + [content.contact]:
        assert len(topic.short) <= SMS_MAX_CHARS, (topic.key, len(topic.short))


def test_spanish_content_keeps_the_english_structure():
    english, spanish = get_content(), get_content("es")
    assert spanish.language == "es" and english.language == "en"
    assert set(spanish.topics) == set(english.topics)
    for key, topic in spanish.topics.items():
        assert topic.intent == english.topics[key].intent
        assert topic.related == english.topics[key].related
        assert topic.answer != english.topics[key].answer
    assert {u.intent for u in spanish.uncovered.values()} == {
        u.intent for u in english.uncovered.values()
    }
    assert spanish.safety.safety_line != english.safety.safety_line
    assert set(spanish.ui) == set(UI_TEXTS)


# Domain responses with a Spanish variant: sentence for sentence like the English.
SPANISH_RESPONSES = [
    "utter_disclaimer",
    "utter_greet",
    "utter_how_can_help",
    "utter_goodbye",
    "utter_you_are_welcome",
    "utter_iamabot",
    "utter_appointment_paused",
    "utter_empty_message",
    "utter_appointment_intro",
    "utter_ask_patient_name",
    "utter_ask_patient_phone",
    "utter_ask_preferred_time",
    "utter_ask_visit_reason",
    "utter_appointment_cancelled",
]


def variants(response: str, language):
    found = {}
    for v in DOMAIN["responses"][response]:
        conditions = {c["name"]: c["value"] for c in v.get("condition") or []}
        if conditions.get("language") == language:
            found[v.get("channel")] = v
    return found


@pytest.mark.parametrize("response", SPANISH_RESPONSES)
def test_spanish_domain_responses_pair_with_the_english(response):
    english, spanish = variants(response, None), variants(response, "es")
    assert set(spanish) == set(english), response  # one per channel variant
    for channel, en in english.items():
        es = spanish[channel]
        en_sentences, es_sentences = sentences(en["text"]), sentences(es["text"])
        assert len(es_sentences) == len(en_sentences), (response, es_sentences)
        for a, b in zip(es_sentences, en_sentences):
            assert marks(a) == marks(b), (response, a, b)
        assert [b["payload"] for b in es.get("buttons") or []] == [
            b["payload"] for b in en.get("buttons") or []
        ]
