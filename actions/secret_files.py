"""Secrets generated once into files under var/ when not given in the environment.

Used for the action server's shared token (actions/server_auth.py) and the key
that signs the widget's conversation ids (channels/socketio.py), like the
existing var/sms_id_secret and var/console_secret_key: random, owner-only
(0600), created once and then reused so several processes agree on them.

Creation is atomic: the secret is written to a private temporary file that is
then hard-linked into place, so two processes starting at the same moment
(`make run` starts the action server and the Rasa server together) read the
same complete value and never a half-written file.
"""
from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)


def _read_existing(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        logger.warning("%s was readable by others (mode %o); changed it to 0600.", path, mode)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it (a new secret is generated) "
                           "or set the variable that replaces it")
    return value


def read_or_create_secret(path: Path) -> str:
    """The secret stored in `path`; a new random one (64 hex digits, mode 0600) the
    first time. Never returns an empty string."""
    path = Path(path)
    if path.exists():
        return _read_existing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race
        except FileExistsError:
            return _read_existing(path)
    finally:
        os.unlink(tmp)
    logger.warning("Generated a new secret in %s (mode 0600).", path)
    return value
