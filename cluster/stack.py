"""The assistant as several replicas on one machine: PostgreSQL, Redis, nginx,
N Rasa servers, M action servers, the widget and the staff console.

Used by `make cluster` (cluster/run.py), the cluster tests (tests/cluster/) and
the benchmark (bench/run_all.py --cluster). Nothing here is a cluster manager of
its own: the replicas share state only through Rasa's supported pieces (SQL
tracker store on PostgreSQL, Redis lock store) and the project's own shared
stores (rate limits and SMS de-duplication in Redis, appointment requests,
opt-outs and console tables in PostgreSQL), and nginx spreads the traffic:

    nginx  public port  /webhooks/*  -> Rasa replicas, round-robin
                        /socket.io/  -> Rasa replicas, sticky by client address
                                        (long-polling clients must stay on the
                                        replica that holds their session; the
                                        website widget uses one WebSocket)
                        /webhooks/twilio/ passes the original URI and Host, so
                                        the Twilio signature check sees the
                                        public URL
                        /            -> widget demo server
           console port              -> staff console
           actions port (internal)   -> action servers, round-robin; every
                                        Rasa replica's ACTION_SERVER_URL

PostgreSQL, Redis and nginx are Debian's packages, installed with apt-get when
missing (as root), run in the foreground as this stack's own instances: own
data directories under `root`, loopback ports, no system service. PostgreSQL
refuses to run as root, so when we are root it runs as the `postgres` user
(created by the Debian package). Every process is a child of this one, started
in its own session, and stopped by `stop()` (also on errors).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
MODEL_PATH = PROJECT_ROOT / "models" / "achilles.tar.gz"
DEBIAN_PACKAGES = ("postgresql", "redis-server", "nginx")
DB_NAME = DB_USER = "achilles"
def action_request_max_size() -> int:
    """The action servers' request limit in bytes (ACTION_REQUEST_MAX_SIZE, as in the
    Makefile and the Procfile; 8 MiB): Rasa sends the whole tracker with every call."""
    return int(os.environ.get("ACTION_REQUEST_MAX_SIZE") or 8 * 2**20)


SECRET_NAMES = ("SMS_ID_SECRET", "CONSOLE_SECRET_KEY", "ACTION_SERVER_TOKEN",
                "WIDGET_ID_SECRET")


class Unavailable(RuntimeError):
    """A system package is missing and cannot be installed here."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_parent_death_signal() -> None:  # runs in the child, before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------- packages --

def postgres_bin() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def missing_packages() -> List[str]:
    missing = []
    if postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing.append("nginx")
    return missing


