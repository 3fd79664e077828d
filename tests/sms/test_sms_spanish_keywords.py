"""Spanish carrier keywords on SMS (issue 19): AYUDA = HELP; ALTO, PARAR,
CANCELAR, BAJA = STOP; their answers are in Spanish. In-process (stub assistant
and sender, tests/sms/test_sms_webhook.py's harness), plus the keyword table."""

from __future__ import annotations

import pytest

from actions.config import load_settings
from channels.sms import keywords
from channels.sms.opt_outs import OptOutStore
from test_sms_webhook import InProcess


@pytest.mark.parametrize(
    "body, keyword",
    [
        ("AYUDA", "AYUDA"),
        ("ayuda", "AYUDA"),
        (" Ayuda! ", "AYUDA"),
        ("ALTO", "ALTO"),
        ("alto.", "ALTO"),
        ("Parar", "PARAR"),
        ("CANCELAR", "CANCELAR"),
        ("cancelar", "CANCELAR"),
        ("baja", "BAJA"),
        ("cancelar mi solicitud", None),  # the form's own cancel phrase
        ("necesito ayuda", None),
        ("alto riesgo?", None),
        ("dar de baja la cita", None),
    ],
)
def test_spanish_keywords_are_whole_message_only(body, keyword):
    assert keywords.carrier_keyword(body) == keyword


def test_spanish_keywords_are_opt_outs_and_help():
    assert {"ALTO", "PARAR", "CANCELAR", "BAJA"} <= keywords.OPT_OUT_KEYWORDS
    assert "AYUDA" in keywords.HELP_KEYWORDS
    assert keywords.keyword_language("ALTO") == "es"
    assert keywords.keyword_language("STOP") == "en"


def test_spanish_replies_keep_the_required_parts():
    settings = load_settings()
    help_es = keywords.help_text("es")
    assert settings.practice_name in help_es and settings.office_phone in help_es
    assert "911" in help_es and "ALTO" in help_es and "tarifas" in help_es
    out_es = keywords.opt_out_text(True, "es")
    assert "START" in out_es and settings.office_phone in out_es
    assert "Su solicitud de cita se canceló" in out_es
    assert keywords.help_text() == keywords.help_text("en")  # English unchanged


@pytest.mark.asyncio
@pytest.mark.parametrize("keyword", ["ALTO", "parar", "Cancelar", "BAJA"])
async def test_spanish_stop_opts_out_and_answers_in_spanish(keyword, tmp_path):
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    number = "+13105550981"
    await harness.post(number, keyword)
    await harness.post(number, "cuales son los sintomas?")  # silenced
    [(to, body, _)] = harness.sent
    assert to == number and body.startswith("Ya no recibirá mensajes de texto")
    assert harness.received == []
    await harness.post(number, "START")
    await harness.post(number, "cuales son los sintomas?")
    assert "subscribed again" in harness.sent[1][1]
    assert len(harness.received) == 1


@pytest.mark.asyncio
async def test_ayuda_gets_the_help_text_in_spanish(tmp_path):
    harness = InProcess(OptOutStore(f"sqlite:///{tmp_path / 'c.db'}"))
    await harness.post("+13105550982", "AYUDA")
    await harness.post("+13105550982", "HELP")
    assert [body for _, body, _ in harness.sent] == [
        keywords.help_text("es"),
        keywords.help_text("en"),
    ]
    assert harness.received == []  # answered by the channel, not the assistant
