"""deploy/kubernetes: the Helm values parsed, and consistent with credentials.yml,
endpoints.yml, the Procfile and each other. No cluster and no helm here: the
charts themselves are not rendered.
"""

from __future__ import annotations

import re
from typing import Dict

import yaml

from channels.settings import MAX_PUBLIC_BODY_BYTES
from deploy_helpers import K8S, procfile
from servers import PROJECT_ROOT


def k8s(name: str) -> Dict:
    return yaml.safe_load((K8S / name).read_text())


def test_kubernetes_values_match_the_project():
    rasa, actions = k8s("values-rasa.yaml"), k8s("values-rasa-action-server.yaml")
    postgresql, redis = k8s("values-postgresql.yaml"), k8s("values-redis.yaml")
    names = procfile()
    # the containers run Procfile lines (Dockerfile ENTRYPOINT: supervise.py --run)
    dockerfile = (K8S / "Dockerfile").read_text()
    assert re.search(r'ENTRYPOINT \[.*"scripts/supervise.py", "--run"\]', dockerfile)
    assert "FROM python:3.10" in dockerfile
    assert rasa["args"] == ["rasa"] and actions["args"] == ["actions"]
    assert {"rasa", "actions"} <= set(names)
    assert "--enable-api" not in names["rasa"] and rasa["applicationSettings"]["enableAPI"] is False
    assert rasa["image"] == actions["image"]
    ignored = (K8S / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", "models", "var", ".git"} <= set(ignored)
    # the channels and stores the chart renders are this project's
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
    assert rasa["applicationSettings"]["credentials"]["additionalChannelCredentials"] == credentials
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())
    tracker = rasa["applicationSettings"]["endpoints"]["trackerStore"]
    assert tracker["type"] == endpoints["tracker_store"]["type"]
    assert tracker["url"] == endpoints["tracker_store"]["url"] == "${DATABASE_URL}"
    assert all(
        tracker[k] is None for k in ("dialect", "port", "username", "password", "db", "login_db")
    )
    lock = rasa["applicationSettings"]["endpoints"]["lockStore"]
    assert lock["enabled"] and lock["type"] == "redis"
    assert rasa["replicaCount"] >= 2
    env = {e["name"]: e for e in rasa["extraEnv"]}
    assert env["LOCK_STORE_TYPE"]["value"] == "redis" and env["HOST"]["value"] == "0.0.0.0"
    assert "secretKeyRef" in env["DATABASE_URL"]["valueFrom"]
    assert env["SANIC_REQUEST_MAX_SIZE"]["value"] == str(MAX_PUBLIC_BODY_BYTES)
    assert env["RASA_PORT"]["value"] == str(rasa["applicationSettings"]["port"])
    action_env = {e["name"]: e for e in actions["extraEnv"]}
    assert action_env["ACTION_PORT"]["value"] == str(actions["applicationSettings"]["port"])
    assert "secretKeyRef" in action_env["DATABASE_URL"]["valueFrom"]
    # the releases find each other
    url = rasa["rasa-action-server"]["external"]["url"]
    assert (
        url == f"http://{actions['fullnameOverride']}/webhook" and actions["service"]["port"] == 80
    )
    assert rasa["redis"]["external"]["host"] == "achilles-redis-master"
    assert rasa["redis"]["existingSecret"] == redis["auth"]["existingSecret"]
    assert rasa["redis"]["existingSecretPasswordKey"] == redis["auth"]["existingSecretPasswordKey"]
    assert rasa["postgresql"]["install"] is False and rasa["redis"]["install"] is False
    assert postgresql["auth"]["database"] == "achilles" and postgresql["auth"]["existingSecret"]
    # only the webhooks and socket.io are public, with the 64k limit
    ingress = rasa["ingress"]
    # the REST webhook (client-chosen conversation ids) is not published (issue 21)
    assert ingress["path"] == "/webhooks/twilio/"
    assert all("rest" not in p["path"] for p in ingress.get("extraPaths") or [])
    assert [p["path"] for p in ingress["extraPaths"]] == ["/socket.io/"]
    assert ingress["extraPaths"][0]["backend"]["service"]["name"] == rasa["fullnameOverride"]
    assert ingress["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "64k"
    for name in (
        "values-rasa.yaml",
        "values-rasa-action-server.yaml",
        "values-postgresql.yaml",
        "values-redis.yaml",
    ):
        assert "NOT EXERCISED" in (K8S / name).read_text(), name
