"""The assistant as several replicas on one machine: PostgreSQL, Redis, nginx,
N Rasa servers, M action servers, the widget and the staff console.

Used by `make cluster` (cluster/run.py), the cluster tests (tests/cluster/) and
the benchmark (bench/run_all.py --cluster). Nothing here is a cluster manager of
its own: the replicas share state only through Rasa's supported pieces (SQL
tracker store on PostgreSQL, Redis lock store) and the project's own shared
stores (rate limits and SMS de-duplication in Redis, appointment requests,
opt-outs and console tables in PostgreSQL), and nginx spreads the traffic
(its routes: cluster/nginx.conf.j2).

PostgreSQL, Redis and nginx are Debian's packages (cluster/packages.py), run in
the foreground as this stack's own instances: own data directories under
`root`, loopback ports, no system service (cluster/postgres.py,
cluster/redis_server.py, cluster/nginx.py). Every process is a child of this
one, started in its own session (cluster/processes.py), and stopped by `stop()`
(also on errors).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

if __package__ in (None, ""):  # run as a script: python cluster/stack.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.settings import MAX_PUBLIC_BODY_BYTES  # noqa: E402
from cluster import nginx  # noqa: E402
from cluster.packages import Unavailable, ensure_packages  # noqa: E402,F401 (public names)
from cluster.postgres import DB_NAME, DB_USER, PostgresServer  # noqa: E402
from cluster.processes import (  # noqa: E402
    VENV_BIN,
    Proc,
    free_port,
    http_ok,
    port_open,
    rasa_run_args,
    wait_until,
)
from cluster.redis_server import redis_proc  # noqa: E402
from settings.env import env_float, env_int  # noqa: E402


def action_request_max_size() -> int:
    """The action servers' request limit in bytes (ACTION_REQUEST_MAX_SIZE, as in the
    Makefile and the Procfile; 8 MiB): Rasa sends the whole tracker with every call."""
    return env_int("ACTION_REQUEST_MAX_SIZE", 8 * 2**20, low=1)


# the replicas' shared secrets, and the console's TOTP seed key (settings/replicas.py,
# console/totp.py): generated once for `make cluster`
PHONE_VAULT_KEYS = "PHONE_VAULT_KEYS"
SECRET_NAMES = (
    "SMS_ID_SECRET",
    "CONSOLE_SECRET_KEY",
    "ACTION_SERVER_TOKEN",
    "WIDGET_ID_SECRET",
    "CONSOLE_TOTP_KEY",
)


@dataclass
class Stack:
    """PostgreSQL + Redis + nginx + replicas under `root` (see the module docstring).

    Ports default to free loopback ports; `public_port` / `console_port` may be
    fixed (make cluster). `secrets` default to fresh random values (or those in
    the environment); `extra_env` goes to every assistant process."""

    root: Path
    replicas: int = 2
    action_servers: int = 2
    public_port: int = 0
    console_port: int = 0
    with_widget: bool = True
    with_console: bool = True
    secrets: Dict[str, str] = field(default_factory=dict)
    extra_env: Dict[str, str] = field(default_factory=dict)
    durable: bool = True  # False: fsync off (tests: faster, nothing to keep)
    single_replica_port: bool = False  # bench: also nginx -> replica 1 only, on its own port
    log: Callable[[str], None] = print
    rasa_start_timeout: float = env_float("RASA_START_TIMEOUT", 400.0, low=1.0)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.pg_port, self.redis_port = free_port(), free_port()
        self.public_port = self.public_port or free_port()
        self.console_port = self.console_port or free_port()
        self.actions_lb_port = free_port()
        self.single_port = free_port() if self.single_replica_port else 0
        self.widget_port, self.console_backend_port = free_port(), free_port()
        self.rasa_ports = [free_port() for _ in range(self.replicas)]
        self.action_ports = [free_port() for _ in range(self.action_servers)]
        self.pg_password = ""
        self.pg: Optional[Proc] = None
        self.redis: Optional[Proc] = None
        self.nginx: Optional[Proc] = None
        self.rasa: List[Proc] = []
        self.actions: List[Proc] = []
        self.others: List[Proc] = []  # widget, console
        self.logs = self.root / "logs"

    # ---- addresses

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    @property
    def single_url(self) -> str:
        """bench/run_all.py --cluster: the same nginx path to replica 1 only."""
        assert self.single_port, "Stack(single_replica_port=True) only"
        return f"http://127.0.0.1:{self.single_port}"

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[i]}"

    @property
    def database_url(self) -> str:
        return f"postgresql://{DB_USER}:{self.pg_password}@127.0.0.1:{self.pg_port}/{DB_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}"

    def env(self, **overrides: str) -> Dict[str, str]:
        """What every assistant process of the stack gets."""
        env = dict(os.environ)
        for key in ("PYTHONPATH", "RASA_CACHE_DIRECTORY"):
            env.pop(key, None)
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            HOST="127.0.0.1",
            SANIC_HOST="127.0.0.1",
            SANIC_REQUEST_MAX_SIZE=str(MAX_PUBLIC_BODY_BYTES),
            SANIC_KEEP_ALIVE_TIMEOUT="120",
            REPLICAS=str(self.replicas),
            DATABASE_URL=self.database_url,
            # Rasa's SQL store pools 50 (+100) connections per process by default
            SQL_POOL_SIZE="5",
            SQL_MAX_OVERFLOW="20",
            LOCK_STORE_TYPE="redis",
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(self.redis_port),
            RATE_LIMIT_STORAGE_URI=f"{self.redis_url}/2",
            SMS_STATE_STORE="redis",
            ACTION_SERVER_URL=f"http://127.0.0.1:{self.actions_lb_port}/webhook",
            WIDGET_PORT=str(self.widget_port),
            WIDGET_ALLOWED_ORIGINS=f"http://127.0.0.1:{self.public_port},"
            f"http://localhost:{self.public_port}",
            RASA_PUBLIC_URL=self.url,
            CONSOLE_PORT=str(self.console_backend_port),
            CONSOLE_HOST="127.0.0.1",
            # nginx is the one proxy in front of Rasa and the console: the per-address
            # limits and the console's login throttle read the address it saw
            TRUSTED_PROXY_COUNT="1",
            CONSOLE_TRUSTED_PROXIES="1",
            ACTION_HOST="127.0.0.1",
        )
        env.update(self.secrets)
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # ---- start / stop

    def start(self) -> Stack:
        try:
            ensure_packages(self.log)
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o755)  # the postgres user must reach its data directory
            self.logs.mkdir(exist_ok=True)
            for name in SECRET_NAMES:
                self.secrets.setdefault(name, os.environ.get(name) or secrets.token_hex(32))
            # the SMS call-back numbers' key is a Fernet key (stores/phone_vault.py)
            self.secrets.setdefault(
                PHONE_VAULT_KEYS,
                os.environ.get(PHONE_VAULT_KEYS)
                or base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"),
            )
            t0 = time.monotonic()
            self.start_postgres()
            self.start_redis()
            self.start_nginx()
            self.log(
                f"postgres :{self.pg_port}, redis :{self.redis_port}, nginx "
                f":{self.public_port} up in {time.monotonic() - t0:.1f}s"
            )
            self.start_assistant()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Front to back: nginx, console and widget, Rasa, actions, Redis, PostgreSQL."""
        for proc in [self.nginx, *self.others, *self.rasa, *self.actions, self.redis, self.pg]:
            if proc is None:
                continue
            try:
                proc.stop()
            except Exception as error:  # keep stopping the others
                self.log(f"could not stop {proc.name}: {error}")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def all_procs(self) -> List[Proc]:
        return (
            [p for p in (self.pg, self.redis, self.nginx) if p]
            + self.actions
            + self.rasa
            + self.others
        )

    # ---- PostgreSQL, Redis, nginx

    def start_postgres(self) -> None:
        server = PostgresServer(self.root, self.logs, self.pg_port, self.durable)
        server.prepare()
        self.pg = server.proc().start()
        wait_until(lambda: server.sql("SELECT 1") == "1", 60, "postgres", self.pg)
        self.pg_password = server.create_database()
        self.psql = server.sql

    def db_engine(self):
        import sqlalchemy as sa

        return sa.create_engine(
            self.database_url, future=True, pool_pre_ping=True, hide_parameters=True
        )

    def start_redis(self) -> None:
        self.redis = redis_proc(self.root, self.logs, self.redis_port).start()
        wait_until(lambda: port_open(self.redis_port), 30, "redis", self.redis)

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    def nginx_conf(self) -> str:
        return nginx.render_config(
            folder=self.root / "nginx",
            logs=self.logs,
            public_port=self.public_port,
            console_port=self.console_port,
            actions_lb_port=self.actions_lb_port,
            single_port=self.single_port,
            rasa_ports=self.rasa_ports,
            action_ports=self.action_ports,
            widget_port=self.widget_port,
            console_backend_port=self.console_backend_port,
            action_body_limit=action_request_max_size(),
        )

    def start_nginx(self) -> None:
        conf = nginx.write_config(self.root / "nginx", self.nginx_conf())
        self.nginx = nginx.nginx_proc(conf, self.logs).start()
        wait_until(lambda: port_open(self.public_port), 30, "nginx", self.nginx)

    # ---- the assistant

    def rasa_proc(self, i: int) -> Proc:
        port = self.rasa_ports[i]
        return Proc(
            f"rasa-{i + 1}",
            rasa_run_args(port),
            # as in the Procfile: one BLAS/OpenMP thread unless the environment says
            # otherwise (perf/blas_threads.py; tests/test_speedups.py checks it)
            {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **self.env(RASA_PORT=str(port))},
            self.logs / f"rasa-{i + 1}.log",
        )

    def start_assistant(self) -> None:
        t0 = time.monotonic()
        for i, port in enumerate(self.action_ports):
            self.actions.append(
                Proc(
                    f"actions-{i + 1}",
                    [
                        # the token-checking action server (actions/server.py), as in the Procfile
                        str(VENV_BIN / "python"),
                        "-m",
                        "actions.server",
                        "--port",
                        str(port),
                    ],
                    # trackers are larger than a patient's message (Makefile, Procfile)
                    self.env(
                        ACTION_PORT=str(port), SANIC_REQUEST_MAX_SIZE=str(action_request_max_size())
                    ),
                    self.logs / f"actions-{i + 1}.log",
                ).start()
            )
        for i in range(self.replicas):
            self.rasa.append(self.rasa_proc(i).start())
        if self.with_widget:
            self.others.append(
                Proc(
                    "widget",
                    [str(VENV_BIN / "python"), "widget/serve.py"],
                    self.env(),
                    self.logs / "widget.log",
                ).start()
            )
        if self.with_console:
            self.others.append(
                Proc(
                    "console",
                    [
                        str(VENV_BIN / "python"),
                        "-m",
                        "console",
                        "serve",
                        "--port",
                        str(self.console_backend_port),
                    ],
                    self.env(),
                    self.logs / "console.log",
                ).start()
            )
        for i, proc in enumerate(self.actions):
            wait_until(
                lambda i=i: http_ok(f"http://127.0.0.1:{self.action_ports[i]}/health"),
                120,
                proc.name,
                proc,
            )
        for i in range(len(self.rasa)):
            self.wait_rasa(i)
        for proc in self.others:
            port = self.widget_port if proc.name == "widget" else self.console_backend_port
            path = "/demo/" if proc.name == "widget" else "/login"
            wait_until(
                lambda port=port, path=path: http_ok(f"http://127.0.0.1:{port}{path}"),
                120,
                proc.name,
                proc,
            )
        self.log(
            f"{self.replicas} Rasa servers, {self.action_servers} action servers"
            f"{', widget' if self.with_widget else ''}"
            f"{', console' if self.with_console else ''} up in "
            f"{time.monotonic() - t0:.1f}s"
        )

    def wait_rasa(self, i: int, timeout: Optional[float] = None) -> None:
        wait_until(
            lambda: http_ok(f"{self.replica_url(i)}/webhooks/rest/"),
            timeout or self.rasa_start_timeout,
            self.rasa[i].name,
            self.rasa[i],
        )

    def restart_rasa(self, i: int) -> None:
        self.rasa[i].stop()
        self.rasa[i] = self.rasa_proc(i).start()
        self.wait_rasa(i)


@contextlib.contextmanager
def running_stack(root: Path, **kwargs) -> Iterator[Stack]:
    stack = Stack(root, **kwargs)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


if __name__ == "__main__":  # quick manual check: python cluster/stack.py /tmp/x
    with running_stack(
        Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/achilles-stack"), durable=False
    ) as s:
        print("up:", s.url, s.console_url)
