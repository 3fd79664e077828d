"""Reading Twilio's webhook request: its form fields, the URL whose signature is
checked, and the empty TwiML answer (the reply goes out later, sender.py)."""

from __future__ import annotations

from typing import List
from urllib.parse import parse_qsl

from sanic import response
from sanic.response import HTTPResponse

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class FormParams(dict):
    """Form fields as name -> list of values, the way RequestValidator reads a MultiDict."""

    def getall(self, name: str) -> List[str]:
        return self[name]

    def first(self, name: str) -> str:
        values = self.get(name) or [""]
        return values[0]


def parse_form(body: bytes) -> FormParams:
    """x-www-form-urlencoded body with blank values kept (Twilio signs them)."""
    params = FormParams()
    for name, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return params


def validation_url(request_url: str, configured_url: str) -> str:
    """The URL whose signature we check: the configured public URL (TWILIO_WEBHOOK_URL,
    needed behind a proxy or TLS terminator), if any; else the request's."""
    return configured_url or request_url


def empty_twiml() -> HTTPResponse:
    """Twilio's answer: 200 and nothing to send now."""
    return response.text(EMPTY_TWIML, status=200, content_type="text/xml; charset=utf-8")
