"""The stack's own PostgreSQL: a data directory under the stack root, a loopback
port, the `achilles` database and role with a password kept next to the data.

PostgreSQL refuses to run as root, so when we are root it runs as the
`postgres` user (created by the Debian package)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from cluster.packages import postgres_bin
from cluster.processes import Proc

DB_NAME = DB_USER = "achilles"


class PostgresServer:
    """initdb once, the server process, psql for set-up statements."""

    def __init__(self, root: Path, logs: Path, port: int, durable: bool) -> None:
        bindir = postgres_bin()
        assert bindir is not None
        self.bindir, self.root, self.logs, self.port, self.durable = (
            bindir,
            root,
            logs,
            port,
            durable,
        )
        self.folder = root / "pg"
        self.data, self.sockets = self.folder / "data", self.folder / "run"
        self.password_file = self.folder / "password"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _env(self) -> dict:
        return {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}

    def prepare(self) -> None:
        """Checks that the `postgres` user can reach the stack root, and creates the
        data directory (initdb) unless it exists from an earlier run."""
        if self.user:  # PostgreSQL runs as `postgres`: every parent folder must let it through
            for parent in self.root.parents:
                if not parent.stat().st_mode & 0o001:
                    raise RuntimeError(
                        f"{parent} is closed to other users (mode "
                        f"{parent.stat().st_mode & 0o777:o}); PostgreSQL runs as "
                        f"the postgres user: put the stack root elsewhere"
                    )
        if (self.data / "PG_VERSION").exists():
            return
        for path in (self.data, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.folder, self.user, self.user)
            for path in (self.data, self.sockets):
                shutil.chown(path, self.user, self.user)
        self.data.chmod(0o700)
        Proc(
            "initdb",
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            self._env(),
            self.logs / "initdb.log",
            cwd=self.root,
            user=self.user,
        ).start().proc.wait()
        if not (self.data / "PG_VERSION").exists():
            raise RuntimeError(f"initdb failed: {(self.logs / 'initdb.log').read_text()}")

    def proc(self) -> Proc:
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=64MB",
            "-c",
            "log_min_messages=warning",
        ]
        if not self.durable:
            options += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        return Proc(
            "postgres",
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.sockets),
                *options,
            ],
            self._env(),
            self.logs / "postgres.log",
            cwd=self.root,
            user=self.user,
            stop_signal=signal.SIGINT,
        )  # "fast" shutdown

    def sql(self, statement: str) -> str:
        """One statement as the `postgres` superuser over the Unix socket; its output."""
        psql = [
            str(self.bindir / "psql"),
            "-h",
            str(self.sockets),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qtAc",
        ]
        result = subprocess.run(
            [*psql, statement],
            capture_output=True,
            text=True,
            cwd=self.root,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        if result.returncode:
            raise RuntimeError(result.stderr.strip())
        return result.stdout.strip()

    def create_database(self) -> str:
        """The role and database (if new) and the role's password, generated on the
        first run and kept (mode 0600): the data directory survives restarts."""
        if self.password_file.exists():
            password = self.password_file.read_text().strip()
        else:
            password = secrets.token_hex(16)
            self.password_file.write_text(password + "\n")
            self.password_file.chmod(0o600)
        if self.sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'") != "1":
            self.sql(f"CREATE ROLE {DB_USER} LOGIN")
        self.sql(f"ALTER ROLE {DB_USER} PASSWORD '{password}'")
        if self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
            self.sql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        return password
