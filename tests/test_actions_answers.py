"""The answering actions (actions/answers.py, actions/session.py): topic answers,
the pages' gaps, safety lines, the fallback's "did you mean", hand-offs and the
session start; run with a CollectingDispatcher and a Tracker (tests/trackers.py).
The appointment form's actions: tests/test_actions_appointments.py."""

from __future__ import annotations

import pytest

from actions.answers import (
    ActionAnswerTopic,
    ActionClarifyOrHandoff,
    ActionDefaultFallback,
    ActionHandoff,
    ActionOutOfScope,
)
from actions.config import DEFAULT_OFFICE_PHONE, load_settings
from actions.content import get_content
from actions.session import ActionSessionStart
from trackers import make_tracker, run_action

CONTENT = get_content()


@pytest.mark.parametrize("topic_key", sorted(CONTENT.topics))
@pytest.mark.asyncio
async def test_answer_topic_sends_that_topics_answer_with_follow_ups(topic_key, dispatcher):
    topic = CONTENT.topics[topic_key]
    events = await run_action(ActionAnswerTopic(), dispatcher, make_tracker("q", topic.intent))
    assert events == []
    [message] = dispatcher.messages
    # topics patients ask about when worried also carry the reviewed safety line
    expected = topic.answer + (f"\n\n{CONTENT.safety.safety_line}" if topic.safety_line else "")
    assert message["text"] == expected
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads[: len(topic.related)] == [f"/{CONTENT.topics[k].intent}" for k in topic.related]
    assert payloads[-2:] == ["/request_appointment", "/request_human"]


@pytest.mark.asyncio
async def test_answer_topic_uses_the_short_variant_on_sms(dispatcher):
    topic = CONTENT.topics["recovery"]
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("q", topic.intent, channel="twilio")
    )
    assert dispatcher.messages[0]["text"].startswith(topic.short)


@pytest.mark.asyncio
async def test_moderately_sure_answer_says_so_and_offers_the_runner_up(dispatcher):
    ranking = [
        {"name": "ask_recovery", "confidence": 0.55},
        {"name": "ask_physical_therapy", "confidence": 0.3},
    ]
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("q", "ask_recovery", 0.55, ranking)
    )
    [message] = dispatcher.messages
    assert message["text"].startswith("Here is what our page says about recovery:")
    assert message["buttons"][0]["payload"] == "/ask_physical_therapy"
    # a guess leaves the office's door open in the text itself, not only in buttons
    settings = load_settings()
    assert settings.office_phone in message["text"]
    assert settings.appointment_form_url in message["text"]


@pytest.mark.asyncio
async def test_a_confident_answer_does_not_add_the_contact_lines(dispatcher):
    await run_action(ActionAnswerTopic(), dispatcher, make_tracker("q", "ask_recovery", 0.95))
    [message] = dispatcher.messages
    assert CONTENT.ui["clarify_contact_lead"] not in message["text"]
    assert load_settings().appointment_form_url not in message["text"]


@pytest.mark.asyncio
async def test_second_question_of_a_long_message_is_offered_first(dispatcher):
    tracker = make_tracker("long post", "ask_conservative_treatment")
    tracker.latest_message["secondary_intent"] = "ask_driving"
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert message["text"].startswith(CONTENT.topics["conservative_treatment"].answer)
    assert message["buttons"][0] == {"title": "Driving", "payload": "/ask_driving"}


@pytest.mark.parametrize("key", sorted(CONTENT.uncovered))
@pytest.mark.asyncio
async def test_questions_the_page_does_not_answer_are_handed_off_by_name(key, dispatcher):
    entry = CONTENT.uncovered[key]
    await run_action(ActionAnswerTopic(), dispatcher, make_tracker("q", entry.intent))
    [message] = dispatcher.messages
    text = message["text"]
    assert f"Our page doesn't cover {entry.topic}." in text and DEFAULT_OFFICE_PHONE in text
    assert entry.lead in text
    payloads = [b["payload"] for b in message["buttons"]]
    if entry.closest:  # the closest general answer the page has, and its button
        closest = CONTENT.topics[entry.closest]
        assert closest.short in text and f"/{closest.intent}" in payloads
    assert "/request_appointment" in payloads


