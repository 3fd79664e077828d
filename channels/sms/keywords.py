"""Carrier keywords (STOP/START/HELP and friends, the whole message only) and the
channel's fixed answers to them (README.md here, step 4).

Carriers and Twilio expect these answers whatever the conversation is about,
so the channel gives them itself, without the assistant.
"""

from __future__ import annotations

from typing import Optional

from actions.config import load_settings

# Twilio's default opt-out / opt-in / help keywords (Advanced Opt-Out defaults),
# with REVOKE and OPT OUT, which the FCC's 2025 consent rules name as opt-outs too.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


def carrier_keyword(body: Optional[str]) -> Optional[str]:
    """The keyword (upper case) if the whole message is one carrier keyword.

    Twilio matches keywords on the whole message, case-insensitively; we also
    allow surrounding spaces and trailing "." or "!" (erring towards honouring an
    opt-out). "CANCEL" alone is an opt-out (Twilio itself treats it as one), but
    "cancel my request" is not a keyword and goes to the assistant.
    """
    word = " ".join((body or "").strip().rstrip(".!").upper().replace("-", " ").split())
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS:
        return word
    return None


def help_text() -> str:
    s = load_settings()
    return (
        f"{s.practice_name}: automated answers about Achilles tendon rupture. "
        f"Office: {s.office_phone}. In an emergency, call 911. "
        "Reply STOP to opt out. Msg & data rates may apply."
    )


def opt_out_text(form_cancelled: bool = False) -> str:
    s = load_settings()
    cancelled = (
        " Your appointment request was cancelled; nothing was sent to the office."
        if form_cancelled
        else ""
    )
    return (
        f"You are unsubscribed from {s.practice_name} texts and will get no more "
        f"messages.{cancelled} Reply START to resubscribe. Office: {s.office_phone}."
    )


def opt_in_text() -> str:
    s = load_settings()
    return (
        f"You are subscribed again to {s.practice_name} texts. Ask a question about "
        f"Achilles tendon rupture, or call {s.office_phone}. Reply HELP for help, "
        "STOP to opt out."
    )
