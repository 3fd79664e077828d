"""deploy/systemd and deploy/achilles.env.example: `systemd-analyze verify` on
copies of the units (paths pointed at this checkout), with a broken copy as a
control; the hardening and restart settings, and that every unit runs its
Procfile line (`supervise.py --run`). The environment file sets everything
endpoints.yml and the Procfile need (systemd has no Makefile defaults); ports
agree between units, nginx and the environment file.

systemd-analyze comes with systemd; without it that test is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from channels.settings import MAX_PUBLIC_BODY_BYTES
from deploy_helpers import ASSISTANT, DEPLOY, ENV_EXAMPLE, SITE, UNITS, procfile
from servers import PROJECT_ROOT, free_port

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def env_example() -> Dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            values[name] = value.strip('"')
    return values


def unit_settings(path: Path) -> Dict[str, List[str]]:
    settings: Dict[str, List[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def upstreams(site: str) -> Dict[str, List[str]]:
    return {
        name: re.findall(r"^\s*server\s+(\S+?)[\s;]", body, re.MULTILINE)
        for name, body in re.findall(r"upstream\s+(\w+)\s*\{(.*?)\}", site, re.DOTALL)
    }


LONG_RUNNING = [
    "achilles-rasa@.service",
    "achilles-actions@.service",
    "achilles-widget.service",
    "achilles-console.service",
]
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/srv/achilles/var",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "User": "achilles",
    "CapabilityBoundingSet": "",
}


def test_every_procfile_process_has_a_hardened_restarting_unit():
    names = procfile()
    covered = set()
    for unit in LONG_RUNNING:
        settings = unit_settings(UNITS / unit)
        run = re.fullmatch(
            r"/srv/achilles/\.venv/bin/python scripts/supervise\.py --run (\w+)",
            settings["ExecStart"][0],
        )
        assert run and run.group(1) in names, (unit, settings["ExecStart"])
        covered.add(run.group(1))
        for key, value in HARDENING.items():
            assert settings.get(key) == [value], (unit, key, settings.get(key))
        assert settings["Restart"] == ["always"] and settings["RestartSec"]
        assert settings["RestartMaxDelaySec"] and settings["StartLimitIntervalSec"] == ["0"]
        assert settings["EnvironmentFile"] == ["/etc/achilles/achilles.env"]
        assert settings["ExecStartPost"][0].startswith(
            "/srv/achilles/.venv/bin/python deploy/wait_ready.py http://127.0.0.1:"
        )
        assert "achilles.target" in settings["PartOf"]
    assert covered == set(names)


def test_ports_agree_between_units_nginx_and_the_environment_file():
    site = SITE.read_text()
    ups = upstreams(site)
    env = env_example()
    wants = " ".join(unit_settings(UNITS / "achilles.target")["Wants"])
    rasa = sorted(re.findall(r"achilles-rasa@(\d+)\.service", wants))
    actions = sorted(re.findall(r"achilles-actions@(\d+)\.service", wants))
    assert len(rasa) == 2 and len(actions) == 2
    assert ups["achilles_rasa"] == [f"127.0.0.1:{p}" for p in rasa]
    assert ups["achilles_rasa_socketio"] == ups["achilles_rasa"]
    assert ups["achilles_actions"] == [f"127.0.0.1:{p}" for p in actions]
    assert ups["achilles_widget"] == [f"127.0.0.1:{env['WIDGET_PORT']}"]
    assert ups["achilles_console"] == [f"127.0.0.1:{env['CONSOLE_PORT']}"]
    front = re.search(r"listen (127\.0\.0\.1:\d+);", site).group(1)
    assert env["ACTION_SERVER_URL"] == f"http://{front}/webhook"
    for script in ("wait_ready.py", "rolling-restart.sh", "backup.sh"):
        assert os.access(DEPLOY / script, os.X_OK), script
    restart = (DEPLOY / "rolling-restart.sh").read_text()
    for port in rasa + actions:
        assert f"@{port}" in restart


def test_the_environment_file_sets_what_endpoints_and_the_procfile_need():
    env = env_example()
    from_units = {"RASA_PORT", "ACTION_PORT", "HOME"}
    needed = set(re.findall(r"\$\{(\w+)\}", (PROJECT_ROOT / "endpoints.yml").read_text()))
    for command in procfile().values():
        needed |= set(re.findall(r"\$\{?(\w+)", command))
    missing = needed - set(env) - from_units
    assert not missing, f"not set for the systemd units: {sorted(missing)}"
    assert env["LOCK_STORE_TYPE"] == "redis" and env["SMS_STATE_STORE"] == "redis"
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["HOST"] == "127.0.0.1" and env["SANIC_PROXIES_COUNT"] == "1"
    assert env["SANIC_REQUEST_MAX_SIZE"] == str(MAX_PUBLIC_BODY_BYTES)
    assert env["TWILIO_WEBHOOK_URL"] == f"https://{ASSISTANT}/webhooks/twilio/webhook"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path):
    env_file = tmp_path / "achilles.env"
    shutil.copy(ENV_EXAMPLE, env_file)
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/etc/achilles/achilles.env", str(env_file))
        (tmp_path / unit.name).write_text(text.replace("/srv/achilles", str(PROJECT_ROOT)))
    for template, port in (("achilles-rasa@.service", 5005), ("achilles-actions@.service", 5055)):
        shutil.copy(tmp_path / template, tmp_path / template.replace("@", f"@{port}"))
    names = [
        "achilles-rasa@5005.service",
        "achilles-actions@5055.service",
        "achilles-widget.service",
        "achilles-console.service",
        "achilles-backup.service",
        "achilles-backup.timer",
        "achilles.target",
    ]
    version = int(
        re.search(
            r"systemd (\d+)",
            subprocess.run([SYSTEMD_ANALYZE, "--version"], capture_output=True, text=True).stdout,
        ).group(1)
    )
    # RestartSteps/RestartMaxDelaySec arrived in systemd 254 (Debian 13)
    tolerated = r"Unknown key '(RestartSteps|RestartMaxDelaySec)'" if version < 254 else r"^$"
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not re.search(tolerated, line)
    ]
    assert result.returncode == 0 and not problems, "\n".join(problems)
    # control: verify does catch a unit whose program is missing
    broken = tmp_path / "achilles-broken.service"
    broken.write_text(
        (tmp_path / "achilles-widget.service")
        .read_text()
        .replace(f"ExecStart={PROJECT_ROOT}/.venv/bin/python", "ExecStart=/nonexistent/python")
    )
    control = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", broken.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert control.returncode != 0 and "/nonexistent/python" in control.stderr


def test_a_unit_command_runs_the_procfile_process_and_wait_ready_sees_it(tmp_path):
    """ExecStart (`supervise.py --run widget`) and ExecStartPost (wait_ready.py)
    as a unit runs them, on a free port."""
    port = free_port()
    env = dict(
        os.environ, HOST="127.0.0.1", WIDGET_PORT=str(port), RASA_PORT="5005", PYTHONUNBUFFERED="1"
    )
    python = str(PROJECT_ROOT / ".venv" / "bin" / "python")
    proc = subprocess.Popen(
        [python, "scripts/supervise.py", "--run", "widget"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ready = subprocess.run(
            [
                python,
                str(DEPLOY / "wait_ready.py"),
                f"http://127.0.0.1:{port}/widget.js",
                "--timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ready.returncode == 0, ready.stderr
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"widget/serve.py" in cmdline  # the server itself, exec'd under the same PID
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    closed = subprocess.run(
        [python, str(DEPLOY / "wait_ready.py"), f"http://127.0.0.1:{port}/", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert closed.returncode == 1 and "not ready" in closed.stderr
