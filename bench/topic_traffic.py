"""A week of patient traffic with known unanswered themes (issue 20's topics report).

Each theme is a question the page does not answer, asked in many own-worded ways,
with the reason the assistant would give it (a named hand-off's intent, a fallback,
"Did you mean…?", out of scope, another language). Used by
tests/console/test_console_topics.py (purity and coverage of the themes) and
bench/bench_topics.py (the job's run time on 10,000 conversations). Written for
this purpose, not taken from real patients.
"""

from __future__ import annotations

import random
import uuid
from typing import Dict, Iterator, List, Optional, Tuple

from bench.synthetic import ConversationWriter, _ranking

# theme -> (intent the NLU gave, the action that answered, messages)
THEMES: Dict[str, Tuple[str, str, List[str]]] = {
    "driving": (
        "ask_driving",
        "action_answer_topic",
        [
            "when can I drive after achilles surgery",
            "is it safe to drive with the boot on my right foot",
            "how many weeks until I can drive a car again",
            "can I drive an automatic with a left leg cast",
            "my right achilles was repaired, when am I allowed to drive",
            "can I get behind the wheel in a walking boot",
            "when did other patients start driving after the repair",
            "is driving with the CAM boot legal",
            "how soon can I drive to work after the operation",
            "can I drive myself home from the surgery center",
        ],
    ),
    "insurance": (
        "ask_cost_insurance",
        "action_answer_topic",
        [
            "does my insurance cover achilles surgery",
            "how much does the PARS repair cost without insurance",
            "do you accept medicare for the tendon repair",
            "what will I pay out of pocket for the operation",
            "is the surgery covered by blue shield PPO",
            "do you take kaiser insurance",
            "how much is a consultation with the doctor",
            "can I get a price estimate for surgery",
            "does insurance pay for the walking boot",
            "do you offer payment plans for the surgery",
        ],
    ),
    "sleeping_boot": (
        "nlu_fallback",
        "action_clarify_or_handoff",
        [
            "do I have to sleep with the boot on",
            "can I take the boot off at night to sleep",
            "is it ok to sleep without the splint",
            "how should I sleep with the boot on my leg",
            "my boot keeps me awake at night can I remove it while sleeping",
            "should the boot stay on in bed",
            "what position should I sleep in with a walking boot",
            "can I loosen the boot straps at night",
            "sleeping in the boot is uncomfortable, is that normal",
            "do people wear the boot to bed after the repair",
        ],
    ),
    "shower": (
        "nlu_fallback",
        "action_default_fallback",
        [
            "how do I shower with a cast on",
            "can I get the splint wet in the shower",
            "how to take a bath with my leg in a boot",
            "is there a cover to keep the cast dry when showering",
            "can the incision get wet when I shower",
            "when can I shower normally after the surgery",
            "how do I wash with the boot on",
            "should I sit on a chair to shower with the cast",
            "my cast got wet in the shower what now",
            "what do I use to keep my boot dry for a bath",
        ],
    ),
    "parking": (
        "out_of_scope",
        "action_out_of_scope",
        [
            "where do I park when I come to the office",
            "is there parking near the clinic",
            "does the office validate parking",
            "how much is parking at your building",
            "is there handicap parking at the office",
            "can I be dropped off at the front entrance of the office",
            "which parking garage is closest to the practice",
            "is street parking available near you",
            "do you have valet parking",
            "where is the parking entrance for the clinic",
        ],
    ),
    "work_note": (
        "nlu_fallback",
        "action_clarify_or_handoff",
        [
            "can the doctor write me a note for work",
            "I need a letter for my employer about the surgery",
            "how do I get disability paperwork filled out",
            "can you fill out my FMLA forms",
            "my job wants a doctor's note for time off",
            "who do I ask for a work excuse letter",
            "can I get a return to work note",
            "does the office complete short term disability forms",
            "I need documentation for my boss about the tendon rupture",
            "how long does it take to get the work forms back",
        ],
    ),
}
PREFIXES = ["", "hi, ", "quick question: ", "hello, ", "sorry to bother you, ", "question - "]
SUFFIXES = ["", "?", " thanks", " please", " thank you!", "??"]
# answered from the page: not flagged
ANSWERED = [
    ("ask_recovery", "how long is recovery after achilles surgery"),
    ("ask_symptoms", "what does a ruptured achilles feel like"),
    ("ask_pars", "what is the PARS procedure"),
    ("ask_doctor", "who is Dr. Soomekh"),
]


def variant(rng: random.Random, text: str) -> str:
    return rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)


def theme_conversation(
    rng: random.Random, start: float, theme: str, channel: str = "socketio"
) -> Tuple[str, List[dict], str]:
    """One conversation: maybe an answered question, then one flagged message of
    `theme`. Returns (sender, event rows, the flagged text)."""
    intent, action, texts = THEMES[theme]
    sender = uuid.UUID(int=rng.getrandbits(128)).hex
    w = ConversationWriter(sender, start, channel)
    w.session_start()
    if rng.random() < 0.5:
        answered_intent, answered_text = rng.choice(ANSWERED)
        w.user(answered_text, answered_intent, 0.93, _ranking(rng, answered_intent))
        w.reply("action_answer_topic", "(answer from the page)")
    text = variant(rng, rng.choice(texts))
    w.user(text, intent, 0.42 if intent == "nlu_fallback" else 0.9, _ranking(rng, intent))
    w.reply(action, "(hand-off, fallback or out of scope reply)")
    return sender, w.rows, text


def week(
    rng: random.Random, start: float, per_theme: int = 20, answered: int = 60
) -> Iterator[Tuple[Optional[str], List[dict]]]:
    """A week of conversations: `per_theme` flagged per theme and `answered` that
    were answered from the page. Yields (theme or None, rows)."""
    plan: List[Optional[str]] = [t for t in THEMES for _ in range(per_theme)] + [None] * answered
    rng.shuffle(plan)
    for i, theme in enumerate(plan):
        ts = start + i * (7 * 86400 / len(plan))
        if theme is None:
            intent, text = rng.choice(ANSWERED)
            sender = uuid.UUID(int=rng.getrandbits(128)).hex
            w = ConversationWriter(sender, ts, "rest")
            w.session_start()
            w.user(text, intent, 0.95, _ranking(rng, intent))
            w.reply("action_answer_topic", "(answer from the page)")
            yield None, w.rows
        else:
            _, rows, _ = theme_conversation(rng, ts, theme)
            yield theme, rows
