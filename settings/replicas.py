"""Several replicas: what must be shared between them, checked at start-up.

One Rasa process (`make run`) keeps everything embedded: SQLite, an in-memory
lock store, in-process rate limits and SMS de-duplication, secrets generated
once into var/. With more than one replica that silently breaks (each replica
would hash SMS numbers with its own secret, sign console cookies with its own
key, count rate limits and Twilio retries on its own, and SQLite cannot be
shared), so cluster mode is declared and then checked:

    REPLICAS=2          (or CLUSTER=true)

In cluster mode every process (Rasa server, action server, staff console)
refuses to start unless
- every secret in CLUSTER_SECRETS comes from the environment (none is
  generated into var/; all replicas must use the same values), and
- the shared pieces are configured: DATABASE_URL on PostgreSQL (tracker store,
  appointment requests, SMS opt-outs, console), and for the Rasa server
  LOCK_STORE_TYPE=redis, RATE_LIMIT_STORAGE_URI=redis://... and
  SMS_STATE_STORE=redis.

Standard library only (settings/): every process checks this at start, the Rasa
server from its tracker store, the action server from actions/startup.py, the console
from its command line; cluster/settings.py re-exports it for the cluster runner.
Secrets are also checked for strength here (settings/secrets.py).
"""

from __future__ import annotations

from typing import List, Mapping, Optional

from settings.env import environ
from settings.mode import ClusterConfigError, cluster_mode, replicas
from settings.secrets import secret_problems

__all__ = [
    "CLUSTER_SECRETS",
    "COMPONENTS",
    "ClusterConfigError",
    "check_cluster_config",
    "cluster_mode",
    "cluster_problems",
    "missing_secret",
    "replicas",
    "secret_from_env",
]

# Every secret a replica uses. ACTION_SERVER_TOKEN authenticates Rasa to the
# action servers (actions/server_auth.py); WIDGET_ID_SECRET signs the widget's
# conversation ids (channels/socketio.py), so a widget reconnecting to another
# replica keeps its conversation.
CLUSTER_SECRETS = ("SMS_ID_SECRET", "CONSOLE_SECRET_KEY", "ACTION_SERVER_TOKEN", "WIDGET_ID_SECRET")
COMPONENTS = ("rasa", "actions", "console")


_env = environ


def secret_from_env(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The secret `name` from the environment; None if unset and not in cluster mode
    (the caller may then generate one into var/). In cluster mode a missing secret
    is an error: a generated one would differ per replica."""
    env = _env(env)
    value = (env.get(name) or "").strip()
    if value:
        problems = secret_problems(name, value, env)
        if problems:
            raise ClusterConfigError("; ".join(problems))
        return value
    if cluster_mode(env):
        raise missing_secret(name)
    return None


def missing_secret(name: str) -> ClusterConfigError:
    return ClusterConfigError(
        f"{name} must be set in the environment when several replicas are configured "
        f"(REPLICAS>1 or CLUSTER=true): every replica must use the same value, so none "
        f"is generated into var/."
    )


def _is_redis_uri(value: str) -> bool:
    return value.split("://", 1)[0].lower() in ("redis", "rediss", "async+redis", "async+rediss")


def cluster_problems(component: str, env: Optional[Mapping[str, str]] = None) -> List[str]:
    """What is missing for `component` ("rasa", "actions", "console") to run as one
    of several replicas; empty when not in cluster mode or when all is set."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}")
    env = _env(env)
    if not cluster_mode(env):
        return []
    problems = []
    for name in CLUSTER_SECRETS:
        value = (env.get(name) or "").strip()
        problems.extend(secret_problems(name, value, env) if value else [f"{name} is not set"])
    database = (env.get("DATABASE_URL") or "").strip()
    if not database.lower().startswith(("postgresql", "postgres://")):
        problems.append(
            f"DATABASE_URL must point at PostgreSQL (shared by every replica), "
            f"got {database.split('://', 1)[0] + '://...' if database else 'nothing'}"
        )
    if component == "rasa":
        if (env.get("LOCK_STORE_TYPE") or "in_memory").strip() != "redis":
            problems.append(
                "LOCK_STORE_TYPE must be redis (REDIS_HOST, REDIS_PORT): an "
                "in-memory lock lets two replicas run turns of one conversation "
                "at once"
            )
        if not _is_redis_uri((env.get("RATE_LIMIT_STORAGE_URI") or "").strip()):
            problems.append(
                "RATE_LIMIT_STORAGE_URI must be redis://host:port[/db]: "
                "in-process limits multiply by the number of replicas"
            )
        if (env.get("SMS_STATE_STORE") or "memory").strip().lower() != "redis":
            problems.append(
                "SMS_STATE_STORE must be redis: a Twilio retry landing on "
                "another replica would be answered twice"
            )
    return problems


def check_cluster_config(component: str, env: Optional[Mapping[str, str]] = None) -> None:
    """Raises ClusterConfigError listing every problem (see `cluster_problems`)."""
    problems = cluster_problems(component, env)
    if problems:
        raise ClusterConfigError(
            f"{component}: several replicas are configured (REPLICAS={_env(env).get('REPLICAS')}"
            f", CLUSTER={_env(env).get('CLUSTER')}) but "
            + "; ".join(problems)
            + ". See README 'Several replicas'."
        )
