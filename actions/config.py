"""The practice's settings, for the actions (they live in settings/practice.py,
which every process uses; this name is kept for the actions' imports)."""

from settings.practice import (  # noqa: F401 (re-exported)
    DEFAULT_APPOINTMENT_FORM_URL,
    DEFAULT_DATABASE_URL,
    DEFAULT_OFFICE_PHONE,
    DEFAULT_PRACTICE_NAME,
    PROJECT_ROOT,
    Settings,
    load_settings,
)
