"""Realistic multi-turn patient conversations for the load benchmark.

Each conversation: a greeting, 3-6 topic questions (some with the typos patients
make), one quick-reply button payload, and thanks. Seeded, so every run and
both assistants (ours and the `rasa init` baseline) get the same messages.
"""

from __future__ import annotations

import random
from typing import List

GREETINGS = ["hi", "hello", "hey there", "good morning", "hi, I have a question", "hello?"]

QUESTIONS = [
    "what is an achilles tendon rupture",
    "what are the symptoms of a torn achilles?",
    "i heard a pop in my heel playing basketball, what does that mean",
    "how do you know if your achilles is torn",
    "what causes the achilles to rupture",
    "how is a ruptured achilles diagnosed",
    "do i need an mri for my achilles",
    "what happens if i dont treat it",
    "can a torn achilles heal without surgery",
    "can u fix achilles w/o surgery",
    "what are the surgery options",
    "what is PARS surgery?",
    "what is an open repair",
    "does PRP help the tendon heal",
    "how painful is achilles surgery",
    "how long is recovery after achilles surgery",
    "how long am I on crutches after surgery",
    "when can i start physical therapy",
    "do i need orthotics afterwards",
    "who is the doctor",
    "is the office safe to visit",
    # typos
    "waht are the symtoms of achilles rupture",
    "how long does recovry take after surgery",
    "achillies tendon tear treatmnet options",
    "is surgury painfull",
    "can it heal on its own withot an operation",
    "wat is pars",
    "how do they diagnose a torn achiles",
]

BUTTONS = [
    "/ask_recovery",
    "/ask_surgery_options",
    "/ask_symptoms",
    "/ask_conservative_treatment",
    "/ask_physical_therapy",
]

THANKS = ["thanks", "thank you so much", "thx", "thanks, that helps", "great, thank you"]


def conversation(seed: int) -> List[str]:
    """The user messages of one conversation (6-9 turns)."""
    rng = random.Random(seed)
    questions = rng.sample(QUESTIONS, rng.randint(3, 6))
    questions.insert(rng.randint(1, len(questions)), rng.choice(BUTTONS))
    return [rng.choice(GREETINGS), *questions, rng.choice(THANKS)]


def conversations(count: int, seed: int = 0) -> List[List[str]]:
    return [conversation(seed * 1_000_003 + i) for i in range(count)]
