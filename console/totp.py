"""The optional second factor: TOTP codes (RFC 6238) from an authenticator app.

Enrolled with `python -m console enroll-totp NAME` (console/__main__.py); the
secret is kept in console_users.totp_secret and the last time step used in
totp_last_step, so no code is accepted twice (console/auth.py).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from typing import Optional

import pyotp


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
