"""The website widget's conversation ids: minted and signed by the server.

"web-<nonce>-<tag>", the tag an HMAC-SHA256 of the nonce (128 bits, key
WIDGET_ID_SECRET, channels/settings.py). A browser may keep the id it was
given (a reload continues the conversation) but cannot choose another
conversation's id: an unsigned or forged id is replaced by a fresh one, and
the REST channel refuses "web-" ids (channels/rest.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

CONVERSATION_PREFIX = "web-"
SIGNED_SESSION_ID = re.compile(r"web-([0-9a-f]{32})-([0-9a-f]{32})")


class SessionIds:
    """Widget conversation ids: "web-" + random nonce + "-" + HMAC-SHA256 tag (128 bits)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty widget id secret is not allowed")
        self._secret = secret

    def _tag(self, nonce: str) -> str:
        message = f"widget-session:{nonce}".encode("ascii")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def mint(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{CONVERSATION_PREFIX}{nonce}-{self._tag(nonce)}"

    def verify(self, value: Any) -> bool:
        match = SIGNED_SESSION_ID.fullmatch(value) if isinstance(value, str) else None
        return bool(match) and hmac.compare_digest(match.group(2), self._tag(match.group(1)))
