"""Screenshots of the workbench for the docs, taken in headless Debian Chromium.

``python -m tests.browser.screenshots [--base-url URL] [--out docs/]`` logs in (as the demo
agent unless told otherwise) to a running workbench, e.g. the one ``make run`` starts, and saves
a full-page PNG of each page in :data:`PAGES` as ``OUT/NAME.png``. Run it from the project root.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

if TYPE_CHECKING:
    from playwright.sync_api import Page

from tests.browser.support import CHROMIUM, CONTEXT_OPTIONS, MISSING, launch_chromium, login

# (file name without .png, workbench path): one screenshot each, in this order.
# "{conversation}" stands for the conversation the agent holds (else the first in the queue).
PAGES: tuple[tuple[str, str], ...] = (
    ("workbench-home", "/"),
    ("workbench-queue", "/queue"),
    ("workbench-conversation", "/conversations/{conversation}"),
    ("workbench-orders", "/orders"),
)
DEMO_SENDER = "demo-screenshot"
DEMO_MESSAGES = ("EA000000014CN怎么好几天都没动了", "转人工")
DEMO_WHILE_HELD = "我急着用，能不能今天送到？"


def prepare_demo(page: "Page", base_url: str, rasa_url: str) -> None:
    """A REST customer asks about a stuck parcel and for a person; the agent claims it."""
    from bot.launcher import post_json

    webhook = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
    for text in DEMO_MESSAGES:
        status, answer = post_json(webhook, {"sender": DEMO_SENDER, "message": text})
        if status != 200:
            raise RuntimeError(f"{webhook} answered {status}: {answer}")
    entry = _queue_entry(page, base_url, DEMO_SENDER)
    if entry["status"] == "waiting":
        token = page.request.get(base_url + "/api/me").json()["csrf_token"]
        claimed = page.request.post(f"{base_url}/api/handovers/{entry['id']}/claim",
                                    headers={"X-CSRF-Token": token}, data={})
        if claimed.status != 200:
            raise RuntimeError(f"claim answered {claimed.status}: {claimed.text()}")
    post_json(webhook, {"sender": DEMO_SENDER, "message": DEMO_WHILE_HELD})


def _queue_entry(page: "Page", base_url: str, sender: str | None = None) -> dict:
    entries = page.request.get(base_url + "/api/queue").json()["entries"]
    chosen = ([e for e in entries if e["sender"] == sender] if sender
              else [e for e in entries if e["mine"]] or entries)
    if not chosen:
        raise RuntimeError("no conversation in the queue to show (try --demo)")
    return chosen[0]


def has_chinese_font() -> bool:
    """True when fontconfig knows a font with Chinese glyphs (else pages show empty boxes)."""
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def take(base_url: str, out: Path, username: str, password: str,
         pages: Sequence[tuple[str, str]] = PAGES, chromium: Path = CHROMIUM,
         demo_rasa_url: str | None = None) -> list[Path]:
    """Log in and save a full-page screenshot of each (name, path) of `pages` into `out`.

    Returns:
        The files written.

    Raises:
        RuntimeError: the login failed or a page did not answer 200.
    """
    from playwright.sync_api import sync_playwright

    base_url = base_url.rstrip("/")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        try:
            page = browser.new_context(**CONTEXT_OPTIONS).new_page()
            login(page, base_url, username, password)
            if page.url.split("?", 1)[0].endswith("/login"):
                raise RuntimeError(f"could not log in as {username!r} at {base_url}/login")
            if demo_rasa_url:
                prepare_demo(page, base_url, demo_rasa_url)
            for name, path in pages:
                if "{conversation}" in path:
                    path = path.format(conversation=_queue_entry(page, base_url)["id"])
                response = page.goto(base_url + path, wait_until="load")
                page.wait_for_timeout(2500)  # live pages fill in over their event streams
                status = response.status if response is not None else 0
                if status != 200:
                    raise RuntimeError(f"{base_url}{path} answered {status}, not 200")
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True, animations="disabled",
                                caret="hide")
                written.append(target)
        finally:
            browser.close()
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Take the screenshots; returns the exit status (1 when something is missing or fails)."""
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=None,
                        help="the running workbench (default http://localhost:WORKBENCH_PORT, "
                             "i.e. http://localhost:8080)")
    parser.add_argument("--out", type=Path, default=Path("docs"),
                        help="directory for the PNG files (default docs/)")
    parser.add_argument("--username", default="agent", help="account to log in as (agent)")
    parser.add_argument("--password", default="demo-agent-2026",
                        help="its password (the demo agent's)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM,
                        help=f"the browser binary (default {CHROMIUM})")
    parser.add_argument("--demo", metavar="RASA_URL", default=None,
                        help="first let a REST customer of that Rasa server (e.g. "
                             "http://localhost:5005) ask for a person and claim the conversation")
    parser.add_argument("--allow-missing-fonts", action="store_true",
                        help="take the screenshots even without a Chinese font")
    args = parser.parse_args(argv)

    if not args.chromium.exists():
        print(f"error: {MISSING} ({args.chromium} is missing)", file=sys.stderr)
        return 1
    if not args.allow_missing_fonts and not has_chinese_font():
        print("error: no Chinese font, the pages would show empty boxes: "
              "apt-get install fonts-noto-cjk (or pass --allow-missing-fonts)", file=sys.stderr)
        return 1
    base_url = args.base_url
    if base_url is None:
        from bot.config import load_settings

        base_url = f"http://localhost:{load_settings().workbench_port}"

    from playwright.sync_api import Error as PlaywrightError

    try:
        written = take(base_url, args.out, args.username, args.password, chromium=args.chromium,
                       demo_rasa_url=args.demo)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PlaywrightError as exc:
        print(f"error: {exc}\n(is the workbench running at {base_url}? 'make run' starts it)",
              file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
