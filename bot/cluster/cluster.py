"""The cluster: N Rasa replicas, M action servers, one workbench, HAProxy in front, on shared
PostgreSQL (tracker store and operational store) and Redis (lock store, WeChat message ids).

Each Rasa replica is started exactly as ``make run`` starts its one server
(:class:`bot.launcher.Stack`), on a free loopback port with an endpoints file of its own; the
children are restarted with back-off by :class:`bot.launcher.Supervisor`.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Mapping, Optional

from bot.cluster.engines import Postgres, Redis, wait_port
from bot.cluster.haproxy import HaproxyPlan, Server, haproxy_config
from bot.config import PROJECT_ROOT, Settings, ensure_token, rasa_api_token
from bot.launcher import LOOPBACK, Stack, Supervisor, free_port, stop, wait_http, write_private

logger = logging.getLogger("postdesk.cluster")

# A dead replica's Redis lock tickets expire after this many seconds (Rasa's default is 60), so
# its customers are served by another replica within seconds. A turn is bounded well below it
# (ACTION_TIMEOUT_S per action call).
TICKET_LOCK_LIFETIME_S = 10


def haproxy_binary() -> Optional[str]:
    """The HAProxy executable (Debian package ``haproxy``), or None."""
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


@dataclass
class ClusterOptions:
    """What to start and where: counts, ports, the model, the engines' URLs ("" = start a
    private one under `workdir`), extra environment for every child."""

    model: Path
    replicas: int = 2
    action_servers: int = 1
    front_port: int = 5000
    stats_port: int = 0             # 0 = front_port + 1
    workbench_port: int = 0         # 0 = no workbench
    workdir: Path = PROJECT_ROOT / "var" / "cluster"
    pg_dir: Optional[Path] = None   # where a private PostgreSQL keeps its data (workdir/pg)
    database_url: str = ""
    redis_url: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    seed_demo: bool = True


class Cluster:
    """Start with :meth:`start`, stop with :meth:`close` (or use it as a context manager)."""

    def __init__(self, options: ClusterOptions, settings: Settings,
                 log: Optional[IO[str]] = None) -> None:
        self.options, self.settings, self.log = options, settings, log
        var = PROJECT_ROOT / "var"
        self.workdir = options.workdir
        self.token = rasa_api_token(settings, var / "rasa_token")
        self.action_token = ensure_token(settings.action_token, var / "action_token")
        self.rest_token = ensure_token(settings.rest_token, var / "rest_token")
        self.stats_password = ensure_token("", self.workdir / "stats_password")
        self.stats_port = options.stats_port or options.front_port + 1
        self.postgres: Optional[Postgres] = None
        self.redis: Optional[Redis] = None
        self.database_url = options.database_url
        self.redis_url = options.redis_url
        self.replicas: list[Stack] = []
        self.action_stacks: list[Stack] = []
        self.workbench: Optional[Stack] = None
        self.haproxy: Optional[subprocess.Popen] = None
        self.action_front_port = 0
        self.supervisor: Optional[Supervisor] = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def front_url(self) -> str:
        """HAProxy's front: what customers, the workbench and tools talk to."""
        return f"http://{LOOPBACK}:{self.options.front_port}"

    @property
    def stats_url(self) -> str:
        """HAProxy's stats page."""
        return f"http://{LOOPBACK}:{self.stats_port}/"

    @property
    def replica_urls(self) -> list[str]:
        """Each Rasa replica's own base URL (RASA_REPLICAS: ``/model`` and ``/status`` go to each
        replica directly)."""
        return [f"http://{s.rasa_host}:{s.rasa_port}" for s in self.replicas]

    # -- starting ----------------------------------------------------------------------------
    def start_engines(self) -> None:
        """Start a private PostgreSQL and/or Redis for the URLs not given."""
        if not self.database_url:
            self.postgres = Postgres(self.options.pg_dir or self.workdir / "pg")
            self.database_url = self.postgres.start()
            logger.info("private PostgreSQL on %s:%d", LOOPBACK, self.postgres.port)
        if not self.redis_url:
            self.redis = Redis(self.workdir / "redis")
            self.redis_url = self.redis.start()
            logger.info("private Redis on %s:%d", LOOPBACK, self.redis.port)

    def seed(self) -> None:
        """Create the operational store's tables and the demo data (``make run``'s seed)."""
        flags = ["--refresh", "--demo"] if self.options.seed_demo else []
        done = subprocess.run(
            [sys.executable, "-m", "bot.workorders", "seed", "--database-url",
             self.database_url, *flags],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"seeding the store failed: {done.stderr[-2000:]}")

    def _stack(self, name: str, rasa_port: int, action_port: int, action_url: str) -> Stack:
        stack = Stack(self.options.model, self.token, self.database_url, rasa_port, action_port,
                      log=self.log, workdir=self.workdir / name,
                      tracker_store_url=self.database_url, action_token=self.action_token,
                      rest_token=self.rest_token, action_url=action_url,
                      settings=self.settings)
        stack.env.update(self.options.env)
        stack.env.update(REDIS_URL=self.redis_url, SANIC_PROXIES_COUNT="1",
                         TICKET_LOCK_LIFETIME=str(TICKET_LOCK_LIFETIME_S))
        return stack

    def _plan(self) -> HaproxyPlan:
        actions = [Server(f"actions{i + 1}", LOOPBACK, s.action_port)
                   for i, s in enumerate(self.action_stacks)] if len(self.action_stacks) > 1 else []
        return HaproxyPlan(
            front_port=self.options.front_port, stats_port=self.stats_port,
            replicas=[Server(f"rasa{i + 1}", s.rasa_host, s.rasa_port)
                      for i, s in enumerate(self.replicas)],
            action_servers=actions, action_port=self.action_front_port,
            stats_user="postdesk", stats_password=self.stats_password)

    def spawn_haproxy(self) -> subprocess.Popen:
        """(Re)write HAProxy's configuration and start it in the foreground (``-db``)."""
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("HAProxy is not installed (apt-get install haproxy)")
        config = self.workdir / "haproxy.cfg"
        write_private(config, haproxy_config(self._plan()))  # holds the stats password
        out = self.log if self.log is not None else None
        self.haproxy = subprocess.Popen([binary, "-db", "-f", str(config)], cwd=self.workdir,
                                        stdout=out, stderr=subprocess.STDOUT if out else None)
        return self.haproxy

    def start(self, timeout: float = 600) -> None:
        """Start everything and wait until HAProxy's front answers through a replica."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_engines()
        self.seed()
        count = max(1, self.options.action_servers)
        ports = [free_port() for _ in range(count)]
        if count > 1:
            self.action_front_port = free_port()
            action_url = f"http://{LOOPBACK}:{self.action_front_port}/webhook"
        else:
            action_url = f"http://{LOOPBACK}:{ports[0]}/webhook"
        self.action_stacks = [self._stack(f"actions-{i + 1}", 0, port, action_url)
                              for i, port in enumerate(ports)]
        self.replicas = [self._stack(f"rasa-{i + 1}", free_port(), ports[0], action_url)
                         for i in range(max(1, self.options.replicas))]
        for stack in self.action_stacks:
            stack.spawn_actions()
        for stack in self.replicas:
            stack.spawn_server()
        self.spawn_haproxy()
        for stack in self.action_stacks:
            assert stack.actions is not None
            if not wait_http(f"http://{LOOPBACK}:{stack.action_port}/health", stack.actions, 120):
                raise RuntimeError("an action server did not start")
        for stack in self.replicas:
            assert stack.server is not None
            if not wait_http(f"http://{stack.rasa_host}:{stack.rasa_port}/webhooks/rest/",
                             stack.server, timeout):
                raise RuntimeError(f"the Rasa replica on port {stack.rasa_port} did not start")
        if not wait_port(self.options.front_port, 10) or not self.wait_replicas_up(30):
            raise RuntimeError("HAProxy did not start or sees no replica up (see its messages)")
        if self.options.workbench_port:
            self.workbench = self._stack("workbench", 0, 0, action_url)
            self.workbench.env.update(RASA_URL=self.front_url,
                                      RASA_REPLICAS=",".join(self.replica_urls))
            self.workbench.start_workbench(self.options.workbench_port)

    def backend_status(self) -> dict[str, str]:
        """Each Rasa replica's status as HAProxy sees it (``UP``, ``DOWN`` …), from the stats
        page's CSV."""
        import base64
        import csv
        import io
        import urllib.request

        credentials = base64.b64encode(f"postdesk:{self.stats_password}".encode()).decode()
        request = urllib.request.Request(self.stats_url + ";csv",
                                         headers={"Authorization": f"Basic {credentials}"})
        with urllib.request.urlopen(request, timeout=5) as r:
            rows = csv.DictReader(io.StringIO(r.read().decode().lstrip("# ")))
            return {row["svname"]: row["status"] for row in rows
                    if row["pxname"] == "rasa" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_replicas_up(self, timeout: float) -> bool:
        """Wait until HAProxy has every replica UP (its checks passed), so the first customers
        are not answered 503."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = self.backend_status()
                if status and all(s == "UP" for s in status.values()):
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def supervise(self) -> Supervisor:
        """A supervisor restarting every child that dies, with back-off."""
        children: list[tuple[str, Callable[[], subprocess.Popen], subprocess.Popen]] = []
        for i, stack in enumerate(self.action_stacks):
            assert stack.actions is not None
            children.append((f"action server {i + 1}", stack.spawn_actions, stack.actions))
        for i, stack in enumerate(self.replicas):
            assert stack.server is not None
            children.append((f"Rasa replica {i + 1}", stack.spawn_server, stack.server))
        wb = self.workbench
        if wb is not None and wb.workbench is not None:
            children.append(("the workbench",
                             lambda: wb.spawn_workbench(self.options.workbench_port),
                             wb.workbench))
        haproxy = self.haproxy
        assert haproxy is not None
        children.append(("HAProxy", self.spawn_haproxy, haproxy))
        self.supervisor = Supervisor(children)
        return self.supervisor

    def processes(self) -> list[subprocess.Popen]:
        """Every child process started so far (current ones, after restarts)."""
        procs: list[subprocess.Popen] = []
        for stack in [*self.replicas, *self.action_stacks]:
            procs += stack.processes()
        if self.workbench is not None:
            procs += self.workbench.processes()
        if self.haproxy is not None:
            procs.append(self.haproxy)
        if self.supervisor is not None:
            procs += [c.process for c in self.supervisor.children if c.process not in procs]
        return procs

    def close(self) -> None:
        """Stop every child, then the private engines."""
        stop(self.processes())
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def __enter__(self) -> "Cluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def environment_summary(cluster: Cluster) -> dict[str, str]:
    """The settings a workbench or trainer needs to talk to this cluster (to export)."""
    return {"RASA_URL": cluster.front_url, "RASA_REPLICAS": ",".join(cluster.replica_urls),
            "DATABASE_URL": cluster.database_url, "TRACKER_STORE_URL": cluster.database_url,
            "REDIS_URL": cluster.redis_url}


def masked(url: str) -> str:
    """`url` with its password replaced by ``***`` (for printing)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: print nothing of it
        return "***"
    return parsed.render_as_string(hide_password=True) if parsed.password else url
