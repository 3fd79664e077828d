"""The action server, as the Procfile runs it: `python -m actions.server`.

rasa-sdk's own Sanic app (rasa_sdk.endpoint.create_app: same /webhook,
/actions and /health routes as `rasa run actions`), with two differences:

- it listens on ACTION_HOST, default 127.0.0.1, never on the public HOST of the
  Rasa server; an empty ACTION_HOST is refused rather than read as "every
  interface" (what Sanic would do). Only set it when the Rasa server runs on
  another machine, and then keep the port off the internet.
- every request except GET /health must carry the shared token
  (`Authorization: Bearer <token>`, actions/server_auth.py); anything else gets
  401 before an action runs, so nobody who can reach the port can forge a
  tracker (e.g. submit an appointment request into the staff call-back queue).

Sanic settings come from SANIC_* variables as before (SANIC_KEEP_ALIVE_TIMEOUT
from the Makefile; SANIC_REQUEST_MAX_SIZE, which the Procfile sets to
ACTION_REQUEST_MAX_SIZE: a larger body now gets 413 instead of rasa-sdk's 500);
ACTION_SERVER_SANIC_WORKERS as in rasa-sdk. No CORS: browsers have no business
calling the action server.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import List, Mapping, Optional

from settings.env import env_int

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5055

logger = logging.getLogger("actions.server")


def bind_host(env: Optional[Mapping[str, str]] = None) -> str:
    """ACTION_HOST, 127.0.0.1 when unset; ValueError when set but empty."""
    env = os.environ if env is None else env
    if "ACTION_HOST" not in env:
        return LOOPBACK
    host = env["ACTION_HOST"].strip()
    if not host:
        raise ValueError(
            "ACTION_HOST is set but empty; an empty bind address would listen "
            "on every interface. Unset it (loopback, 127.0.0.1) or name an "
            "interface."
        )
    return host


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(token: str, actions_package: str = "actions"):
    """rasa-sdk's action server app that refuses requests without the token."""
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from sanic import response
    from sanic.exceptions import PayloadTooLarge

    from actions.server_auth import authorized

    if not token:
        raise ValueError("the action server needs a non-empty token")
    app = create_sdk_app(actions_package, cors_origins=None)

    @app.exception(PayloadTooLarge)
    async def too_large(request, exception):
        # rasa-sdk's catch-all handler would answer 500 (the limit held, but said so badly)
        return response.json({"error": "request body too large"}, status=413)

    @app.middleware("request")
    async def require_token(request):
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return None
        if authorized(request.headers.get("Authorization"), token):
            return None
        logger.warning(
            "Refused %s %s from %s: missing or wrong action server token",
            request.method,
            request.path,
            request.ip,
        )
        return response.json(
            {"error": "unauthorized"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="action server"'},
        )

    return app


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=env_int("ACTION_PORT", DEFAULT_PORT, low=1, high=65535),
        help="port (default: $ACTION_PORT or 5055)",
    )
    parser.add_argument("--actions", default="actions", help="action package (default: actions)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    try:
        host = bind_host()
    except ValueError as error:
        sys.exit(f"action server not started: {error}")
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    from actions.server_auth import load_token

    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    token = load_token()
    app = create_app(token, args.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    if not is_loopback(host):
        logger.warning(
            "The action server listens on %s (ACTION_HOST), not loopback: keep "
            "port %s reachable only by the Rasa server.",
            host,
            args.port,
        )
    logger.info("Action server on http://%s:%s (token required)", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()
