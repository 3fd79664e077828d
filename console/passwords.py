"""Staff passwords: what is accepted, and how it is hashed.

Policy (OWASP ASVS 2.1): at least 12 characters (spaces allowed inside, any
characters), at most 1024, not one of the 30,000 most common passwords
(console/common_passwords.txt, where the list comes from and its licence), not
containing the user name (of 4 or more characters), and not one or two characters repeated. No composition
rules ("one digit, one capital"). On top of these, the zxcvbn package's own
estimator (Dropbox's, PyPI `zxcvbn` 4.5.0) must score it at least 3 of 4 ("safely
unguessable": about 10^8 guesses or more): it knows sequences ("123456789012"),
keyboard runs ("qwertyuiopas"), repeats ("abcabcabcabc"), dates and years,
l33t substitutions and common words with a suffix ("Password123!", "Welcome2026!"),
and it is given the user name and the practice's own words as guessable inputs.

Hashing: scrypt (hashlib.scrypt) with N = 2^17, r = 8, p = 1 and a 16-character
random salt, stored as ``scrypt:131072:8:1$<salt>$<hex>`` (werkzeug's format, so
werkzeug's check_password_hash can read it too). One hash needs 128 MiB of memory
and about a second of CPU on the reference machine; console/auth.py lets only a
few run at once. Hashes written by earlier versions (werkzeug's scrypt with N =
2^15, or pbkdf2) are still verified, and re-hashed with these parameters at the
next successful login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Optional

from werkzeug.security import check_password_hash
from zxcvbn import zxcvbn

SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 64
METHOD = f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}"
MAX_SCRYPT_N = 2**20  # a hash read from the database cannot ask for more (1 GiB)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
MIN_ZXCVBN_SCORE = 3
# words of this site an attacker would try first, with the user name
SITE_WORDS = ("achilles", "soomekh", "console", "tendon", "rupture", "foot", "ankle", "clinic")


class PasswordError(ValueError):
    pass


def scrypt_maxmem(n: int, r: int, p: int) -> int:
    """Memory OpenSSL's scrypt needs (128·r·(N + p + 2) bytes), plus 1 MiB headroom;
    hashlib's default limit (32 MiB) is far below what N = 2^17 needs (128 MiB)."""
    return 128 * r * (n + p + 2) + (1 << 20)


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt.encode("utf-8"),
        n=n,
        r=r,
        p=p,
        maxmem=scrypt_maxmem(n, r, p),
        dklen=SCRYPT_DKLEN,
    ).hex()


def hash_password(password: str) -> str:
    salt = secrets.token_urlsafe(12)  # 16 characters, never "$"
    return f"{METHOD}${salt}${_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)}"


def _scrypt_params(stored: str):
    method = stored.split("$", 1)[0]
    parts = method.split(":")
    if parts[0] != "scrypt" or len(parts) != 4:
        return None
    try:
        n, r, p = (int(x) for x in parts[1:])
    except ValueError:
        return None
    return n, r, p


def verify_password(stored: str, password: str) -> bool:
    """True when `password` matches the stored hash (this module's, or an older werkzeug one)."""
    if not stored or password is None:
        return False
    params = _scrypt_params(stored)
    if params is None:  # e.g. pbkdf2 written by an older werkzeug
        return check_password_hash(stored, password)
    n, r, p = params
    if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    try:
        _, salt, expected = stored.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


def needs_rehash(stored: str) -> bool:
    params = _scrypt_params(stored or "")
    return params is None or params[0] < SCRYPT_N or params[1] < SCRYPT_R


@lru_cache(maxsize=1)
def common_passwords() -> FrozenSet[str]:
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


def check_new_password(password: str, username: Optional[str] = None) -> None:
    """Raises PasswordError with a message for the person choosing the password."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordError(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")
    if password.strip() != password:
        raise PasswordError("The password must not start or end with spaces.")
    lowered = password.lower()
    if lowered in common_passwords() or "".join(lowered.split()) in common_passwords():
        raise PasswordError("This password is one of the most common passwords; choose another.")
    if len(set(lowered)) < 3:
        raise PasswordError("The password repeats one or two characters; choose another.")
    if username and len(username) >= 4 and username.lower() in lowered:
        raise PasswordError("The password must not contain the user name.")
    estimate = zxcvbn(password[:100], user_inputs=[u for u in (username,) if u] + list(SITE_WORDS))
    if estimate["score"] < MIN_ZXCVBN_SCORE:
        feedback = estimate.get("feedback") or {}
        hint = " ".join(
            part
            for part in [feedback.get("warning") or ""] + list(feedback.get("suggestions") or [])
            if part
        )
        raise PasswordError(
            "This password is too easy to guess"
            + (f" ({hint.strip()})" if hint.strip() else "")
            + ". A few unrelated words make a strong one."
        )
