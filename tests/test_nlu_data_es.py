"""Spanish NLU data (issue 19): data/nlu/es/ covers every intent a Spanish
writer can have, and the Spanish held-out set (eval/heldout_nlu.es.yml) has at
least 4 messages per intent and is never trained on."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import yaml

from test_nlu_data import examples, training_examples
from test_nlu_data import key as english_key

ROOT = Path(__file__).resolve().parent.parent
SPANISH_DIR = ROOT / "data" / "nlu" / "es"
HELDOUT_ES = ROOT / "eval" / "heldout_nlu.es.yml"
MIN_HELDOUT_ES_PER_INTENT = 4
MIN_SPANISH_EXAMPLES_PER_INTENT = 8
# Spanish is answered in Spanish; empty messages come from the channel
NOT_IN_SPANISH = {"other_language", "empty_message"}


def key(text: str) -> str:
    """Words without accents: "¿Cuándo?" and "cuando" are the same message."""
    text = unicodedata.normalize("NFKD", text)
    return english_key("".join(ch for ch in text if not unicodedata.combining(ch)))


def spanish_training() -> dict:
    merged: dict = {}
    for path in sorted(SPANISH_DIR.glob("*.yml")):
        for intent, items in examples(path).items():
            merged.setdefault(intent, []).extend(items)
    return merged


def domain_intents() -> set:
    return set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])


def test_every_intent_has_spanish_examples():
    spanish = spanish_training()
    wanted = domain_intents() - NOT_IN_SPANISH
    assert set(spanish) == wanted
    for intent, items in spanish.items():
        assert len(items) >= MIN_SPANISH_EXAMPLES_PER_INTENT, (intent, len(items))


def test_spanish_is_never_labelled_other_language():
    assert "other_language" not in spanish_training()
    assert "other_language" not in examples(HELDOUT_ES)


def test_spanish_heldout_covers_every_spanish_intent():
    heldout = examples(HELDOUT_ES)
    for intent in spanish_training():
        assert len(heldout.get(intent, [])) >= MIN_HELDOUT_ES_PER_INTENT, intent


def test_spanish_heldout_is_never_trained_on():
    trained = {key(x) for items in training_examples().values() for x in items}
    leaked = [x for items in examples(HELDOUT_ES).values() for x in items if key(x) in trained]
    assert leaked == []


def test_no_spanish_example_is_repeated():
    seen = [key(x) for items in spanish_training().values() for x in items]
    assert len(seen) == len(set(seen))
