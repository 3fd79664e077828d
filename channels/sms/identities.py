"""Phone number -> SMS conversation id: "sms-" + HMAC-SHA256(SMS_ID_SECRET, number).

Conversations, opt-outs and logs name a patient by this keyed hash, never by
the number (README.md here, "Privacy"). The secret comes from
channels/settings.py `sms_id_secret()`.
"""

from __future__ import annotations

import hashlib
import hmac

CONVERSATION_PREFIX = "sms-"


class ConversationIds:
    """Phone number -> conversation id, a keyed hash (never the number itself)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty SMS id secret is not allowed")
        self._secret = secret

    def for_number(self, number: str) -> str:
        normalised = "".join(number.split())
        digest = hmac.new(self._secret, normalised.encode("utf-8"), hashlib.sha256)
        return CONVERSATION_PREFIX + digest.hexdigest()
