"""The practice's settings read from the environment, with documented defaults (README "Configuration").

One place for every value the practice may change; nothing else reads os.environ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_OFFICE_PHONE = "310.651.2366"
# Placeholder until the practice sets its real form address (README).
DEFAULT_APPOINTMENT_FORM_URL = "https://www.example.com/appointment-request"
DEFAULT_PRACTICE_NAME = "Dr. Soomekh's foot and ankle practice"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'conversations.db'}"


@dataclass(frozen=True)
class Settings:
    office_phone: str
    appointment_form_url: str
    practice_name: str
    database_url: str
    content_path: Path
    red_flags_path: Path


def load_settings() -> Settings:
    env = os.environ
    return Settings(
        office_phone=env.get("OFFICE_PHONE") or DEFAULT_OFFICE_PHONE,
        appointment_form_url=env.get("APPOINTMENT_FORM_URL") or DEFAULT_APPOINTMENT_FORM_URL,
        practice_name=env.get("PRACTICE_NAME") or DEFAULT_PRACTICE_NAME,
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        content_path=Path(
            env.get("CONTENT_PATH") or PROJECT_ROOT / "content" / "achilles_content.yml"
        ),
        red_flags_path=PROJECT_ROOT / "content" / "red_flags.yml",
    )
