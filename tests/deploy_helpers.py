"""What the deploy/ tests share (tests/test_deploy_*.py): where the files are,
the site's host names, and the Procfile's processes."""

from __future__ import annotations

from typing import Dict

from servers import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
SITE = DEPLOY / "nginx" / "achilles.conf"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "achilles.env.example"
K8S = DEPLOY / "kubernetes"
ASSISTANT, CONSOLE = "assistant.example.org", "console.example.org"


def procfile() -> Dict[str, str]:
    names = {}
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            names[name.strip()] = command.strip()
    return names
