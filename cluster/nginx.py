"""The stack's nginx: its configuration (rendered from nginx.conf.j2, which
shows the routes), checked with `nginx -t`, and the process in the foreground."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import jinja2  # comes with Flask (the console)

from channels.settings import MAX_PUBLIC_BODY_BYTES
from cluster.processes import Proc

TEMPLATE = Path(__file__).with_name("nginx.conf.j2")
WORKER_USER = "www-data"  # Debian's nginx user


def worker_user() -> Optional[str]:
    """Started as root, nginx runs its workers as www-data; otherwise as us."""
    return WORKER_USER if os.geteuid() == 0 else None


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def render_config(
    *,
    folder: Path,
    logs: Path,
    public_port: int,
    console_port: int,
    actions_lb_port: int,
    single_port: int,
    rasa_ports: Sequence[int],
    action_ports: Sequence[int],
    widget_port: int,
    console_backend_port: int,
    action_body_limit: int,
) -> str:
    """nginx.conf for the stack; `single_port` 0: no benchmark port to replica 1."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return templates.get_template(TEMPLATE.name).render(
        worker_user=worker_user(),
        folder=folder,
        logs=logs,
        public_port=public_port,
        console_port=console_port,
        actions_lb_port=actions_lb_port,
        single_port=single_port,
        rasa_ports=list(rasa_ports),
        action_ports=list(action_ports),
        widget_port=widget_port,
        console_backend_port=console_backend_port,
        action_body_limit=action_body_limit,
        public_body_limit=MAX_PUBLIC_BODY_BYTES,
    )


def write_config(folder: Path, config: str) -> Path:
    """nginx.conf and its temp folders in `folder`; raises if `nginx -t` rejects it."""
    tmp = folder / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    if worker_user():  # the workers write request bodies there
        shutil.chown(tmp, WORKER_USER, WORKER_USER)
    conf = folder / "nginx.conf"
    conf.write_text(config)
    check = subprocess.run(
        [nginx_binary(), "-t", "-q", "-c", str(conf), "-p", str(folder)],
        capture_output=True,
        text=True,
    )
    if check.returncode:
        raise RuntimeError(f"nginx configuration rejected: {check.stderr.strip()}")
    return conf


def nginx_proc(conf: Path, logs: Path) -> Proc:
    folder = conf.parent
    return Proc(
        "nginx",
        [nginx_binary(), "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
        {"PATH": os.environ.get("PATH", "")},
        logs / "nginx.log",
        cwd=folder,
        stop_signal=signal.SIGQUIT,
    )  # graceful
