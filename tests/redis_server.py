"""A throwaway redis-server for the tests, from the Debian package, on loopback.

Without the binary the tests that need a real Redis are skipped (`make system-packages` installs
it).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional


def available() -> bool:
    return shutil.which("redis-server") is not None


class RedisServer:
    """``with RedisServer(tmp_dir) as url:`` a private server with no persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.proc: Optional[subprocess.Popen] = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> str:
        import redis

        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server not installed"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            for _ in range(200):
                try:
                    client.ping()
                    return self.url
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")
        finally:
            client.close()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
