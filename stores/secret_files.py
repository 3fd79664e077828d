"""Secrets generated once into files under var/ when not given in the environment.

The one helper for every such secret: the action server's shared token
(actions/server_auth.py), the keys that make the widget's and the SMS
conversation ids (channels/settings.py) and the
console's session key (console/settings.py). Random, owner-only (0600),
created once and then reused so several processes agree on them.

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
from typing import Optional

from stores.private_storage import secure_directory

logger = logging.getLogger(__name__)


def _read_existing(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        logger.warning("%s was readable by others (mode %o); changed it to 0600.", path, mode)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RuntimeError(
            f"{path} is empty; delete it (a new secret is generated) "
            "or set the variable that replaces it"
        )
    return value


def read_or_create_secret(path: Path, variable: Optional[str] = None) -> str:
    """The secret stored in `path`; a new random one (64 hex digits, mode 0600) the
    first time. Never returns an empty string. `variable`: the environment
    variable that would replace the file, named in the warnings (production
    should set it and back it up)."""
    path = Path(path)
    advice = (
        f" {variable} is not set; set it in production and keep it backed up." if variable else ""
    )
    if path.exists():
        value = _read_existing(path)
        if variable:
            logger.warning("Using the secret stored in %s.%s", path, advice)
        return value
    secure_directory(path.parent)
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
    logger.warning("Generated a new secret in %s (mode 0600).%s", path, advice)
    return value
