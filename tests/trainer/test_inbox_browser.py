"""The inbox page in headless Debian Chromium: mark an entity by selecting text, save, export.

The workbench runs in a thread on a loopback port with its own store and a scratch copy of the
training data; Rasa is not needed (the candidates are recorded as agents' corrections).
"""
from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest

from bot.config import Settings, local_now
from bot.launcher import free_port
from bot.store.accounts import Role, create_account
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from bot.trainer import inbox
from tests.browser.support import CHROMIUM, CONTEXT_OPTIONS, MISSING, launch_chromium
from tests.trainer.conftest import DataDirs

pytestmark = pytest.mark.browser
PASSWORD = "password-2026"
TEXT = "帮我查下EA123456785CN到蒙自没有 😀 电话13812345678"


class Workbench:
    """The workbench app served from a background thread's event loop."""

    def __init__(self, uows: UowFactory, dirs: DataDirs, tmp: Path) -> None:
        from aiohttp import web

        from bot.workbench import trainer_views
        from bot.workbench.app import create_app

        settings = replace(Settings(), tracker_store_url=f"sqlite:///{tmp}/no-tracker.db")
        self.app = create_app(settings, uows)
        if "trainer_inbox" not in self.app.router.named_resources():
            trainer_views.setup_routes(self.app)  # until bot.workbench.app wires the pages
        self.app[trainer_views.TRAINER_PATHS] = trainer_views.TrainerPaths(dirs.data, dirs.heldout)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(self.app)
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.runner.setup())
            self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert started.wait(30), "workbench did not start"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@pytest.fixture
def served(tmp_path: Path, data_dirs: DataDirs) -> Iterator[tuple[Workbench, UowFactory]]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    create_account(uows, "trainer1", PASSWORD, Role.TRAINER, "训练师1号")
    workbench = Workbench(uows, data_dirs, tmp_path)
    try:
        yield workbench, uows
    finally:
        workbench.stop()
        engine.dispose()


def test_a_trainer_marks_entities_saves_and_exports(served: tuple[Workbench, UowFactory],
                                                    data_dirs: DataDirs) -> None:
    from playwright.sync_api import sync_playwright

    workbench, uows = served
    cid = inbox.record_correction(uows, "wx-1", "wechat", TEXT, local_now(), "greet", 0.31,
                                  "track_mail", "agent1").id
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(**CONTEXT_OPTIONS).new_page()
            page.set_default_timeout(20_000)
            page.goto(f"{workbench.url}/login")
            page.fill("#username", "trainer1")
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.click("form[action='/login'] button[type=submit]")
            page.goto(f"{workbench.url}/trainer/inbox")
            row = page.locator(f'[data-testid="candidate-row"][data-id="{cid}"]')
            text = row.locator('[data-testid="candidate-text"]')
            assert text.inner_text() == "帮我查下EA123456785CN到蒙自没有 😀 电话138****5678"
            assert row.locator('[data-testid="intent-select"]').input_value() == "track_mail"

            def mark(part: str, entity: str) -> None:
                # Select `part` in the message the way a mouse drag does, then mark it.
                text.evaluate("""(node, part) => {
                    const full = node.textContent;
                    const range = document.createRange();
                    let at = 0;
                    for (const child of node.childNodes) {
                      const t = child.textContent;
                      const i = full.indexOf(part) - at;
                      if (i >= 0 && i < t.length) {
                        const textNode = child.nodeType === 3 ? child : child.firstChild;
                        range.setStart(textNode, i);
                        range.setEnd(textNode, i + part.length);
                        break;
                      }
                      at += t.length;
                    }
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                }""", part)
                page.wait_for_function(
                    "([id, part]) => document.querySelector(`tr[data-id='${id}'] "
                    "[data-testid=selection-hint]`).textContent.includes(part)", arg=[cid, part])
                row.locator('[data-testid="entity-select"]').select_option(entity)
                row.locator('[data-testid="mark-entity"]').click()

            mark("EA123456785CN", "tracking_number")
            mark("蒙自", "location")
            mark("138****5678", "phone_number")  # after the emoji: offsets in characters
            assert row.locator('[data-testid="entity-chip"]').count() == 3
            assert row.locator("mark").count() == 3
            row.locator('[data-testid="save-annotation"]').click()
            page.wait_for_function(  # a function, not a string: the CSP forbids eval
                "(id) => document.querySelector(`tr[data-id='${id}']`).dataset.status "
                "=== 'annotated'", arg=cid)
            view = inbox.get_candidate(uows, cid)
            assert [(TEXT[s.start:s.end], s.entity) for s in view.entities] == [
                ("EA123456785CN", "tracking_number"), ("蒙自", "location"),
                ("13812345678", "phone_number")]

            page.click('[data-testid="export-button"]')
            page.wait_for_selector('[data-testid="export-summary"] p')
            assert "写入 1 条" in page.inner_text('[data-testid="export-summary"]')
            content = (data_dirs.data / "reviewed_tracking.yml").read_text("utf-8")
            assert "到[蒙自](location)没有 😀 电话[" in content
        finally:
            browser.close()