def ensure_packages(log: Callable[[str], None] = print) -> None:
    """Installs PostgreSQL, Redis and nginx from Debian's packages if missing.

    The services are not started by the packages on this kind of machine
    (policy-rc.d) and never by us: we run our own instances. Raises Unavailable
    with the reason when they are missing and cannot be installed."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(f"missing {', '.join(missing)} and not root with apt-get to "
                          f"install them (apt-get install {' '.join(DEBIAN_PACKAGES)})")
    log(f"installing {', '.join(missing)} (apt-get) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in range(3):  # another apt run may hold the lock for a while
        update = subprocess.run(["apt-get", "update", "-qq"], env=env,
                                capture_output=True, text=True)
        install = subprocess.run(["apt-get", "install", "-y", "-qq", *missing], env=env,
                                 capture_output=True, text=True)
        if install.returncode == 0 and not missing_packages():
            return
        time.sleep(10 * (attempt + 1))
    raise Unavailable(f"apt-get install {' '.join(missing)} failed: "
                      f"{(install.stderr or update.stderr).strip()[-500:]}")


# --------------------------------------------------------------- processes --

@dataclass
class Proc:
    name: str
    args: List[str]
    env: Dict[str, str]
    log: Path
    cwd: Path = PROJECT_ROOT
    user: Optional[str] = None
    stop_signal: int = signal.SIGTERM
    proc: Optional[subprocess.Popen] = None

    def start(self) -> "Proc":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        kwargs = {}
        if self.user and os.geteuid() == 0:
            kwargs.update(user=self.user, group=self.user, extra_groups=[])
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_set_parent_death_signal, **kwargs)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        self.signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               proc: Optional[Proc] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what} exited ({proc.proc.returncode}); its log ends:\n"
                               f"{proc.tail()}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s"
                       + (f"; its log ends:\n{proc.tail()}" if proc else ""))


def http_ok(url: str) -> bool:
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 400
    except Exception:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -------------------------------------------------------------------- stack --

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
    rasa_start_timeout: float = float(os.environ.get("RASA_START_TIMEOUT", 400))

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
        self.others: List[Proc] = []         # widget, console
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
        return (f"postgresql://{DB_USER}:{self.pg_password}@127.0.0.1:{self.pg_port}/"
                f"{DB_NAME}")

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}"

    def env(self, **overrides: str) -> Dict[str, str]:
        """What every assistant process of the stack gets."""
        env = dict(os.environ)
        for key in ("PYTHONPATH", "RASA_CACHE_DIRECTORY"):
            env.pop(key, None)
        env.update(
            RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
            HOST="127.0.0.1", SANIC_HOST="127.0.0.1",
            SANIC_REQUEST_MAX_SIZE="65536", SANIC_KEEP_ALIVE_TIMEOUT="120",
            REPLICAS=str(self.replicas),
            DATABASE_URL=self.database_url,
            # Rasa's SQL store pools 50 (+100) connections per process by default
            SQL_POOL_SIZE="5", SQL_MAX_OVERFLOW="20",
            LOCK_STORE_TYPE="redis", REDIS_HOST="127.0.0.1", REDIS_PORT=str(self.redis_port),
            RATE_LIMIT_STORAGE_URI=f"{self.redis_url}/2",
            SMS_STATE_STORE="redis",
            ACTION_SERVER_URL=f"http://127.0.0.1:{self.actions_lb_port}/webhook",
            WIDGET_PORT=str(self.widget_port),
            WIDGET_ALLOWED_ORIGINS=f"http://127.0.0.1:{self.public_port},"
                                   f"http://localhost:{self.public_port}",
            RASA_PUBLIC_URL=self.url,
            CONSOLE_PORT=str(self.console_backend_port), CONSOLE_HOST="127.0.0.1",
            # nginx is the one proxy in front of Rasa and the console: the per-address
            # limits and the console's login throttle read the address it saw
            TRUSTED_PROXY_COUNT="1", CONSOLE_TRUSTED_PROXIES="1", ACTION_HOST="127.0.0.1",
        )
        env.update(self.secrets)
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # ---- start / stop

    def start(self) -> "Stack":
        try:
            ensure_packages(self.log)
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o755)  # the postgres user must reach its data directory
            self.logs.mkdir(exist_ok=True)
            for name in SECRET_NAMES:
                self.secrets.setdefault(name, os.environ.get(name) or secrets.token_hex(32))
            t0 = time.monotonic()
            self.start_postgres()
            self.start_redis()
            self.start_nginx()
            self.log(f"postgres :{self.pg_port}, redis :{self.redis_port}, nginx "
                     f":{self.public_port} up in {time.monotonic() - t0:.1f}s")
            self.start_assistant()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Front to back: nginx, console and widget, Rasa, actions, Redis, PostgreSQL."""
        for proc in [self.nginx, *self.others, *self.rasa, *self.actions, self.redis,
                     self.pg]:
            if proc is None:
                continue
            try:
                proc.stop()
            except Exception as error:  # keep stopping the others
                self.log(f"could not stop {proc.name}: {error}")

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def all_procs(self) -> List[Proc]:
        return [p for p in (self.pg, self.redis, self.nginx) if p] + self.actions \
            + self.rasa + self.others

    # ---- PostgreSQL

    def _pg_user(self) -> Optional[str]:
        return "postgres" if os.geteuid() == 0 else None

    def start_postgres(self) -> None:
        bindir = postgres_bin()
        assert bindir is not None
        data, sockets = self.root / "pg" / "data", self.root / "pg" / "run"
        password_file = self.root / "pg" / "password"
        user = self._pg_user()
        if user:  # PostgreSQL runs as `postgres`: every parent folder must let it through
            for parent in self.root.parents:
                if not parent.stat().st_mode & 0o001:
                    raise RuntimeError(f"{parent} is closed to other users (mode "
                                       f"{parent.stat().st_mode & 0o777:o}); PostgreSQL runs as "
                                       f"the postgres user: put the stack root elsewhere")
        if not (data / "PG_VERSION").exists():
            for path in (data, sockets):
                path.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(self.root / "pg", user, user)
                for path in (data, sockets):
                    shutil.chown(path, user, user)
            data.chmod(0o700)
            Proc("initdb", [str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                            "--auth-local=trust", "--auth-host=scram-sha-256",
                            "--encoding=UTF8", "--locale=C.UTF-8"],
                 {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
                 self.logs / "initdb.log", cwd=self.root, user=user).start().proc.wait()
            if not (data / "PG_VERSION").exists():
                raise RuntimeError(f"initdb failed: {(self.logs / 'initdb.log').read_text()}")
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                   "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning"]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off"]
        pg = Proc("postgres", [str(bindir / "postgres"), "-D", str(data), "-p",
                               str(self.pg_port), "-k", str(sockets), *options],
                  {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
                  self.logs / "postgres.log", cwd=self.root, user=user,
                  stop_signal=signal.SIGINT)  # "fast" shutdown
        self.pg = pg.start()
        psql = [str(bindir / "psql"), "-h", str(sockets), "-p", str(self.pg_port),
                "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qtAc"]

        def sql(statement: str) -> str:
            result = subprocess.run([*psql, statement], capture_output=True, text=True,
                                    cwd=self.root, user=user, group=user,
                                    extra_groups=[] if user else None)
            if result.returncode:
                raise RuntimeError(result.stderr.strip())
            return result.stdout.strip()

        wait_until(lambda: sql("SELECT 1") == "1", 60, "postgres", pg)
        if password_file.exists():
            self.pg_password = password_file.read_text().strip()
        else:
            self.pg_password = secrets.token_hex(16)
            password_file.write_text(self.pg_password + "\n")
            password_file.chmod(0o600)
        if sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'") != "1":
            sql(f"CREATE ROLE {DB_USER} LOGIN")
        sql(f"ALTER ROLE {DB_USER} PASSWORD '{self.pg_password}'")
        if sql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") != "1":
            sql(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        self.psql = sql

    def db_engine(self):
        import sqlalchemy as sa
        return sa.create_engine(self.database_url, future=True, pool_pre_ping=True,
                                hide_parameters=True)

    # ---- Redis

    def start_redis(self) -> None:
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        redis = Proc("redis", [shutil.which("redis-server") or "redis-server",
                               "--port", str(self.redis_port), "--bind", "127.0.0.1",
                               "--dir", str(data), "--save", "", "--appendonly", "no",
                               "--daemonize", "no", "--protected-mode", "yes"],
                     {"PATH": os.environ.get("PATH", "")}, self.logs / "redis.log",
                     cwd=data)
        self.redis = redis.start()
        wait_until(lambda: port_open(self.redis_port), 30, "redis", redis)

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    # ---- nginx

    def nginx_conf(self) -> str:
        def servers(ports: Sequence[int], extra: str = "") -> str:
            return "\n".join(f"        server 127.0.0.1:{p}{extra};" for p in ports)

        tmp = self.root / "nginx" / "tmp"
        user = "user www-data www-data;" if os.geteuid() == 0 else ""
        proxy_common = """
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;"""
        return f"""# generated by cluster/stack.py; see its docstring
{user}
worker_processes 1;
pid {self.root}/nginx/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format upstream '$remote_addr [$time_local] "$request" $status '
                        'upstream=$upstream_addr rt=$request_time';
    access_log {self.logs}/nginx-access.log upstream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 300s;
    proxy_read_timeout 120s;
    # a busy replica may be slow to accept under load; a dead one refuses at once
    proxy_connect_timeout 30s;
    # a replica that refuses connections is taken out for 5 s; its requests go
    # to the next one (a POST already sent to a replica is never repeated)
    proxy_next_upstream error timeout http_502 http_503;

    upstream rasa {{
{servers(self.rasa_ports, " max_fails=1 fail_timeout=5s")}
        keepalive 64;
    }}
    upstream rasa_socketio {{
        hash $remote_addr consistent;
{servers(self.rasa_ports, " max_fails=1 fail_timeout=5s")}
    }}
    upstream actions {{
{servers(self.action_ports, " max_fails=1 fail_timeout=5s")}
        keepalive 64;
    }}
    upstream widget {{ server 127.0.0.1:{self.widget_port}; }}
    upstream console {{ server 127.0.0.1:{self.console_backend_port}; }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}

    server {{
        listen 127.0.0.1:{self.public_port};
        client_max_body_size 64k;  # as SANIC_REQUEST_MAX_SIZE
        location /socket.io/ {{
            proxy_pass http://rasa_socketio;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        # Twilio signs the URL it called: the original URI (no rewrite) and Host
        location /webhooks/twilio/ {{
            proxy_pass http://rasa;{proxy_common}
            proxy_set_header Host $http_host;
        }}
        location /webhooks/ {{
            proxy_pass http://rasa;{proxy_common}
        }}
        location / {{
            proxy_pass http://widget;
        }}
    }}
    server {{
        listen 127.0.0.1:{self.console_port};
        location / {{
            proxy_pass http://console;{proxy_common}
            proxy_set_header Host $http_host;
        }}
    }}
{self._single_server_block(proxy_common)}
    server {{  # internal: every Rasa replica's ACTION_SERVER_URL
        listen 127.0.0.1:{self.actions_lb_port};
        # Rasa sends the conversation's tracker with every action call: it grows
        # (ACTION_REQUEST_MAX_SIZE, as the action servers)
        client_max_body_size {action_request_max_size()};
        client_body_buffer_size 1m;
        location / {{
            proxy_pass http://actions;{proxy_common}
        }}
    }}
}}
"""

    def _single_server_block(self, proxy_common: str) -> str:
        if not self.single_port:
            return ""
        return f"""    upstream rasa_one {{
        server 127.0.0.1:{self.rasa_ports[0]};
        keepalive 64;
    }}
    server {{  # benchmark: one replica through the same proxy
        listen 127.0.0.1:{self.single_port};
        location /webhooks/ {{
            proxy_pass http://rasa_one;{proxy_common}
        }}
    }}"""

    def start_nginx(self) -> None:
        folder = self.root / "nginx"
        tmp = folder / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(tmp, "www-data", "www-data")
        conf = folder / "nginx.conf"
        conf.write_text(self.nginx_conf())
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([binary, "-t", "-q", "-c", str(conf), "-p", str(folder)],
                               capture_output=True, text=True)
        if check.returncode:
            raise RuntimeError(f"nginx configuration rejected: {check.stderr.strip()}")
        nginx = Proc("nginx", [binary, "-c", str(conf), "-p", str(folder), "-g",
                               "daemon off;"], {"PATH": os.environ.get("PATH", "")},
                     self.logs / "nginx.log", cwd=folder, stop_signal=signal.SIGQUIT)
        self.nginx = nginx.start()
        wait_until(lambda: port_open(self.public_port), 30, "nginx", nginx)

    # ---- the assistant

    def rasa_proc(self, i: int) -> Proc:
        port = self.rasa_ports[i]
        return Proc(f"rasa-{i + 1}", [
            str(VENV_BIN / "rasa"), "run", "--model", str(MODEL_PATH), "--interface",
            "127.0.0.1", "--port", str(port), "--endpoints", "endpoints.yml",
            "--credentials", "credentials.yml"],
            # as in the Procfile: the measured Rasa speed-ups (perf/rasa_speedups.py)
            self.env(RASA_PORT=str(port), PYTHONPATH=str(PROJECT_ROOT / "perf" / "site")),
            self.logs / f"rasa-{i + 1}.log")

    def start_assistant(self) -> None:
        t0 = time.monotonic()
        for i, port in enumerate(self.action_ports):
            self.actions.append(Proc(f"actions-{i + 1}", [
                # the token-checking action server (actions/server.py), as in the Procfile
                str(VENV_BIN / "python"), "-m", "actions.server",
                "--port", str(port)],
                # trackers are larger than a patient's message (Makefile, Procfile)
                self.env(ACTION_PORT=str(port),
                         SANIC_REQUEST_MAX_SIZE=str(action_request_max_size())),
                self.logs / f"actions-{i + 1}.log").start())
        for i in range(self.replicas):
            self.rasa.append(self.rasa_proc(i).start())
        if self.with_widget:
            self.others.append(Proc("widget", [str(VENV_BIN / "python"), "widget/serve.py"],
                                    self.env(), self.logs / "widget.log").start())
        if self.with_console:
            self.others.append(Proc("console", [
                str(VENV_BIN / "python"), "-m", "console", "serve", "--port",
                str(self.console_backend_port)], self.env(), self.logs / "console.log").start())
        for i, proc in enumerate(self.actions):
            wait_until(lambda: http_ok(f"http://127.0.0.1:{self.action_ports[i]}/health"),
                       120, proc.name, proc)
        for i, proc in enumerate(self.rasa):
            self.wait_rasa(i)
        for proc in self.others:
            port = self.widget_port if proc.name == "widget" else self.console_backend_port
            path = "/demo/" if proc.name == "widget" else "/login"
            wait_until(lambda: http_ok(f"http://127.0.0.1:{port}{path}"), 120, proc.name, proc)
        self.log(f"{self.replicas} Rasa servers, {self.action_servers} action servers"
                 f"{', widget' if self.with_widget else ''}"
                 f"{', console' if self.with_console else ''} up in "
                 f"{time.monotonic() - t0:.1f}s")

    def wait_rasa(self, i: int, timeout: Optional[float] = None) -> None:
        wait_until(lambda: http_ok(f"{self.replica_url(i)}/webhooks/rest/"),
                   timeout or self.rasa_start_timeout, self.rasa[i].name, self.rasa[i])

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
    with running_stack(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/achilles-stack"),
                       durable=False) as s:
        print("up:", s.url, s.console_url)
