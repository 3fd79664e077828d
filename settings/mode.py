"""How this deployment runs: one process of each kind or several replicas
(REPLICAS / CLUSTER), and development or production (ACHILLES_ENV)."""

from __future__ import annotations

from typing import Mapping, Optional

from settings.env import TRUTHY, SettingsError, env_int, env_str

DEVELOPMENT = frozenset({"dev", "development", "test"})


class ClusterConfigError(RuntimeError):
    """Cluster mode is on but the environment would give replicas different state."""


def replicas(env: Optional[Mapping[str, str]] = None) -> int:
    try:
        return env_int("REPLICAS", 1, env, low=1)
    except SettingsError as error:
        raise ClusterConfigError(str(error)) from None


def cluster_mode(env: Optional[Mapping[str, str]] = None) -> bool:
    """True when more than one replica is configured (REPLICAS>1 or CLUSTER=true)."""
    return replicas(env) > 1 or env_str("CLUSTER", "", env).lower() in TRUTHY


def development(env: Optional[Mapping[str, str]] = None) -> bool:
    """`make run` on one machine: ACHILLES_ENV unset or dev/development/test and one
    replica. deploy/achilles.env.example and the Helm values set production."""
    return env_str("ACHILLES_ENV", "dev", env).lower() in DEVELOPMENT and not cluster_mode(env)
