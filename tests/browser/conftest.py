"""Browser-test fixtures: the whole product on loopback ports, driven by headless Debian Chromium.

* ``live`` (session): a seeded SQLite store, the fake WeChat API, and the real action server,
  Rasa server (trained model, REST and WeChat channels) and workbench, see :class:`Live`.
* ``browser`` (session): Debian Chromium under Playwright's sync API; ``page`` (per test): a
  page in a fresh context, so no cookies carry over; ``agent_page``: the same, logged in as
  the demo agent.
* Every test of this directory is marked ``browser`` (those using ``live`` also ``model``,
  see tests/conftest.py). Without /usr/bin/chromium they are skipped, except under CI=true,
  where they fail (`make system-packages` installs the browser).
* A failing test leaves a screenshot and the page's HTML in the session's temp dir; the
  report names them and the servers' log.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator

import pytest

from bot.channels.wechat_sim import WeChatSimulator
from bot.launcher import Stack, free_port
from tests.browser.support import CHROMIUM, CONTEXT_OPTIONS, MISSING, launch_chromium, login
from tests.channels.conftest import AES_KEY, APP_ID, ThreadedFake, wechat_env
from tests.channels.conftest import TOKEN as WECHAT_TOKEN
from tests.channels.fake_wechat import FakeWeChat

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

__all__ = ["Live", "login"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RASA_TOKEN = "browser-test-token"
# Playwright waits this long for an element or a navigation; the machine may be busy.
TIMEOUT_MS = 20_000


@dataclass
class Live:
    """The running product, as the browser tests see it.

    Attributes:
        base_url: the workbench, e.g. ``http://127.0.0.1:41234`` (no trailing slash).
        stack: the processes; ``stack.say(sender, text)`` talks to the bot over REST.
        wechat: the fake WeChat API; ``wechat.sent`` lists the customer-service messages the
            channel delivered, as (openid, content, token).
        database_url: the seeded SQLite store all three servers use.
        rasa_token: the Rasa HTTP API token; ``rasa_port`` its port on 127.0.0.1.
        log_path: where all server output goes.
        tmp: the session's temp dir (store, log, failure screenshots).
    """

    base_url: str
    stack: Stack
    wechat: FakeWeChat
    database_url: str
    rasa_token: str
    rasa_port: int
    log_path: Path
    tmp: Path
    wechat_webhook: str = field(init=False)

    def __post_init__(self) -> None:
        self.wechat_webhook = f"http://127.0.0.1:{self.rasa_port}/webhooks/wechat/webhook"

    def url(self, path: str) -> str:
        """The workbench URL of `path` (``/queue`` -> ``http://127.0.0.1:P/queue``)."""
        return self.base_url + path

    def wechat_sim(self, aes: bool = False) -> WeChatSimulator:
        """A client that posts signed (with `aes`, encrypted) WeChat messages to the channel."""
        return WeChatSimulator(self.wechat_webhook, WECHAT_TOKEN, APP_ID, AES_KEY if aes else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: mark only those under this directory.
    for item in items:
        if _in_here(item):
            item.add_marker(pytest.mark.browser)


def _in_here(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


@pytest.fixture(scope="session", autouse=True)
def _chromium_installed() -> None:
    """Skip (or under CI=true fail) before anything starts when the browser is missing."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{MISSING} (`make system-packages` installs it as root; "
                    f"{CHROMIUM} is missing)",
                    pytrace=False)
    pytest.skip(MISSING)


@pytest.fixture(scope="session")
def browser_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temp dir: store, server log, failure screenshots."""
    return tmp_path_factory.mktemp("browser")


def _tail(path: Path, lines: int = 40) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return "".join(deque(f, maxlen=lines))


def _start(stack: Stack, workbench_port: int, log_path: Path) -> None:
    try:
        stack.start_workbench(workbench_port)
        stack.start_actions()
        stack.start_server()
    except RuntimeError as exc:
        pytest.fail(f"{exc}; server log: {log_path}\n--- last lines ---\n{_tail(log_path)}",
                    pytrace=False)


@pytest.fixture(scope="session")
def live(browser_tmp: Path, trained_model: Path) -> Iterator[Live]:
    """The whole product on free loopback ports, with the fake WeChat API behind the channel."""
    database_url = f"sqlite:///{browser_tmp / 'postdesk.db'}"
    # With --demo the store seed also adds the demo workbench accounts (agent, trainer,
    # supervisor, admin).
    seeded = subprocess.run(
        [sys.executable, "-m", "bot.workorders", "seed", "--database-url", database_url,
         "--demo"],
        cwd=ROOT, capture_output=True, text=True)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    log_path = browser_tmp / "servers.log"
    log: IO[str] = open(log_path, "w")
    stack = Stack(trained_model, RASA_TOKEN, database_url, free_port(), free_port(), log=log,
                  workdir=browser_tmp)
    workbench_port = free_port()
    try:
        with ThreadedFake(app_id=APP_ID) as fake:
            # The Rasa server's WeChat channel sends its later replies to the fake API.
            stack.env.update(wechat_env(fake, database_url, passive_wait_s=4.0))
            _start(stack, workbench_port, log_path)
            yield Live(base_url=f"http://127.0.0.1:{workbench_port}", stack=stack,
                       wechat=fake, database_url=database_url, rasa_token=RASA_TOKEN,
                       rasa_port=stack.rasa_port, log_path=log_path, tmp=browser_tmp)
    finally:
        stack.close()
        log.close()


@pytest.fixture(scope="module")
def browser(_chromium_installed: None) -> Iterator["Browser"]:
    """Headless Debian Chromium, driven through Playwright's sync API.

    One per test module: while Playwright's sync API is active it holds an event loop in this
    thread, so it must be stopped before the asyncio tests of other directories run.
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: "Browser", browser_tmp: Path) -> Iterator["Page"]:
    """A page in a new browser context (no cookies from other tests)."""
    context = browser.new_context(**CONTEXT_OPTIONS)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def agent_page(page: "Page", live: Live) -> "Page":
    """`page`, logged in as the demo agent and showing the home page."""
    login(page, live.base_url, "agent", "demo-agent-2026")
    assert page.url == live.url("/"), f"agent login failed: at {page.url}"
    return page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or report.when == "teardown" or not _in_here(item):
        return
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    lines = []
    page, tmp = funcargs.get("page"), funcargs.get("browser_tmp")
    if page is not None and tmp is not None and not page.is_closed():
        stem = tmp / re.sub(r"[^\w.-]+", "_", item.nodeid.split("::", 1)[-1])
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
            lines.append(f"page at failure: {page.url}\nscreenshot: {stem}.png\nhtml: {stem}.html")
        except Exception as exc:  # the page may have crashed; the test's own error matters more
            lines.append(f"no screenshot: {exc}")
    live = funcargs.get("live")
    if isinstance(live, Live):
        lines.append(f"server log: {live.log_path}")
    if lines:
        report.sections.append(("browser", "\n".join(lines)))
