"""Training data quality: volume, independence of the held-out set, no page copying."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "content" / "source" / "achilles-tendon-rupture-page.txt").read_text()
MIN_EXAMPLES_PER_TOPIC_INTENT = 40
MIN_HELDOUT_PER_INTENT = 15
COPY_RUN_WORDS = 8  # a run this long shared with the page counts as copying


def examples(path: Path) -> dict:
    found = defaultdict(list)
    for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
        found[block["intent"]] += [
            line[2:].strip()
            for line in block["examples"].splitlines()
            if line.strip().startswith("- ")
        ]
    return found


def training_examples() -> dict:
    merged = defaultdict(list)
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml")):  # es/ too
        for intent, items in examples(path).items():
            merged[intent] += items
    return merged


def words(text: str) -> list:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def key(text: str) -> str:
    return " ".join(words(text))


def test_topic_intents_have_enough_examples():
    for intent, items in training_examples().items():
        if intent.startswith("ask_") or intent == "emergency":
            assert len(items) >= MIN_EXAMPLES_PER_TOPIC_INTENT, (intent, len(items))


def test_heldout_set_covers_every_trained_intent():
    heldout = examples(ROOT / "eval" / "heldout_nlu.yml")
    for intent in training_examples():
        if intent == "empty_message":  # produced by the channel, not typed
            continue
        assert len(heldout.get(intent, [])) >= MIN_HELDOUT_PER_INTENT, intent


def test_heldout_messages_are_never_trained_on():
    trained = {key(x) for items in training_examples().values() for x in items}
    leaked = [
        x
        for items in examples(ROOT / "eval" / "heldout_nlu.yml").values()
        for x in items
        if key(x) in trained
    ]
    assert leaked == []


def test_training_examples_do_not_copy_the_page():
    page_words = words(PAGE)
    page_runs = {
        tuple(page_words[i : i + COPY_RUN_WORDS])
        for i in range(len(page_words) - COPY_RUN_WORDS + 1)
    }
    copied = []
    for items in training_examples().values():
        for text in items:
            w = words(text)
            if any(
                tuple(w[i : i + COPY_RUN_WORDS]) in page_runs
                for i in range(len(w) - COPY_RUN_WORDS + 1)
            ):
                copied.append(text)
    assert copied == []


DEV_TEXTS = {
    m["text"]
    for m in yaml.safe_load((ROOT / "eval" / "dev_realistic.yml").read_text(encoding="utf-8"))[
        "messages"
    ]
}


def evaluation_texts():
    """The realistic development sets (English, Spanish), the FAQ headings and the
    triage probes: never training data."""
    texts = []
    for name in (
        "dev_realistic.yml",
        "dev_realistic.es.yml",
        "dev_realistic2.es.yml",
        "dev_posts.yml",
        "dev_posts2.yml",
        "dev_posts3.yml",
    ):
        dev = yaml.safe_load((ROOT / "eval" / name).read_text(encoding="utf-8"))
        texts += [m["text"] for m in dev["messages"]]
    faq = yaml.safe_load((ROOT / "eval" / "faq_headings.yml").read_text(encoding="utf-8"))
    texts += [q["text"] for q in faq["questions"]]
    triage_sets = [ROOT / "tests" / "triage" / n for n in ("probes.yml", "probes_unseen.yml")]
    triage_sets += [
        ROOT / "tests" / "triage" / "probes_blind.yml",
        ROOT / "eval" / "triage_blind2.yml",
        ROOT / "eval" / "triage_blind3.yml",
        ROOT / "eval" / "triage_blind4.yml",
        ROOT / "eval" / "triage_blind5.yml",
        ROOT / "eval" / "triage_blind6.yml",
        ROOT / "eval" / "triage_blind7.yml",
        ROOT / "eval" / "triage_blind8.yml",
        ROOT / "eval" / "triage_blind9.yml",
        ROOT / "eval" / "triage_blind10.yml",
        ROOT / "eval" / "triage_blind11.yml",
    ]
    for path in triage_sets:
        probes = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += [turn for p in probes["probes"] for turn in p["turns"]]
    return texts


def test_dev_set_and_probes_are_never_trained_on():
    # (text without Latin letters has no key to compare; it is checked by hand)
    trained = {key(x) for items in training_examples().values() for x in items} - {""}
    leaked = [
        x
        for x in evaluation_texts()
        if key(x) in trained and (len(words(x)) >= 4 or x in DEV_TEXTS)
    ]
    assert leaked == []  # short probe turns such as "hi" may match a greeting


def test_dev_set_is_realistic_and_labelled_with_known_intents(domain):
    dev = yaml.safe_load((ROOT / "eval" / "dev_realistic.yml").read_text(encoding="utf-8"))
    messages = dev["messages"]
    assert len(messages) >= 300
    labels = {m["intent"] for m in messages} | {a for m in messages for a in m.get("also", [])}
    assert labels <= set(domain["intents"])
    long_posts = [m for m in messages if len(words(m["text"])) >= 30]
    assert len(long_posts) >= 40  # long posts with a timeline, not just short questions
