"""FAQ-style headings are never answered with the wrong topic (issue 18).

eval/faq_headings.yml holds short question headings in the register of clinic
FAQ pages ("What causes an Achilles tendon rupture?", "How is it diagnosed?"),
written independently of the training data (never trained on:
tests/test_nlu_data.py). The trained model (models/achilles.tar.gz, `make
train`) is loaded in process and every heading, passed through the channel
sanitiser as in production, must get its labelled intent: 100%, with no
"Did you mean...?".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from channels.sanitize import sanitize_user_text

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "achilles.tar.gz"
HEADINGS = yaml.safe_load((ROOT / "eval" / "faq_headings.yml").read_text(encoding="utf-8"))[
    "questions"
]


@pytest.fixture(scope="module")
def agent():
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL} (make train)")
    from rasa.core.agent import Agent

    return Agent.load(str(MODEL))


def test_the_set_covers_the_page_topics():
    intents = {q["intent"] for q in HEADINGS}
    assert len(HEADINGS) >= 150
    assert {"ask_what_is_rupture", "ask_causes", "ask_symptoms", "ask_diagnosis"} <= intents


def test_every_faq_heading_gets_its_topic(agent):
    async def parse_all():
        return [await agent.parse_message(sanitize_user_text(q["text"])) for q in HEADINGS]

    parsed = asyncio.run(parse_all())
    wrong = [
        (q["text"], q["intent"], p["intent"]["name"])
        for q, p in zip(HEADINGS, parsed)
        if p["intent"]["name"] != q["intent"]
    ]
    assert wrong == [], f"{len(wrong)}/{len(HEADINGS)} headings answered wrongly"