@pytest.mark.asyncio
async def test_medicine_and_risk_questions_get_the_reviewed_lead(dispatcher):
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("can i take ibuprofen", "ask_medication")
    )
    assert "ask your doctor before taking" in dispatcher.messages[0]["text"]
    await run_action(
        ActionAnswerTopic(), dispatcher, make_tracker("what can go wrong", "ask_surgery_risks")
    )
    assert "Every surgery has risks" in dispatcher.messages[1]["text"]


@pytest.mark.asyncio
async def test_questions_about_warning_signs_get_the_reviewed_list(dispatcher):
    await run_action(
        ActionAnswerTopic(),
        dispatcher,
        make_tracker("what does a clot feel like", "ask_warning_signs"),
    )
    text = dispatcher.messages[0]["text"]
    assert text == CONTENT.safety.warning_signs
    assert "Call 911" in text and DEFAULT_OFFICE_PHONE in text


@pytest.mark.asyncio
async def test_a_sign_waiting_for_post_op_context_adds_the_named_line(dispatcher):
    tracker = make_tracker("my calf is swollen", "ask_symptoms")
    tracker.latest_message["triage"] = {"pending": ["calf"], "safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "If you've had surgery or are in a cast or boot, calf swelling" in text
    assert "call to the office now" in text


@pytest.mark.asyncio
async def test_a_sign_the_reader_is_unsure_of_gets_its_tiers_line(dispatcher):
    tracker = make_tracker("I have to stop mid-sentence to get air", "ask_surgery_pain")
    tracker.latest_message["triage"] = {"unsure": ["breathing"], "safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "If you have trouble breathing now, call 911" in text

    dispatcher.messages.clear()
    tracker = make_tracker("the pills barely do anything", "ask_surgery_pain")
    tracker.latest_message["triage"] = {"unsure": ["uncontrolled_pain"], "safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    text = dispatcher.messages[0]["text"]
    assert "pain medicine doesn't control after surgery or in a cast or boot" in text
    assert f"call the office now at {DEFAULT_OFFICE_PHONE}" in text


@pytest.mark.asyncio
async def test_an_unsure_safety_guess_adds_the_safety_line(dispatcher):
    tracker = make_tracker("hmm my leg", "ask_symptoms")
    tracker.latest_message["triage"] = {"safety_line": True}
    await run_action(ActionAnswerTopic(), dispatcher, tracker)
    assert dispatcher.messages[0]["text"].endswith(CONTENT.safety.safety_line)


@pytest.mark.asyncio
async def test_answer_topic_hands_off_for_an_intent_without_content(dispatcher):
    await run_action(ActionAnswerTopic(), dispatcher, make_tracker("q", "ask_insurance"))
    text = dispatcher.messages[0]["text"]
    assert DEFAULT_OFFICE_PHONE in text and "don't have information" in text


RANKING = [
    {"name": "nlu_fallback", "confidence": 0.25},
    {"name": "ask_recovery", "confidence": 0.22},
    {"name": "ask_physical_therapy", "confidence": 0.21},
    {"name": "out_of_scope", "confidence": 0.1},
    {"name": "ask_orthotics", "confidence": 0.05},
    {"name": "ask_pars", "confidence": 0.01},
]


def assert_names_phone_and_form(text):
    """Every unsure reply names the office's phone and the online form in its text."""
    settings = load_settings()
    assert settings.office_phone in text, text
    assert settings.appointment_form_url in text, text
    assert CONTENT.safety.safety_line in text  # and the short safety line


@pytest.mark.asyncio
async def test_a_real_tie_asks_did_you_mean_with_phone_and_form_in_the_text(dispatcher):
    tracker = make_tracker("walk when", "nlu_fallback", 0.25, ranking=RANKING)
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" in message["text"]
    assert_names_phone_and_form(message["text"])  # never a bare "Did you mean"
    assert [b["payload"] for b in message["buttons"]] == [
        "/ask_recovery",
        "/ask_physical_therapy",
        "/ask_orthotics",
        "/request_human",
    ]


@pytest.mark.asyncio
async def test_a_tie_on_sms_still_names_phone_and_form(dispatcher):
    tracker = make_tracker("walk when", "nlu_fallback", 0.25, ranking=RANKING, channel="twilio")
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    assert_names_phone_and_form(dispatcher.messages[0]["text"])


@pytest.mark.asyncio
async def test_unsure_without_a_tie_gets_the_named_handoff_of_an_uncovered_theme(dispatcher):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.25},
        {"name": "ask_driving", "confidence": 0.2},
        {"name": "ask_recovery", "confidence": 0.08},
        {"name": "greet", "confidence": 0.05},
    ]
    tracker = make_tracker("car thing after op", "nlu_fallback", 0.25, ranking=ranking)
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" not in message["text"]
    assert f"Our page doesn't cover {CONTENT.uncovered['driving'].topic}." in message["text"]
    assert_names_phone_and_form(message["text"])
    assert "/ask_recovery" in [b["payload"] for b in message["buttons"]]


@pytest.mark.asyncio
async def test_unsure_without_a_tie_or_theme_gets_the_general_handoff(dispatcher):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.25},
        {"name": "ask_orthotics", "confidence": 0.2},
        {"name": "greet", "confidence": 0.05},
        {"name": "ask_pars", "confidence": 0.04},
    ]
    tracker = make_tracker("hmm insoles or", "nlu_fallback", 0.25, ranking=ranking)
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" not in message["text"]
    assert "won't guess" in message["text"]
    assert_names_phone_and_form(message["text"])
    assert [b["payload"] for b in message["buttons"]] == [
        "/ask_orthotics",
        "/ask_pars",
        "/request_appointment",
    ]


