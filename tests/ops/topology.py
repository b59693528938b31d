"""The production topology on this machine: PostgreSQL, Redis, gunicorn and django-q2
clusters, as README "Operations (production)" runs them, only on loopback.

    with Topology("smoke") as topology:       # database created, migrated, static collected
        topology.start_web()                  # gunicorn rediverio.wsgi -w 4 -k gthread …
        topology.start_clusters(2)            # two `manage.py qcluster`
        topology.http("GET", "/healthz")
        topology.kill_cluster(0)              # SIGKILL, the whole process group
        topology.restart_cluster(0)
                                              # on the way out, whatever happened: processes
                                              # stopped, database dropped, Redis keys removed

Everything it creates is its own: a throw-away database `rediverio_<purpose>_<random>`, a
django-q2 cluster name `rediverio-<purpose>-<random>` that prefixes every Redis key the
product writes (so other users of the same Redis are left alone), and a temporary
directory for static files, Prometheus' multiprocess files and the process logs. When
the block fails, the tail of every process's log is printed.

Django-free: it drives the product through its processes, HTTP and SQL (psycopg), so it
runs inside a pytest process that has Django set up for another database.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# The venv's scripts (gunicorn, rediverio-agent, bandit) sit beside its interpreter.
SCRIPTS = Path(PYTHON).parent


def _postgres_server() -> str:
    """OPS_POSTGRES_URL; else the server of DATABASE_URL when it is PostgreSQL (CI's);
    else the local one."""
    if explicit := os.environ.get("OPS_POSTGRES_URL"):
        return explicit.rstrip("/")
    url = urlsplit(os.environ.get("DATABASE_URL", ""))
    if url.scheme.lower() in {"postgres", "postgresql"} and url.hostname:
        return f"{url.scheme}://{url.netloc}"
    return "postgres://postgres@127.0.0.1:5432"


POSTGRES_SERVER = _postgres_server()
# A database number of its own on the shared Redis; the keys are namespaced as well.
REDIS_URL = os.environ.get("OPS_REDIS_URL", "redis://127.0.0.1:6379/9")

# Variables the topology sets itself; inherited values (and their *_FILE forms) would
# otherwise leak a developer's configuration into the processes.
_OWN_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_TLS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "Q_CLUSTER_NAME",
    "Q_WORKERS",
    "REDIVERIO_VAR_DIR",
    "PROMETHEUS_MULTIPROC_DIR",
    "METRICS_TOKEN",
)

T = TypeVar("T")


class TopologyError(RuntimeError):
    pass


def say(message: str) -> None:
    """Progress on stderr, flushed: a reader of `make prod-smoke` sees where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def redis_unreachable_reason(url: str = REDIS_URL) -> str | None:
    """Why Redis cannot be used (None when it answers)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} is unreachable: {exc}"
    return None


def postgres_unreachable_reason(server: str = POSTGRES_SERVER) -> str | None:
    import psycopg

    try:
        with psycopg.connect(f"{server}/postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {server} is unreachable: {exc}"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Process:
    """A process we started, in a session (process group) of its own, so that it and
    its children (gunicorn's workers, a cluster's worker processes) stop as one."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    stopped_how: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        # The group id is the leader's pid (start_new_session); it outlives the leader
        # while any member lives, so orphaned workers are reached too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def ask_to_stop(self, first_signal: int = signal.SIGTERM) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(first_signal)

    def stop(self, *, first_signal: int | None = signal.SIGTERM, grace: float = 15.0) -> None:
        """Ask the leader (it stops its own children in order; None: already asked),
        then force the group when the grace runs out."""
        if first_signal is not None:
            self.ask_to_stop(first_signal)
        try:
            self.popen.wait(grace)
            self.stopped_how = self.stopped_how or "stopped"
        except subprocess.TimeoutExpired:
            self.kill_group()
            self.popen.wait(10)
            self.stopped_how = self.stopped_how or f"killed after {grace:.0f} s"
        self.kill_group()  # whatever is left of the group


@dataclass
class Topology:
    purpose: str = "ops"
    web_workers: int = 4
    web_threads: int = 4
    q_workers: int = 2
    collectstatic: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        token = secrets.token_hex(4)
        self.database = f"rediverio_{self.purpose}_{token}".replace("-", "_")
        self.cluster_name = f"rediverio-{self.purpose}-{token}"
        self.database_url = f"{POSTGRES_SERVER}/{self.database}"
        self.redis_url = REDIS_URL
        self.port = 0
        self.web: Process | None = None
        self.clusters: list[Process] = []
        self.processes: list[Process] = []  # every one ever started, for the log tails
        self.timings: dict[str, float] = {}
        self.env: dict[str, str] = {}
        self.directory: Path | None = None
        self._database_created = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up

    def __enter__(self) -> Topology:
        try:
            self._set_up()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            say(f"failed ({exc_type.__name__}: {exc})")
            if self.processes:
                say("the processes' logs end with:")
                print(self.log_tails(), file=sys.stderr, flush=True)
        self._tear_down()

    def _set_up(self) -> None:
        for reason in (postgres_unreachable_reason(), redis_unreachable_reason(self.redis_url)):
            if reason:
                raise TopologyError(reason)
        self.directory = Path(tempfile.mkdtemp(prefix=f"{self.cluster_name}-"))
        (self.directory / "logs").mkdir()
        (self.directory / "metrics").mkdir()  # empty at start, as prometheus_client wants
        # STATIC_ROOT, there even when nothing is collected (whitenoise warns otherwise).
        (self.directory / "var" / "static").mkdir(parents=True)
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name not in _OWN_VARIABLES and name.removesuffix("_FILE") not in _OWN_VARIABLES
        }
        # DEBUG is off, so /metrics answers only the bearer of this token (loopback is
        # what a same-host proxy looks like, and earns nothing).
        self.metrics_token = secrets.token_urlsafe(32)
        self.env = {
            **inherited,
            "PATH": f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "rediverio.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "Q_CLUSTER_NAME": self.cluster_name,
            "Q_WORKERS": str(self.q_workers),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "false",
            "SECURE_TLS": "false",  # plain HTTP on loopback; production sits behind TLS
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",  # start_cluster waits for django-q2's INFO "running." line
            # STATIC_ROOT is <var dir>/static.
            "REDIVERIO_VAR_DIR": str(self.directory / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.directory / "metrics"),
            "METRICS_TOKEN": self.metrics_token,
            **self.extra_env,
        }
        with self.timed("create_database"):
            self._admin_sql(f'CREATE DATABASE "{self.database}"')
            self._database_created = True
        with self.timed("migrate"):
            self.manage("migrate", "--noinput", "-v", "0")
        if self.collectstatic:
            with self.timed("collectstatic"):
                self.manage("collectstatic", "--noinput", "-v", "0")

    def _tear_down(self) -> None:
        # Every process is asked first, then awaited: they wind down side by side.
        for process in self.processes:
            # gunicorn: SIGINT is its quick shutdown (SIGTERM waits for keep-alives).
            process.ask_to_stop(signal.SIGINT if process is self.web else signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.stop(first_signal=None, grace=15)
            except Exception as exc:  # noqa: BLE001 - carry on: the rest must go too
                say(f"stopping {process.name}: {exc}")
        if self._database_created:
            try:
                self._admin_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                say(f"dropping database {self.database}: {exc}")
        with contextlib.suppress(Exception):
            self.redis_clean()
        if self.directory is not None:
            if os.environ.get("OPS_KEEP_LOGS"):
                say(f"logs kept in {self.directory / 'logs'} (OPS_KEEP_LOGS is set)")
            else:
                shutil.rmtree(self.directory, ignore_errors=True)

    def redis_clean(self) -> int:
        """Remove every key of this topology: django-q2's (`django_q:<name>:…`) and the
        cache's (`<name>:…`). Returns how many there were."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        removed = 0
        for pattern in (f"django_q:{self.cluster_name}:*", f"{self.cluster_name}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                removed += client.delete(*keys)
        return removed

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - started, 2)

    # ------------------------------------------------------------------ processes

    def spawn(self, name: str, args: list[str], *, env: dict[str, str] | None = None) -> Process:
        assert self.directory is not None, "spawn() runs after _set_up()"
        log_path = self.directory / "logs" / f"{name}-{len(self.processes)}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        with self._lock:
            self.processes.append(process)
        return process

    def start_web(self) -> Process:
        """gunicorn as README runs it, bound to a free loopback port."""
        self.port = free_port()
        self.web = self.spawn(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "rediverio.wsgi",
                "-w",
                str(self.web_workers),
                "-k",
                "gthread",
                "--threads",
                str(self.web_threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "10",
            ],
        )
        with self.timed("web_start"):
            self.wait_until(
                lambda: self._answers("/healthz"), timeout=60, what="gunicorn to answer /healthz"
            )
        return self.web

    def _answers(self, path: str) -> bool:
        if self.web is None or not self.web.alive:
            raise TopologyError("gunicorn exited")
        try:
            return self.http("GET", path, timeout=5).status == 200
        except OSError:
            return False

    def start_cluster(self) -> Process:
        """One `manage.py qcluster`, returned once it says it is running."""
        index = len(self.clusters)
        cluster = self.spawn(f"cluster-{index}", [PYTHON, "manage.py", "qcluster"])
        self.clusters.append(cluster)
        self._wait_running(cluster)
        return cluster

    def start_clusters(self, count: int) -> list[Process]:
        with self.timed("clusters_start"):
            return [self.start_cluster() for _ in range(count)]

    def _wait_running(self, cluster: Process) -> None:
        def running() -> bool:
            if not cluster.alive:
                raise TopologyError(f"{cluster.name} exited")
            return "running." in cluster.log()

        self.wait_until(running, timeout=60, what=f"{cluster.name} to run")

    def kill_cluster(self, index: int) -> Process:
        """SIGKILL the cluster's whole process group, as a crashed host would lose it:
        its workers die mid-task and whatever it had taken from Redis is gone."""
        cluster = self.clusters[index]
        cluster.stopped_how = "killed (SIGKILL)"
        cluster.kill_group(signal.SIGKILL)
        cluster.popen.wait(10)
        return cluster

    def restart_cluster(self, index: int) -> Process:
        old = self.clusters[index]
        if old.alive:
            old.stop()
        cluster = self.spawn(f"cluster-{index}", [PYTHON, "manage.py", "qcluster"])
        self.clusters[index] = cluster
        self._wait_running(cluster)
        return cluster

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for process in self.processes:
            state = "running" if process.alive else f"exit {process.popen.returncode}"
            how = f", {process.stopped_how}" if process.stopped_how else ""
            parts.append(f"----- {process.name} (pid {process.pid}, {state}{how}) -----")
            parts.append(process.tail(lines) or "(no output)")
        return "\n".join(parts)

    # ------------------------------------------------------------------ commands

    def manage(self, *args: str, timeout: float = 300) -> str:
        """`manage.py <args>` in the topology's environment; its stdout."""
        return self._run([PYTHON, "manage.py", *args], timeout=timeout)

    def run_module(self, module: str, *args: str, timeout: float = 300) -> str:
        """`python -m <module> <args>` in the topology's environment; its stdout."""
        return self._run([PYTHON, "-m", module, *args], timeout=timeout)

    def _run(self, args: list[str], *, timeout: float) -> str:
        done = subprocess.run(
            args, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise TopologyError(
                f"{' '.join(args[1:])} exited {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done.stdout

    # ------------------------------------------------------------------ HTTP and SQL

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def http(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 30,
    ) -> Response:
        """One request on a new connection (no retries: a check sees what happened)."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=sent)
            reply = conn.getresponse()
            data = reply.read()
        finally:
            conn.close()
        return Response(
            reply.status,
            {k.lower(): v for k, v in reply.getheaders()},
            data,
            time.perf_counter() - started,
        )

    def sql(self, query: str, params: tuple | list = ()) -> list[tuple]:
        """Rows of a query on the topology's database (a short connection of its own)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _admin_sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(statement)

    # ------------------------------------------------------------------ waiting

    @staticmethod
    def wait_until(
        check: Callable[[], T], *, timeout: float, what: str, interval: float = 0.25
    ) -> T:
        """The first truthy value of `check()`, polled until `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TopologyError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(interval)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the block runs, so that `finally` and
    `__exit__` tear the topology down when `make` (or CI) is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
