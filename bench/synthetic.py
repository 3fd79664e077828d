"""Synthetic conversations as Rasa 3.6 writes them to the `events` table.

Used by bench/bench_list_page.py (10,000 conversations) and by tests that need
old conversations (retention). The JSON shapes copy real rows written by this
project's Rasa server (action_session_start, disclaimer, session_started, slots,
user with parse_data and intent_ranking, user_featurization, action, bot).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Sequence

import sqlalchemy as sa

from console.db import events, rasa_metadata

META = {"model_id": "synthetic0000000000000000000000", "assistant_id": "achilles_faq_assistant"}
DISCLAIMER = (
    "I'm the practice's virtual assistant. I share general information from our "
    "website about Achilles tendon rupture. It is not medical advice or a diagnosis. "
    "In an emergency, call 911."
)
OFFICE = "310.651.2366"

TOPICS = {
    "ask_symptoms": [
        "what does a ruptured achilles feel like",
        "I heard a pop in my heel is that a tear",
        "can't stand on my toes after a snap in my calf",
    ],
    "ask_recovery": [
        "how long until I can walk after surgery",
        "when can I stop wearing the boot",
        "how long is recovery from achilles repair",
    ],
    "ask_surgery_options": [
        "do I need surgery for a torn achilles",
        "what kinds of surgery are there",
    ],
    "ask_conservative_treatment": ["can it heal without surgery", "is a cast enough to heal it"],
    "ask_pars": ["what is the minimally invasive repair", "how small is the incision with PARS"],
    "ask_physical_therapy": ["when do I start physical therapy", "what exercises after the repair"],
    "ask_diagnosis": ["do I need an MRI", "how does the doctor know it is torn"],
    "ask_doctor": ["who is Dr. Soomekh", "is the doctor experienced with achilles surgery"],
}
FALLBACK_TEXTS = [
    "my foot thing from before is weird again",
    "the other one hurts too hmm",
    "what about the stuff they said last time",
]
OOS_TEXTS = ["do you take blue cross insurance", "what's the weather tomorrow", "my knee hurts"]
EMERGENCY_TEXTS = [
    "my calf is hot and swollen after surgery",
    "short of breath and chest pain since the cast",
]
HANDOFF_TEXTS = ["can I talk to a real person", "can someone call me back"]
FIRST_NAMES = ["Maria", "James", "Aiko", "Daniel", "Priya", "Luis", "Emma", "Omar"]
LAST_NAMES = ["Lopez", "Smith", "Tanaka", "Cohen", "Patel", "Garcia", "Brown", "Haddad"]
CHANNELS = [("rest", 0.70), ("socketio", 0.25), ("twilio", 0.05)]


def ensure_events_table(engine: sa.engine.Engine) -> None:
    rasa_metadata.create_all(engine)


class ConversationWriter:
    """Builds the event rows of one conversation with increasing timestamps."""

    def __init__(self, sender_id: str, start: float, channel: str) -> None:
        self.sender_id, self.ts, self.channel = sender_id, start, channel
        self.rows: List[Dict[str, Any]] = []

    def _add(
        self,
        type_name: str,
        payload: Dict[str, Any],
        intent: Optional[str] = None,
        action: Optional[str] = None,
        step: float = 0.01,
    ) -> None:
        self.ts += step
        data = {"event": type_name, "timestamp": self.ts, "metadata": dict(META), **payload}
        self.rows.append(
            dict(
                sender_id=self.sender_id,
                type_name=type_name,
                timestamp=self.ts,
                intent_name=intent,
                action_name=action,
                data=json.dumps(data),
            )
        )

    def action(self, name: str, policy: Optional[str] = "RulePolicy") -> None:
        self._add(
            "action",
            {
                "name": name,
                "policy": policy,
                "confidence": 1.0,
                "action_text": None,
                "hide_rule_turn": False,
            },
            action=name,
        )

    def bot(self, text: str, buttons: Sequence[Dict[str, str]] = ()) -> None:
        self._add(
            "bot",
            {
                "text": text,
                "data": {
                    "elements": None,
                    "quick_replies": None,
                    "buttons": list(buttons) or None,
                    "attachment": None,
                    "image": None,
                    "custom": None,
                },
            },
        )

    def slot(self, name: str, value: Any) -> None:
        self._add("slot", {"name": name, "value": value}, action=name)

    def session_start(self) -> None:
        self.action("action_session_start", policy=None)
        self.bot(DISCLAIMER)
        self._add("session_started", {})
        self.slot("office_phone", OFFICE)
        self.slot("appointment_form_url", "https://www.example.com/appointment-request")
        self.action("action_listen", policy=None)

    def user(
        self,
        text: str,
        intent: str,
        confidence: float,
        ranking: Sequence[tuple] = (),
        red_flag: Optional[str] = None,
        think: float = 20.0,
    ) -> None:
        intent_ranking = [{"name": intent, "confidence": confidence}] + [
            {"name": n, "confidence": c} for n, c in ranking
        ]
        parse = {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [],
            "text": text,
            "message_id": uuid.uuid4().hex,
            "metadata": {},
            "text_tokens": [],
            "intent_ranking": intent_ranking,
        }
        if red_flag:
            parse["triage"] = {
                "tier": intent,
                "categories": [red_flag],
                "decided_by": "rules",
                "pending": [],
                "asked_about": [],
                "post_op_context": True,
                "safety_line": False,
            }
        self._add(
            "user",
            {
                "text": text,
                "parse_data": parse,
                "input_channel": self.channel,
                "message_id": parse["message_id"],
            },
            intent=intent,
            step=think,
        )
        self._add("user_featurization", {"use_text_for_featurization": False})

    def reply(self, action: str, text: str, buttons: Sequence[Dict[str, str]] = ()) -> None:
        self.action(action)
        self.bot(text, buttons)
        self.action("action_listen")


def _ranking(rng: random.Random, exclude: str) -> List[tuple]:
    names = [n for n in TOPICS if n != exclude]
    rng.shuffle(names)
    conf = [round(rng.uniform(0.01, 0.2), 4) for _ in range(3)]
    return list(zip(names[:3], sorted(conf, reverse=True)))


def conversation(
    rng: random.Random, sender_id: str, start: float, channel: str, kind: Optional[str] = None
) -> List[Dict[str, Any]]:
    w = ConversationWriter(sender_id, start, channel)
    w.session_start()
    kind = (
        kind
        or rng.choices(
            ["topic", "fallback", "oos", "emergency", "handoff", "appointment"],
            weights=[55, 12, 8, 3, 10, 12],
        )[0]
    )
    if rng.random() < 0.4:
        w.user("hi", "greet", 0.99, _ranking(rng, "greet"))
        w.reply("utter_greet", "Hi! I can answer questions about Achilles tendon rupture.")
    for _ in range(rng.randint(1, 3)):
        intent = rng.choice(list(TOPICS))
        w.user(
            rng.choice(TOPICS[intent]),
            intent,
            round(rng.uniform(0.6, 0.99), 4),
            _ranking(rng, intent),
        )
        w.reply("action_answer_topic", f"(answer about {intent.replace('_', ' ')})")
    if kind == "fallback":
        ranking = _ranking(rng, "")
        w.user(rng.choice(FALLBACK_TEXTS), "nlu_fallback", 0.5, ranking)
        w.reply(
            "action_clarify_or_handoff",
            "Sorry, I'm not sure I understood. Did you mean:",
            [
                {"title": "Recovery", "payload": "/ask_recovery"},
                {"title": "None of these", "payload": "/request_human"},
            ],
        )
    elif kind == "oos":
        w.user(rng.choice(OOS_TEXTS), "out_of_scope", 0.9, _ranking(rng, ""))
        w.reply(
            "action_out_of_scope",
            f"I can only answer questions about Achilles tendon rupture. Call {OFFICE}.",
        )
    elif kind == "emergency":
        w.user(rng.choice(EMERGENCY_TEXTS), "emergency", 1.0, _ranking(rng, ""), red_flag="dvt")
        w.reply(
            "utter_emergency", f"This could be a medical emergency. Call 911. Office: {OFFICE}."
        )
    elif kind == "handoff":
        w.user(rng.choice(HANDOFF_TEXTS), "request_human", 0.97, _ranking(rng, ""))
        w.reply("action_handoff", f"Our staff will be glad to help. Call the office at {OFFICE}.")
    elif kind == "appointment":
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        phone = f"(310) 555-{rng.randint(0, 9999):04d}"
        w.user("I'd like to book an appointment", "request_appointment", 0.99, _ranking(rng, ""))
        w.action("utter_appointment_intro")
        w.bot("I can send the office a request to call you back about an appointment.")
        w.action("appointment_form")
        w._add("active_loop", {"name": "appointment_form"}, action="appointment_form")
        w.slot("requested_slot", "patient_name")
        w.bot("What is your full name?")
        w.action("action_listen")
        for slot, text, intent in [
            ("patient_name", name, "nlu_fallback"),
            ("patient_phone", phone, "out_of_scope"),
            ("preferred_time", "weekday mornings", "greet"),
            ("visit_reason", "possible Achilles tear", "ask_symptoms"),
        ]:
            w.user(text, intent, 0.5 if intent == "nlu_fallback" else 0.7, _ranking(rng, intent))
            w.slot(slot, text)
            w.action("appointment_form")
            w.slot(slot, text)
            w.bot("Next question")
            w.action("action_listen")
        w.user("yes", "affirm", 0.99, _ranking(rng, "affirm"))
        w.slot("contact_consent", True)
        w.action("appointment_form")
        w._add("active_loop", {"name": None}, action=None)
        w.reply(
            "action_submit_appointment",
            f"Thank you, {name.split()[0]}. The office will call you at {phone}.",
        )
    if rng.random() < 0.5:
        w.user("thanks", "thanks", 0.99, _ranking(rng, "thanks"))
        w.reply("utter_you_are_welcome", "You're welcome!")
    return w.rows


def sender_for(rng: random.Random, channel: str) -> str:
    if channel == "twilio":
        return f"+1310555{rng.randint(0, 9999):04d}-{uuid.UUID(int=rng.getrandbits(128)).hex[:6]}"
    return uuid.UUID(int=rng.getrandbits(128)).hex


def generate(
    n: int, days: int = 90, seed: int = 42, now: Optional[float] = None
) -> Iterator[List[Dict[str, Any]]]:
    """Yields the event rows of n conversations spread over the last `days` days."""
    rng = random.Random(seed)
    now = now or time.time()
    names, weights = zip(*CHANNELS)
    starts = sorted(now - rng.uniform(600, days * 86400) for _ in range(n))
    for start in starts:
        channel = rng.choices(names, weights)[0]
        yield conversation(rng, sender_for(rng, channel), start, channel)


def seed(
    engine: sa.engine.Engine, n: int, days: int = 90, seed_value: int = 42, batch_rows: int = 20000
) -> int:
    """Inserts n synthetic conversations; returns the number of event rows."""
    ensure_events_table(engine)
    pending: List[Dict[str, Any]] = []
    total = 0
    with engine.begin() as conn:
        for rows in generate(n, days, seed_value):
            pending.extend(rows)
            if len(pending) >= batch_rows:
                conn.execute(events.insert(), pending)
                total += len(pending)
                pending = []
        if pending:
            conn.execute(events.insert(), pending)
            total += len(pending)
    return total


def insert_conversation(
    engine: sa.engine.Engine,
    sender_id: str,
    start: float,
    kind: str = "topic",
    channel: str = "rest",
    seed_value: int = 7,
) -> int:
    ensure_events_table(engine)
    rows = conversation(random.Random(seed_value), sender_id, start, channel, kind)
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
    return len(rows)
