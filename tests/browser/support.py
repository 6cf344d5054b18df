"""What the browser tests and the screenshot tool share: how Chromium is launched, and logging in.

The browser is Debian's ``chromium`` package, never one downloaded by ``playwright install``
(there is no network for that): Playwright drives it through ``executable_path``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.accounts import DEMO_ACCOUNTS, DemoAccount

if TYPE_CHECKING:  # playwright is imported by the code that uses it, not at import time
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
MISSING = "Debian chromium not installed: apt-get install chromium"
# Without the background-networking switches Chromium hangs trying to reach Google's services
# on a closed network; --no-sandbox because CI runs as root in a container.
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
# What every page sees: a desktop window, Chinese, the post office's time zone.
CONTEXT_OPTIONS = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN",
                   "timezone_id": "Asia/Shanghai"}


def launch_chromium(playwright: "Playwright", executable: Path = CHROMIUM) -> "Browser":
    """Start headless Debian Chromium under Playwright."""
    return playwright.chromium.launch(executable_path=str(executable), headless=True,
                                      args=list(CHROMIUM_ARGS))


def demo_account(username: str) -> DemoAccount:
    """The demo account (username, role, display name, password) called `username`."""
    for account in DEMO_ACCOUNTS:
        if account.username == username:
            return account
    raise KeyError(f"no demo account {username!r}")


def login(page: "Page", base_url: str, username: str, password: str) -> None:
    """Log in through the login form and wait for the page it leads to.

    Does not check that the login worked: after a wrong password the page is the login form
    again, with its error. Callers assert on what they expect.
    """
    page.goto(f"{base_url.rstrip('/')}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
