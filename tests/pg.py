"""A throwaway PostgreSQL server for the tests, from the Debian package, on loopback.

``POSTDESK_TEST_PG_URL`` names an existing scratch database instead (under pytest-xdist, each
worker makes a database of its own beside it, see :func:`database_of_worker`). Without either, the
PostgreSQL variants of the store tests are not collected (`make test` in CI installs the
package first, see .ci/system-packages).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

PG_URL_ENV = "POSTDESK_TEST_PG_URL"


def pg_bin() -> Optional[Path]:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def available() -> bool:
    """Whether the PostgreSQL variants run: a scratch database is named or a server installed."""
    return bool(os.environ.get(PG_URL_ENV)) or pg_bin() is not None


def database_of_worker(url: str, worker: str) -> str:
    """A scratch database of its own for the pytest-xdist `worker` (``gw0``...) on the server
    `url` names, created when missing, so that parallel workers never share one."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    given = make_url(url)
    name = f"{given.database or 'postgres'}_{worker}"
    engine = create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": name}).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


class Server:
    """A private cluster in a temporary directory; stopped and removed by :meth:`stop`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="postdesk-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:  # initdb refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        """Create the cluster, start it on loopback without fsync, and return its URL."""
        bin_dir = pg_bin()
        assert bin_dir is not None, "PostgreSQL server binaries not installed"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-locale")
        self._run(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off", "start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self.url
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not start")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        bin_dir = pg_bin()
        if bin_dir is not None and (self.dir / "data").exists():
            try:
                self._run(str(bin_dir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast",
                          "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