@pytest.mark.parametrize(
    "ranking",
    [
        RANKING,
        [{"name": "nlu_fallback", "confidence": 0.2}, {"name": "ask_driving", "confidence": 0.2}],
        [{"name": "nlu_fallback", "confidence": 0.2}, {"name": "ask_causes", "confidence": 0.2}],
        [{"name": "nlu_fallback", "confidence": 0.2}, {"name": "greet", "confidence": 0.2}],
    ],
)
@pytest.mark.asyncio
async def test_every_fallback_reply_names_phone_and_form(ranking, dispatcher):
    for channel in ("rest", "twilio"):
        tracker = make_tracker("??", "nlu_fallback", 0.2, ranking=ranking, channel=channel)
        await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
        assert_names_phone_and_form(dispatcher.messages[-1]["text"])


@pytest.mark.asyncio
async def test_second_fallback_in_a_row_hands_off(dispatcher):
    earlier = [
        {"event": "user", "text": "walk when"},
        {"event": "action", "name": "action_clarify_or_handoff"},
        {"event": "bot", "text": "Did you mean"},
        {"event": "action", "name": "action_listen"},
    ]
    tracker = make_tracker("still unclear", "nlu_fallback", 0.5, ranking=RANKING, events=earlier)
    await run_action(ActionClarifyOrHandoff(), dispatcher, tracker)
    [message] = dispatcher.messages
    assert "Did you mean" not in message["text"]
    assert_names_phone_and_form(message["text"])
    assert CONTENT.contact.answer in message["text"]


@pytest.mark.asyncio
async def test_fallback_without_topic_candidates_hands_off(dispatcher):
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "greet", "confidence": 0.4}]
    await run_action(
        ActionClarifyOrHandoff(), dispatcher, make_tracker("zzz", "nlu_fallback", 0.5, ranking)
    )
    assert_names_phone_and_form(dispatcher.messages[0]["text"])


@pytest.mark.parametrize(
    "action, phrase",
    [
        (ActionHandoff(), "Our staff"),
        (ActionOutOfScope(), "only answer questions about Achilles tendon rupture"),
        (ActionDefaultFallback(), "lost track"),
    ],
)
@pytest.mark.asyncio
async def test_handoff_style_actions_give_phone_and_form(action, phrase, dispatcher):
    events = await run_action(action, dispatcher, make_tracker("x", "out_of_scope"))
    text = dispatcher.messages[0]["text"]
    assert phrase in text and DEFAULT_OFFICE_PHONE in text
    assert_names_phone_and_form(text)
    assert get_content().contact.answer in text
    assert CONTENT.safety.safety_line in text
    assert ", For" not in text  # the lead is a whole sentence
    if isinstance(action, ActionDefaultFallback):
        assert events == [{"event": "rewind", "timestamp": None}]


@pytest.mark.asyncio
async def test_session_start_sends_disclaimer_and_sets_configured_contacts(dispatcher, monkeypatch):
    monkeypatch.setenv("OFFICE_PHONE", "555.000.1111")
    events = await run_action(ActionSessionStart(), dispatcher, make_tracker())
    assert dispatcher.messages[0]["response"] == "utter_disclaimer"
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert events[1]["name"] == "office_phone" and events[1]["value"] == "555.000.1111"
    assert events[-1]["name"] == "action_listen"
