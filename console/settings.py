"""Console settings from the environment (documented in console/README.md).

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | sqlite:///<project>/var/conversations.db | same database as Rasa's tracker store |
| HOST | 127.0.0.1 | interface `serve` listens on |
| CONSOLE_PORT | 8090 | port `serve` listens on |
| CONSOLE_SECRET_KEY | (generated once into var/console_secret_key, 0600; required with REPLICAS>1) | signs session cookies and CSRF tokens |
| CONSOLE_SECURE_COOKIES | false | `true` behind HTTPS: cookies get the Secure flag |
| CONSOLE_TIMEZONE | America/Los_Angeles | the office's time zone for dates shown and date filters |
| CONSOLE_VAR_DIR | <project>/var | where the generated secret key is kept |
| CONSOLE_SESSION_HOURS | 8 | a login lasts at most this long |
| CONSOLE_LOCKOUT_MINUTES | 15 | lock-out after 5 failed logins for a user name |
| OFFICE_PHONE | 310.651.2366 | the practice's public number: never masked |
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from actions.config import DEFAULT_DATABASE_URL, DEFAULT_OFFICE_PHONE, PROJECT_ROOT
from cluster.settings import cluster_mode, missing_secret

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8090
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TIMEZONE = "America/Los_Angeles"
MAX_FAILED_LOGINS = 5
SECRET_FILE_NAME = "console_secret_key"


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ConsoleSettings:
    database_url: str
    host: str
    port: int
    secure_cookies: bool
    timezone: str
    var_dir: Path
    session_hours: float
    lockout_minutes: float
    office_phone: str
    secret_key_env: Optional[str]
    domain_path: Path
    cluster: bool = False  # several replicas (cluster/settings.py): no generated key

    def secret_key(self) -> str:
        """CONSOLE_SECRET_KEY, or a key generated once into var/ (mode 0600)."""
        if self.secret_key_env:
            return self.secret_key_env
        if self.cluster:  # several console processes must share one key
            raise missing_secret("CONSOLE_SECRET_KEY")
        path = self.var_dir / SECRET_FILE_NAME
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                logger.warning("%s is readable by others (mode %o); fixing to 0600", path, mode)
                path.chmod(0o600)
            return path.read_text(encoding="utf-8").strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
        logger.warning(
            "CONSOLE_SECRET_KEY is not set: generated a key into %s (mode 0600). "
            "Set CONSOLE_SECRET_KEY when running several console processes.", path)
        return key


def load_console_settings(env: Optional[Mapping[str, str]] = None) -> ConsoleSettings:
    env = os.environ if env is None else env
    return ConsoleSettings(
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        host=env.get("HOST") or DEFAULT_HOST,
        port=int(env.get("CONSOLE_PORT") or DEFAULT_PORT),
        secure_cookies=_truthy(env.get("CONSOLE_SECURE_COOKIES")),
        timezone=env.get("CONSOLE_TIMEZONE") or DEFAULT_TIMEZONE,
        var_dir=Path(env.get("CONSOLE_VAR_DIR") or PROJECT_ROOT / "var"),
        session_hours=float(env.get("CONSOLE_SESSION_HOURS") or 8),
        lockout_minutes=float(env.get("CONSOLE_LOCKOUT_MINUTES") or 15),
        office_phone=env.get("OFFICE_PHONE") or DEFAULT_OFFICE_PHONE,
        secret_key_env=env.get("CONSOLE_SECRET_KEY") or None,
        domain_path=Path(env.get("CONSOLE_DOMAIN_PATH") or PROJECT_ROOT / "domain.yml"),
        cluster=cluster_mode(env),
    )
