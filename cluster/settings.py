"""Several replicas: what they must share is checked by every process at start, so it
lives in settings/replicas.py (the bottom layer every process may import); the
cluster runner and its tests keep using these names."""

from settings.replicas import (  # noqa: F401 (re-exported)
    CLUSTER_SECRETS,
    COMPONENTS,
    ClusterConfigError,
    check_cluster_config,
    cluster_mode,
    cluster_problems,
    missing_secret,
    replicas,
    secret_from_env,
)
