"""Reading the environment: whole numbers, numbers, flags (written once, used by
every settings reader: channels/settings.py, console/settings.py,
stores/form_answers.py, settings/replicas.py)."""

from __future__ import annotations

import os
from typing import Mapping, Optional

TRUTHY = frozenset({"1", "true", "yes", "on"})
FALSY = frozenset({"0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable has a value the process cannot run with."""


def environ(env: Optional[Mapping[str, str]] = None) -> Mapping[str, str]:
    return os.environ if env is None else env


def env_str(name: str, default: str = "", env: Optional[Mapping[str, str]] = None) -> str:
    return (environ(env).get(name) or "").strip() or default


def env_bool(name: str, default: bool = False, env: Optional[Mapping[str, str]] = None) -> bool:
    raw = env_str(name, "", env).lower()
    if not raw:
        return default
    if raw in TRUTHY:
        return True
    if raw in FALSY:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _bounded(name: str, raw: str, value, low, high):
    if low is not None and value < low:
        raise SettingsError(f"{name} must be at least {low}, got {raw!r}")
    if high is not None and value > high:
        raise SettingsError(f"{name} must be at most {high}, got {raw!r}")
    return value


def env_int(
    name: str,
    default: int,
    env: Optional[Mapping[str, str]] = None,
    low: Optional[int] = None,
    high: Optional[int] = None,
) -> int:
    """A whole number from `name` (unset or empty: `default`), within [low, high]."""
    raw = env_str(name, "", env)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    return _bounded(name, raw, value, low, high)


def env_float(
    name: str,
    default: float,
    env: Optional[Mapping[str, str]] = None,
    low: Optional[float] = None,
    high: Optional[float] = None,
) -> float:
    """A number from `name` (unset or empty: `default`), within [low, high]."""
    raw = env_str(name, "", env)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    return _bounded(name, raw, value, low, high)
