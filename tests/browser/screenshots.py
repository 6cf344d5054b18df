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
from typing import Optional, Sequence

from tests.browser.support import CHROMIUM, CONTEXT_OPTIONS, MISSING, launch_chromium, login

# (file name without .png, workbench path): one screenshot each, in this order.
PAGES: tuple[tuple[str, str], ...] = (
    ("workbench-home", "/"),
)


def has_chinese_font() -> bool:
    """True when fontconfig knows a font with Chinese glyphs (else pages show empty boxes)."""
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def take(base_url: str, out: Path, username: str, password: str,
         pages: Sequence[tuple[str, str]] = PAGES, chromium: Path = CHROMIUM) -> list[Path]:
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
            for name, path in pages:
                response = page.goto(base_url + path, wait_until="networkidle")
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
        written = take(base_url, args.out, args.username, args.password, chromium=args.chromium)
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
