"""Sending a text through Twilio's REST API (Messages.json), with retries.

Plain aiohttp rather than twilio's Client: natively async (no thread pool),
our own retry policy (429, 5xx, connection errors and time-outs, with bounded
exponential back-off; nothing else), no logging of request parameters (the
patient's number), and one base URL a test can point at a fake API. More in
README.md here, "Sending".
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import aiohttp

from channels.settings import SmsSettings

logger = logging.getLogger(__name__)

# Twilio error codes meaning "this recipient has opted out" (Advanced Opt-Out).
UNSUBSCRIBED_ERROR_CODES = frozenset({21610})
MAX_BACKOFF_SECONDS = 30.0


class SendOutcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    detail: str = ""  # why it failed: status and Twilio error code, never the number


def _retry_after_seconds(headers: Mapping[str, str]) -> Optional[float]:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


class TwilioMessageSender:
    """Creates messages through Twilio's REST API (module docstring: why aiohttp
    rather than twilio's Client). Logs conversation ids, never numbers."""

    def __init__(self, settings: SmsSettings) -> None:
        self._settings = settings
        self._url = (
            f"{settings.api_base_url}/2010-04-01/Accounts/{settings.account_sid}/Messages.json"
        )
        self._auth = aiohttp.BasicAuth(settings.account_sid, settings.auth_token)
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.send_timeout_seconds),
                headers={"User-Agent": "achilles-assistant-sms/1"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _form(self, to: str, body: str) -> Dict[str, str]:
        form = {"To": to, "Body": body}
        if self._settings.messaging_service_sid:
            form["MessagingServiceSid"] = self._settings.messaging_service_sid
        else:
            form["From"] = self._settings.twilio_number
        return form

    def _backoff(self, attempt: int, retry_after: Optional[float]) -> float:
        delay = self._settings.send_backoff_seconds * 2 ** (attempt - 1)
        delay = min(delay * random.uniform(0.8, 1.2), MAX_BACKOFF_SECONDS)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
        return delay

    async def send(self, to: str, body: str, conversation_id: str) -> SendResult:
        tries = self._settings.send_max_tries
        problem = "no attempt"
        for attempt in range(1, tries + 1):
            retry_after: Optional[float] = None
            try:
                async with self._client().post(
                    self._url, data=self._form(to, body), auth=self._auth
                ) as resp:
                    if 200 <= resp.status < 300:
                        return SendResult(SendOutcome.SENT)
                    code = await self._error_code(resp)
                    problem = f"HTTP {resp.status}, Twilio error {code}"
                    if resp.status != 429 and resp.status < 500:
                        if code in UNSUBSCRIBED_ERROR_CODES:
                            return SendResult(SendOutcome.UNSUBSCRIBED, problem)
                        return SendResult(SendOutcome.FAILED, f"{problem}, not retried")
                    retry_after = _retry_after_seconds(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                problem = f"{type(exc).__name__}"
            if attempt < tries:
                delay = self._backoff(attempt, retry_after)
                logger.warning(
                    "SMS for conversation %s: attempt %d/%d failed (%s); retrying in %.2fs",
                    conversation_id,
                    attempt,
                    tries,
                    problem,
                    delay,
                )
                await asyncio.sleep(delay)
        return SendResult(SendOutcome.FAILED, f"{tries} attempts, last: {problem}")

    @staticmethod
    async def _error_code(resp: aiohttp.ClientResponse) -> Optional[int]:
        """Twilio's numeric error code; its message may quote the number, so it is not kept."""
        try:
            body = await resp.json(content_type=None)
            return int(body.get("code")) if isinstance(body, dict) and body.get("code") else None
        except Exception:
            return None
