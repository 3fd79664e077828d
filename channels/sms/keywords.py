"""Carrier keywords (STOP/START/HELP and friends, the whole message only) and the
channel's fixed answers to them (README.md here, step 4).

Carriers and Twilio expect these answers whatever the conversation is about,
so the channel gives them itself, without the assistant. The Spanish keywords
(AYUDA = HELP; ALTO, PARAR, CANCELAR, BAJA = STOP) get their answers in
Spanish; the opt-out is recorded by the channel like an English one.
"""

from __future__ import annotations

from typing import Optional

from actions.config import load_settings

# Twilio's default opt-out / opt-in / help keywords (Advanced Opt-Out defaults),
# with REVOKE and OPT OUT, which the FCC's 2025 consent rules name as opt-outs too.
SPANISH_OPT_OUT_KEYWORDS = frozenset({"ALTO", "PARAR", "CANCELAR", "BAJA"})
SPANISH_HELP_KEYWORDS = frozenset({"AYUDA"})
SPANISH_KEYWORDS = SPANISH_OPT_OUT_KEYWORDS | SPANISH_HELP_KEYWORDS
OPT_OUT_KEYWORDS = (
    frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
    )
    | SPANISH_OPT_OUT_KEYWORDS
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"}) | SPANISH_HELP_KEYWORDS


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


def keyword_language(keyword: Optional[str]) -> str:
    """The language to answer a keyword in: Spanish for the Spanish keywords."""
    return "es" if keyword in SPANISH_KEYWORDS else "en"


def help_text(language: str = "en") -> str:
    s = load_settings()
    if language == "es":
        return (
            f"{s.practice_name}: respuestas automáticas sobre la ruptura del tendón de "
            f"Aquiles. Oficina: {s.office_phone}. En una emergencia, llame al 911. "
            "Responda ALTO para no recibir más mensajes. Pueden aplicar tarifas de "
            "mensajes y datos."
        )
    return (
        f"{s.practice_name}: automated answers about Achilles tendon rupture. "
        f"Office: {s.office_phone}. In an emergency, call 911. "
        "Reply STOP to opt out. Msg & data rates may apply."
    )


def opt_out_text(form_cancelled: bool = False, language: str = "en") -> str:
    s = load_settings()
    if language == "es":
        cancelled = (
            " Su solicitud de cita se canceló; no se envió nada a la oficina."
            if form_cancelled
            else ""
        )
        return (
            f"Ya no recibirá mensajes de texto de {s.practice_name}.{cancelled} "
            f"Responda START para volver a suscribirse. Oficina: {s.office_phone}."
        )
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
