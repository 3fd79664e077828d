"""The second factor: TOTP codes (RFC 6238) from an authenticator app.

Required by default for the admin and callback roles (CONSOLE_REQUIRE_2FA,
console/settings.py). Enrolled by the user on their Account page, with a QR code
shown only to them (console/views/account.py; `segno` draws it as inline SVG, no
script, nothing fetched), or by an operator with `python -m console enroll-totp
NAME`. The seed is kept in console_users.totp_secret encrypted (`SeedBox`: Fernet,
AES-128-CBC + HMAC-SHA256, from the `cryptography` package) with a key that is not
in the database (CONSOLE_TOTP_KEY, or var/console_totp_key, 0600); the last time
step used is in totp_last_step, so no code is accepted twice (console/auth.py).
Seeds stored in clear by an older console are still read, and encrypted by
`serve` at start and by `rotate-totp-key`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from typing import List, Optional, Sequence

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENCRYPTED_PREFIX = "enc:v1:"


class SeedError(RuntimeError):
    """A stored seed cannot be decrypted with the configured keys."""


def _fernet(key: str) -> Fernet:
    # any long random text (64 hex digits as generated) -> a 32-byte Fernet key
    digest = hashlib.sha256(("achilles-totp-seed:" + key).encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class SeedBox:
    """Encrypts TOTP seeds for the database; `keys[0]` encrypts, every key decrypts."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("no TOTP key")
        self.keys: List[str] = list(keys)
        self._multi = MultiFernet([_fernet(k) for k in self.keys])

    def seal(self, secret: str) -> str:
        return ENCRYPTED_PREFIX + self._multi.encrypt(secret.encode("ascii")).decode("ascii")

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # written in clear by an older console
        try:
            return self._multi.decrypt(stored[len(ENCRYPTED_PREFIX) :].encode("ascii")).decode()
        except InvalidToken:
            raise SeedError(
                "a TOTP seed cannot be decrypted: CONSOLE_TOTP_KEY (or its file) changed "
                "without `rotate-totp-key`"
            ) from None

    def reseal(self, stored: str) -> str:
        """`stored` encrypted with the first key (a seed in clear, or under an old key)."""
        return self.seal(self.open(stored))


def is_sealed(stored: Optional[str]) -> bool:
    return bool(stored) and stored.startswith(ENCRYPTED_PREFIX)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline <svg> element (shown only to the user)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str, issuer: str = "Achilles staff console") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def totp_match(
    secret: str, code: str, now: dt.datetime, last_step: Optional[int] = None
) -> Optional[int]:
    """The time step `code` belongs to (now, or one step either side for clock drift),
    if that step is newer than `last_step`; otherwise None."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
