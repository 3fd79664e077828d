"""The shared secret between the Rasa server and the action server.

Only the Rasa server may run actions: the action server (actions/server.py)
answers 401 to any request without `Authorization: Bearer <token>`, and the
Rasa server sends that header because endpoints.yml says so:

    action_endpoint:
      url: ${ACTION_SERVER_URL}
      headers:
        Authorization: Bearer ${ACTION_SERVER_TOKEN}

The token is ACTION_SERVER_TOKEN when set (letters, digits, - and _; at least
32 characters); otherwise a random one generated once into
var/action_server_token (mode 0600; ACTION_SERVER_TOKEN_FILE overrides the
path), which both processes read, so `make run` needs no configuration. Rasa
can only expand the variable in endpoints.yml if it is in its environment,
hence the Procfile starts Rasa through

    python -m actions.server_auth COMMAND [ARGS...]

which puts the token into the environment and then executes COMMAND.
"""

from __future__ import annotations

import hmac
import os
import re
import sys
from pathlib import Path
from typing import List, Mapping, Optional

from stores.secret_files import read_or_create_secret

TOKEN_ENV = "ACTION_SERVER_TOKEN"
TOKEN_FILE_ENV = "ACTION_SERVER_TOKEN_FILE"
DEFAULT_TOKEN_FILE = Path(__file__).resolve().parent.parent / "var" / "action_server_token"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,256}")
SCHEME = "Bearer "


def load_token(env: Optional[Mapping[str, str]] = None) -> str:
    """ACTION_SERVER_TOKEN, else the token file (created on first use)."""
    from settings.replicas import secret_from_env

    env = os.environ if env is None else env
    value = secret_from_env(TOKEN_ENV, env) or ""  # required with several replicas
    if not value:
        value = read_or_create_secret(Path(env.get(TOKEN_FILE_ENV) or DEFAULT_TOKEN_FILE))
    if not TOKEN_PATTERN.fullmatch(value):
        raise ValueError(
            f"{TOKEN_ENV} must be 32-256 letters, digits, '-' or '_' "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return value


def authorized(header: Optional[str], token: str) -> bool:
    """True if an Authorization header carries `token` (constant-time compare)."""
    if not token:  # never accept anything against an empty secret
        return False
    given = header[len(SCHEME) :].strip() if header and header.startswith(SCHEME) else ""
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m actions.server_auth COMMAND [ARGS...]\n"
            f"Runs COMMAND with {TOKEN_ENV} set (the environment's, or var/action_server_token)."
        )
        sys.exit(0 if argv else 2)
    env = dict(os.environ)
    env[TOKEN_ENV] = load_token(env)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    main()
