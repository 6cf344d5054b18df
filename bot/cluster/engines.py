"""A private PostgreSQL and Redis for ``make cluster`` when DATABASE_URL / REDIS_URL are not given.

Both come from the Debian packages (``/usr/lib/postgresql/*/bin``, ``redis-server``), keep their
data under one directory (``var/cluster/`` by default), listen on 127.0.0.1 only and require a
password generated once into that directory (mode 0600). PostgreSQL keeps its data between
runs; Redis keeps none (message ids and locks are short-lived).
"""
from __future__ import annotations

import glob
import hashlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from bot.config import ensure_token
from bot.launcher import free_port

logger = logging.getLogger("postdesk.cluster")

LOOPBACK = "127.0.0.1"


def pg_bin() -> Optional[Path]:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def wait_port(port: int, timeout: float) -> bool:
    """Whether something accepts connections on loopback `port` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((LOOPBACK, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def reachable_by_postgres(directory: Path) -> bool:
    """Whether the ``postgres`` user can enter `directory` (every parent searchable)."""
    done = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(directory)],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def postgres_home_for(directory: Path) -> Path:
    """Where root keeps the cluster of `directory` when the postgres user cannot reach it: in
    that user's home, one folder per project directory (so the data survives between runs)."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]
    return Path("/var/lib/postgresql") / f"postdesk-cluster-{digest}"


class Postgres:
    """A PostgreSQL cluster in `directory` (created by ``initdb`` on first use), password
    authentication, on loopback `port` (a free one by default).

    Run as root, the server runs as the ``postgres`` user, which owns `directory`. When that
    user cannot reach `directory` (a parent not searchable by others, such as a private
    ``mktemp -d`` checkout), the cluster lives in :func:`postgres_home_for` `directory` instead,
    and the log says where.
    """

    def __init__(self, directory: Path, port: Optional[int] = None) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port or free_port()
        self.password = ""

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database as the ``postgres`` user."""
        return f"postgresql://postgres:{self.password}@{LOOPBACK}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            output = (done.stderr or done.stdout)[-500:]
            raise RuntimeError(f"{Path(args[0]).name} failed: {output}")

    def start(self) -> str:
        """Create the cluster when missing, start it, and return its URL."""
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not reachable_by_postgres(self.directory):
            moved = postgres_home_for(self.directory)
            logger.info("PostgreSQL's data kept in %s: the postgres user cannot reach %s",
                        moved, self.directory)
            self.directory, self.data = moved, moved / "data"
            self.directory.mkdir(parents=True, exist_ok=True)
        self.password = ensure_token("", self.directory / "password")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            shutil.chown(self.directory / "password", "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "-A", "scram-sha-256", f"--pwfile={self.directory / 'password'}",
                      "-E", "UTF8", "--no-locale")
        self._run(str(bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                  "-l", str(self.directory / "log"),
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses={LOOPBACK} "
                        "-c max_connections=200", "start")
        if not wait_port(self.port, 30):
            raise RuntimeError("PostgreSQL did not start (see its log)")
        return self.url

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`mode`: smart, fast or immediate); the data stays."""
        bin_dir = pg_bin()
        if bin_dir is not None and (self.data / "postmaster.pid").exists():
            try:
                self._run(str(bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                          "stop")
            except RuntimeError as exc:
                logger.warning("PostgreSQL did not stop cleanly: %s", exc)

    def restart(self) -> None:
        """Stop at once (``immediate``: like a crash) and start again on the same port."""
        self.stop("immediate")
        self.start()


class Redis:
    """A redis-server on loopback `port` with a password and no persistence."""

    def __init__(self, directory: Path, port: Optional[int] = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.password = ""
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL, password included."""
        return f"redis://:{self.password}@{LOOPBACK}:{self.port}/0"

    def start(self) -> str:
        """Start the server and return its URL."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("Redis is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.password = self.password or secrets.token_hex(16)
        # The password goes in through standard input, never on the command line.
        self.process = subprocess.Popen(
            [binary, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.directory)
        assert self.process.stdin is not None
        self.process.stdin.write(
            f"port {self.port}\nbind {LOOPBACK}\ndir {self.directory}\nsave \"\"\n"
            f"appendonly no\nrequirepass {self.password}\n".encode())
        self.process.stdin.close()
        if not wait_port(self.port, 20):
            raise RuntimeError("redis-server did not start")
        return self.url

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
