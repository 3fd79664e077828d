"""`make cluster`: the assistant as several replicas on this machine, in the foreground.

    .venv/bin/python cluster/run.py [--replicas 2] [--action-servers 2]
                                    [--port 8000] [--console-port 8091]

Installs PostgreSQL, Redis and nginx from Debian's packages if missing (root),
then starts, as this project's own instances under var/cluster/ (loopback
ports, no system services): PostgreSQL, Redis, nginx, N Rasa servers, M action
servers, the widget demo page and the staff console (cluster/stack.py has the
layout). Ctrl-C or SIGTERM stops everything it started; if one process dies,
everything is stopped and its log is shown.

Secrets (SMS_ID_SECRET, CONSOLE_SECRET_KEY, ACTION_SERVER_TOKEN) come from the
environment; missing ones are generated once into var/cluster/secrets.env
(mode 0600) and given to every process through its environment, so all
replicas share them. The database survives restarts (var/cluster/pg/).
While it runs, var/cluster/env holds the current settings:
    set -a; . var/cluster/env; set +a; .venv/bin/python -m console create-user NAME
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Dict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cluster.stack import PROJECT_ROOT, SECRET_NAMES, Stack, Unavailable  # noqa: E402
from settings.env import env_int  # noqa: E402

ROOT = PROJECT_ROOT / "var" / "cluster"


class Stop(Exception):
    pass


def load_secrets(path: Path) -> Dict[str, str]:
    stored: Dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in SECRET_NAMES and value:
                stored[key] = value
    values = {
        name: os.environ.get(name) or stored.get(name) or secrets.token_hex(32)
        for name in SECRET_NAMES
    }
    new = {k: v for k, v in values.items() if k not in stored and not os.environ.get(k)}
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(f"{k}={v}\n" for k, v in {**stored, **new}.items()))
        print(
            f"generated {', '.join(new)} into {path} (mode 0600); set them in the "
            f"environment to use your own"
        )
    return values


def write_env_file(stack: Stack) -> Path:
    path = stack.root / "env"
    env = stack.env()
    keys = [
        "REPLICAS",
        "DATABASE_URL",
        "LOCK_STORE_TYPE",
        "REDIS_HOST",
        "REDIS_PORT",
        "RATE_LIMIT_STORAGE_URI",
        "SMS_STATE_STORE",
        "ACTION_SERVER_URL",
        *SECRET_NAMES,
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{k}={env[k]}\n" for k in keys))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=env_int("REPLICAS", 2, low=1))
    parser.add_argument("--action-servers", type=int, default=2)
    parser.add_argument(
        "--port",
        type=int,
        default=env_int("CLUSTER_PORT", 8000, low=1, high=65535),
        help="nginx: assistant webhooks, socket.io and the widget demo page",
    )
    parser.add_argument(
        "--console-port", type=int, default=env_int("CLUSTER_CONSOLE_PORT", 8091, low=1, high=65535)
    )
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    if args.replicas < 2:
        parser.error("--replicas must be at least 2 (one replica: `make run`)")

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    stack = Stack(
        args.root,
        replicas=args.replicas,
        action_servers=args.action_servers,
        public_port=args.port,
        console_port=args.console_port,
        secrets=load_secrets(args.root / "secrets.env"),
    )
    try:
        print(
            f"starting {args.replicas} replicas under {args.root} (logs in "
            f"{args.root / 'logs'}) ...",
            flush=True,
        )
        stack.start()
        env_file = write_env_file(stack)
        print(
            f"""
Assistant (nginx, round-robin over {args.replicas} Rasa servers):
  curl -s {stack.url}/webhooks/rest/webhook -d '{{"sender": "demo", "message": "what is PARS?"}}'
Widget demo page: {stack.url}/demo/
Staff console:    {stack.console_url}/
  first time: set -a; . {env_file}; set +a; .venv/bin/python -m console create-user NAME
Twilio webhook:   {stack.url}/webhooks/twilio/webhook (with TWILIO_* set; README "SMS")
Ctrl-C stops everything.""",
            flush=True,
        )
        while True:
            for proc in stack.all_procs():
                if not proc.alive():
                    print(
                        f"\n{proc.name} exited ({proc.proc.returncode}); its log ends:\n"
                        f"{proc.tail()}\nstopping everything.",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(1)
    except Stop as why:
        print(f"\n{why}: stopping everything ...", flush=True)
        return 0
    except Unavailable as error:
        print(f"cannot run the cluster: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
