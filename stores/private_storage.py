"""Owner-only files for the health data this project writes (issue #10).

Every process that opens the database (Rasa's tracker store, the action server,
the staff console, the SMS channel) calls `secure_database_url` before its
engine touches the file: the process umask drops group/other bits from then on,
the SQLite file is created (or fixed) with mode 0600 and its folder with 0700
when it is the project's `var/` or did not exist yet. SQLite gives its journal
and WAL files the mode of the database file. For PostgreSQL nothing is done
here: access is the database server's business.

Every SQLAlchemy engine is created with `hide_parameters=True`, so a failed
statement's exception (and any log line made from it) shows the SQL but never
the values: no message text, names or phone numbers in logs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import List, Optional

import sqlalchemy as sa

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
PROJECT_VAR_DIR = Path(__file__).resolve().parent.parent / "var"


def restrict_umask() -> None:
    """From now on this process creates files without group/other permissions."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def sqlite_path(database_url: str) -> Optional[Path]:
    url = sa.engine.make_url(database_url)
    if (
        url.get_backend_name() != "sqlite"
        or not url.database
        or url.database == ":memory:"
        or url.database.startswith("file:")
    ):
        return None
    return Path(url.database).expanduser().resolve()


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except FileNotFoundError:
        pass


def secure_directory(path: Path) -> Path:
    """Creates `path` with mode 0700 (and its parents as usual)."""
    path = Path(path)
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    if created or path.resolve() == PROJECT_VAR_DIR.resolve():
        _chmod(path, PRIVATE_DIR_MODE)
    return path


def secure_database_url(database_url: str) -> Optional[Path]:
    """Owner-only umask; for SQLite, the file (0600) and its new or var/ folder (0700)."""
    restrict_umask()
    path = sqlite_path(database_url)
    if path is None:
        return None
    secure_directory(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        os.close(fd)  # an empty file is an empty SQLite database
    for candidate in [path] + [Path(str(path) + s) for s in SQLITE_SIDE_FILES]:
        _chmod(candidate, PRIVATE_FILE_MODE)
    return path


def write_private_lines(path: Path, lines: List[str]) -> None:
    """Atomically replaces `path` with these lines, mode 0600 (key files)."""
    secure_directory(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
