"""Secrets from the environment: outside development (ACHILLES_ENV=production, or
several replicas) a placeholder ("CHANGE-ME", "secret", "example…"), a value of one or
two repeated characters, or one shorter than 32 characters is refused, so a copied
example file or a forgotten test value never signs cookies or ids in production.
Secrets generated into var/ (64 hex digits) always pass."""

from __future__ import annotations

import re
from typing import List, Mapping, Optional

from settings.mode import development

MIN_SECRET_CHARS = 32
_PLACEHOLDER = re.compile(
    # "xxx" and "todo" only as words: a random key may hold them by chance ("...Axxxq...")
    r"change[\s_\-]*me|changeit|replace[\s_\-]*me|placeholder|example|your[\s_\-]"
    r"|(?:^|[\s_\-.])(?:xxx+|todo)(?:$|[\s_\-.])"
    r"|^(?:secret|password|passw0rd|token|key|test|dev|demo|default|none|null)\d*$",
    re.IGNORECASE,
)


def secret_problems(name: str, value: str, env: Optional[Mapping[str, str]] = None) -> List[str]:
    """Why `value` cannot be used as the secret `name` here ([] when it can)."""
    if development(env):
        return []
    value = (value or "").strip()
    if _PLACEHOLDER.search(value):
        return [f"{name} is a placeholder; set a long random value (README, Configuration)"]
    if len(set(value)) <= 2:
        return [f"{name} is one or two repeated characters; set a long random value"]
    if len(value) < MIN_SECRET_CHARS:
        return [
            f"{name} is shorter than {MIN_SECRET_CHARS} characters; generate one with "
            f'python -c "import secrets; print(secrets.token_hex(32))"'
        ]
    return []
