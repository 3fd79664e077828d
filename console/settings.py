"""Console settings from the environment (documented in console/README.md).

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | sqlite:///<project>/var/conversations.db | same database as Rasa's tracker store |
| CONSOLE_HOST | 127.0.0.1 | interface `serve` listens on (never HOST; empty is refused) |
| CONSOLE_PORT | 8090 | port `serve` listens on |
| CONSOLE_SECRET_KEY | (generated once into var/console_secret_key, 0600; required with REPLICAS>1) | signs session cookies and CSRF tokens |
| CONSOLE_PUBLIC_URL | (empty) | the console's address as staff open it, e.g. https://console.example.org |
| CONSOLE_SECURE_COOKIES | true when CONSOLE_PUBLIC_URL starts with https:// | `true` behind HTTPS: cookies get the Secure flag, responses HSTS |
| CONSOLE_TRUSTED_PROXIES | 0 | reverse proxies in front of the console whose X-Forwarded-For/-Proto are believed |
| CONSOLE_TIMEZONE | America/Los_Angeles | the office's time zone for dates shown and date filters |
| CONSOLE_VAR_DIR | <project>/var | where the generated secret key is kept |
| CONSOLE_SESSION_IDLE_MINUTES | 30 | a session ends after this long without a request |
| CONSOLE_SESSION_MAX_HOURS | 12 (or CONSOLE_SESSION_HOURS) | a session ends this long after the login, whatever happens |
| CONSOLE_LOCKOUT_MINUTES | 15 | lock-out after 5 failed logins for a user name |
| CONSOLE_LOGIN_FAILURES_PER_IP | 10 | failed logins from one client address per window; more get 429 |
| CONSOLE_LOGIN_FAILURES_GLOBAL | 200 | failed logins from all addresses together per window; more get 429 |
| CONSOLE_LOGIN_WINDOW_MINUTES | 15 | the window of the two limits above |
| CONSOLE_REQUIRE_2FA | roles | which roles need a TOTP code: `roles` (default: admin and callback, who see names and phone numbers), `all`/`true` (every role), `off`/`false` (nobody: a demo only). A user who needs one and has none can only enrol it (Account page) |
| CONSOLE_TOTP_KEY | (generated once into var/console_totp_key, 0600; required with REPLICAS>1) | encrypts the TOTP seeds in console_users (Fernet); several keys comma-separated: the first encrypts, all decrypt (rotation: `python -m console rotate-totp-key`) |
| CONSOLE_TOTP_KEY_FILE | <CONSOLE_VAR_DIR>/console_totp_key | where the generated TOTP key is kept (outside the database) |
| CONSOLE_EXPORT_MAX_ROWS | 5000 | a CSV export with more conversations is refused (narrow the filters) |
| OFFICE_PHONE | 310.651.2366 | the practice's public number: never masked |
| RETENTION_DAYS | 90 | `serve` deletes conversations older than this (console/retention.py); 0: off |
| RETENTION_INTERVAL_MINUTES | 60 | how often `serve` runs the retention job |
| CONSOLE_REFRESH_SECONDS | 60 | `serve` folds new events into the summaries this often (0: only on requests) |
| CONSOLE_DOMAIN_PATH | <project>/domain.yml | where the intents offered for corrections come from |

Nothing else in console/ reads the environment.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import FrozenSet, List, Mapping, Optional

from actions.config import DEFAULT_DATABASE_URL, DEFAULT_OFFICE_PHONE, PROJECT_ROOT
from console.roles import ROLES
from settings.env import env_float, env_int
from settings.replicas import cluster_mode, missing_secret
from settings.secrets import secret_problems
from stores.secret_files import read_or_create_secret

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8090
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TIMEZONE = "America/Los_Angeles"
DEFAULT_RETENTION_DAYS = 90
DEFAULT_RETENTION_INTERVAL_MINUTES = 60.0
DEFAULT_REFRESH_SECONDS = 60.0
MAX_FAILED_LOGINS = 5
SECRET_FILE_NAME = "console_secret_key"
TOTP_KEY_FILE_NAME = "console_totp_key"
# who needs a second factor by default: the roles that see names and phone numbers
# (admin: everything; callback: the appointment queue)
DEFAULT_2FA_ROLES = frozenset({"admin", "callback"})


def require_2fa_roles(value: Optional[str]) -> FrozenSet[str]:
    """CONSOLE_REQUIRE_2FA: roles (default) | all / true | off / false | a comma list."""
    raw = (value or "").strip().lower()
    if raw in ("", "roles", "default"):
        return DEFAULT_2FA_ROLES
    if raw in ("all", "true", "1", "yes", "on"):
        return frozenset(ROLES)
    if raw in ("off", "false", "0", "no", "none"):
        return frozenset()
    roles = frozenset(r.strip() for r in raw.split(",") if r.strip())
    unknown = roles - frozenset(ROLES)
    if unknown:
        raise ValueError(
            f"CONSOLE_REQUIRE_2FA: roles, all, off or a list of {', '.join(ROLES)}; "
            f"got {sorted(unknown)}"
        )
    return roles


def read_or_create_key_file(path: Path) -> List[str]:
    """The key lines of `path` (first: current); a new key (64 hex digits, 0600) if
    the file does not exist yet."""
    content = read_or_create_secret(path, variable="CONSOLE_TOTP_KEY")
    lines = [line.strip() for line in content.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


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
    session_idle_minutes: float
    session_max_hours: float
    lockout_minutes: float
    public_url: str
    trusted_proxies: int
    login_failures_per_ip: int
    login_failures_global: int
    login_window_minutes: float
    require_2fa_roles: FrozenSet[str]
    export_max_rows: int
    office_phone: str
    secret_key_env: Optional[str]
    domain_path: Path
    retention_days: int = DEFAULT_RETENTION_DAYS
    retention_interval_minutes: float = DEFAULT_RETENTION_INTERVAL_MINUTES
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    cluster: bool = False  # several replicas (settings/replicas.py): no generated key
    # what it was read from (None: os.environ)
    env: Optional[Mapping[str, str]] = field(default=None, compare=False, hash=False, repr=False)

    @property
    def require_2fa(self) -> bool:
        """A second factor is required for every role."""
        return self.require_2fa_roles >= frozenset(ROLES)

    def needs_2fa(self, role: str) -> bool:
        return role in self.require_2fa_roles

    def totp_keys(self) -> List[str]:
        """The keys of the TOTP seeds: CONSOLE_TOTP_KEY (comma-separated, the first
        encrypts), or one generated once into CONSOLE_TOTP_KEY_FILE (0600)."""
        raw = (self.env or os.environ).get("CONSOLE_TOTP_KEY") or ""
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        if keys:
            for key in keys:
                problems = secret_problems("CONSOLE_TOTP_KEY", key, self.env)
                if problems:
                    raise ValueError("; ".join(problems))
            return keys
        if self.cluster:
            raise missing_secret("CONSOLE_TOTP_KEY")
        return read_or_create_key_file(self.totp_key_file)

    @property
    def totp_key_in_env(self) -> bool:
        return bool(((self.env or os.environ).get("CONSOLE_TOTP_KEY") or "").strip())

    @property
    def totp_key_file(self) -> Path:
        env = self.env or os.environ
        return Path(env.get("CONSOLE_TOTP_KEY_FILE") or self.var_dir / TOTP_KEY_FILE_NAME)

    def secret_key(self) -> str:
        """CONSOLE_SECRET_KEY, or a key generated once into var/ (mode 0600)."""
        if self.secret_key_env:
            problems = secret_problems("CONSOLE_SECRET_KEY", self.secret_key_env, self.env)
            if problems:
                raise ValueError("; ".join(problems))
            return self.secret_key_env
        if self.cluster:  # several console processes must share one key
            raise missing_secret("CONSOLE_SECRET_KEY")
        return read_or_create_secret(self.var_dir / SECRET_FILE_NAME, variable="CONSOLE_SECRET_KEY")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return env_int(name, default, env)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return env_float(name, default, env)


def load_console_settings(env: Optional[Mapping[str, str]] = None) -> ConsoleSettings:
    env = os.environ if env is None else env
    public_url = (env.get("CONSOLE_PUBLIC_URL") or "").strip()
    # Served over HTTPS (public address https://…): Secure cookies whatever
    # CONSOLE_SECURE_COOKIES says (unset or false: Secure only then).
    secure = _truthy(env.get("CONSOLE_SECURE_COOKIES")) or public_url.lower().startswith("https://")
    return ConsoleSettings(
        database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        # unset: loopback; set but empty: kept, `serve` refuses it (console/__main__.py)
        host=env.get("CONSOLE_HOST", DEFAULT_HOST),
        port=env_int("CONSOLE_PORT", DEFAULT_PORT, env, low=1, high=65535),
        secure_cookies=secure,
        timezone=env.get("CONSOLE_TIMEZONE") or DEFAULT_TIMEZONE,
        var_dir=Path(env.get("CONSOLE_VAR_DIR") or PROJECT_ROOT / "var"),
        session_idle_minutes=_float(env, "CONSOLE_SESSION_IDLE_MINUTES", 30),
        session_max_hours=_float(
            env, "CONSOLE_SESSION_MAX_HOURS", _float(env, "CONSOLE_SESSION_HOURS", 12)
        ),
        lockout_minutes=_float(env, "CONSOLE_LOCKOUT_MINUTES", 15),
        public_url=public_url,
        trusted_proxies=max(0, _int(env, "CONSOLE_TRUSTED_PROXIES", 0)),
        login_failures_per_ip=_int(env, "CONSOLE_LOGIN_FAILURES_PER_IP", 10),
        login_failures_global=_int(env, "CONSOLE_LOGIN_FAILURES_GLOBAL", 200),
        login_window_minutes=_float(env, "CONSOLE_LOGIN_WINDOW_MINUTES", 15),
        require_2fa_roles=require_2fa_roles(env.get("CONSOLE_REQUIRE_2FA")),
        export_max_rows=max(1, _int(env, "CONSOLE_EXPORT_MAX_ROWS", 5000)),
        office_phone=office_phone(env),
        secret_key_env=env.get("CONSOLE_SECRET_KEY") or None,
        domain_path=Path(env.get("CONSOLE_DOMAIN_PATH") or PROJECT_ROOT / "domain.yml"),
        # CONSOLE_RETENTION_DAYS: the cluster branch's name for the same setting
        retention_days=int(
            env.get("RETENTION_DAYS") or env.get("CONSOLE_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS
        ),
        retention_interval_minutes=retention_interval_minutes(env),
        refresh_seconds=refresh_seconds(env),
        cluster=cluster_mode(env),
        env=env,
    )


def refresh_seconds(env: Optional[Mapping[str, str]] = None) -> float:
    env = os.environ if env is None else env
    return env_float("CONSOLE_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS, env, low=0)


def office_phone(env: Optional[Mapping[str, str]] = None) -> str:
    """OFFICE_PHONE, read at each call (the summaries' masker keeps it visible)."""
    env = os.environ if env is None else env
    return env.get("OFFICE_PHONE") or DEFAULT_OFFICE_PHONE


def explicit_retention_days(env: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """Retention days only when the environment sets them: CONSOLE_RETENTION_DAYS (the
    cluster branch's name; at least 1), else RETENTION_DAYS (0: off); otherwise None."""
    env = os.environ if env is None else env
    days = (env.get("CONSOLE_RETENTION_DAYS") or "").strip()
    if days:
        if int(days) < 1:
            raise ValueError(
                "CONSOLE_RETENTION_DAYS must be at least 1 (RETENTION_DAYS=0 turns retention off)"
            )
        return int(days)
    if (env.get("RETENTION_DAYS") or "").strip():
        return int(env["RETENTION_DAYS"]) or None
    return None


def retention_interval_minutes(env: Optional[Mapping[str, str]] = None) -> float:
    env = os.environ if env is None else env
    return env_float("RETENTION_INTERVAL_MINUTES", DEFAULT_RETENTION_INTERVAL_MINUTES, env, low=0)
