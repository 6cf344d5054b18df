"""Channel fixtures: the fake WeChat API in a background thread, the channel in a real server."""
from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Mapping, Optional, Sequence

import pytest

from bot.launcher import free_port
from tests.channels.fake_wechat import FakeWeChat

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-wechat-token"
APP_ID = "wx1234567890abcdef"
AES_KEY = base64.b64encode(b"postdesk-test-aes-key-32-bytes!!").decode().rstrip("=")


class ThreadedFake:
    """FakeWeChat running on its own event loop in a daemon thread."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeWeChat(**kwargs)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeWeChat:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop).result(30)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(None, None, None), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def wait_until(check: Any, timeout: float = 15, step: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy (or time runs out); return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def wechat_env(fake: FakeWeChat, database_url: str, passive_wait_s: float,
               compat_mode: bool = True) -> dict[str, str]:
    """The channel's environment: safe mode with AES_KEY, in WeChat's compatible mode by default
    (plain and encrypted messages both accepted, so tests can speak either);
    tests/channels/test_wechat_security.py starts a safe-only channel."""
    return dict(os.environ, WECHAT_TOKEN=TOKEN, WECHAT_APP_ID=APP_ID,
                WECHAT_APP_SECRET=fake.app_secret, WECHAT_ENCODING_AES_KEY=AES_KEY,
                WECHAT_COMPAT_MODE="1" if compat_mode else "0",
                WECHAT_API_BASE_URL=fake.base_url, WECHAT_PASSIVE_WAIT_S=str(passive_wait_s),
                DATABASE_URL=database_url, REDIS_URL="")


@pytest.fixture(scope="module")
def fake_wechat() -> Iterator[FakeWeChat]:
    with ThreadedFake(app_id=APP_ID) as fake:
        yield fake


def start_stub(fake: FakeWeChat, tmp: Path, redis_url: str = "", database_url: str = "",
               env: Optional[Mapping[str, str]] = None,
               args: Sequence[str] = ()) -> tuple[subprocess.Popen, SimpleNamespace]:
    """Start tests/channels/wechat_stub.py on a free port; return the process and its URLs.

    `env` overrides the channel's environment; `args` are more stub options (--fake-clock).
    The URLs include `log`, the path of the stub's log.
    """
    port = free_port()
    database_url = database_url or f"sqlite:///{tmp / 'postdesk.db'}"
    environ = wechat_env(fake, database_url, passive_wait_s=1.0)
    environ["REDIS_URL"] = redis_url
    environ.update(env or {})
    log_path = tmp / f"stub-{port}.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "tests.channels.wechat_stub", "--port", str(port), *args]
    proc = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/webhooks/wechat/", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    if not wait_until(up, timeout=60):
        proc.terminate()
        raise RuntimeError((tmp / f"stub-{port}.log").read_text())
    return proc, SimpleNamespace(base=base, database_url=database_url, log=log_path,
                                 webhook=f"{base}/webhooks/wechat/webhook")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def stub_channel(fake_wechat: FakeWeChat,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The channel with a stand-in for Rasa (tests/channels/wechat_stub.py): its URLs."""
    proc, urls = start_stub(fake_wechat, tmp_path_factory.mktemp("wechat-stub"))
    try:
        yield urls
    finally:
        stop(proc)
