"""The proactive-service pages in the browser, on the demo data (`python -m bot.proactive seed`
and `scan`, as `make run` does): an agent filters the task list by a reason, opens a task,
records a call and resolves it with a note, and sees both in the history and the task closed; a
trainer gets 403. Against the real workbench (tests/browser/conftest.py)."""
from __future__ import annotations

import re
import subprocess
import sys
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from bot.config import local_now
from bot.proactive.service import task_detail
from bot.store.db import make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from tests.browser.conftest import ROOT, Live, login


def _proactive(live: Live, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.proactive", "--database-url",
                           live.database_url, *args],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def demo(live: Live) -> str:
    """The proactive demo data in the live store, scanned once (no notices sent)."""
    _proactive(live, "seed")
    return _proactive(live, "scan", "--no-send")


@pytest.fixture
def store(live: Live) -> Iterator[UowFactory]:
    """The live store, opened by the test as well."""
    engine = make_engine(live.database_url)
    try:
        yield uow_factory(make_session_factory(engine))
    finally:
        engine.dispose()


def test_an_agent_filters_opens_calls_and_resolves_a_task(agent_page: Page, live: Live,
                                                          demo: str, store: UowFactory) -> None:
    page = agent_page
    page.get_by_test_id("nav-proactive").click()
    expect(page).to_have_url(live.url("/proactive"))
    expect(page.get_by_test_id("task-row").first).to_be_visible()
    assert page.get_by_test_id("task-row").count() > 1

    page.get_by_test_id("filter-reason").select_option("delivery_failed")
    page.get_by_test_id("filter-submit").click()
    expect(page).to_have_url(re.compile(r"/proactive\?reason=delivery_failed"))
    rows = page.get_by_test_id("task-row")
    expect(rows.first).to_be_visible()
    for i in range(rows.count()):
        expect(rows.nth(i)).to_have_attribute("data-reason", "delivery_failed")
        expect(rows.nth(i).get_by_test_id("task-reason")).to_have_text("派件异常")

    rows.first.get_by_test_id("task-link").click()
    expect(page).to_have_url(re.compile(r"/proactive/\d+$"))
    task_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("task-status")).to_have_text("待处理")
    expect(page.get_by_test_id("trail")).to_be_visible()
    expect(page.get_by_test_id("call-script")).to_contain_text("派件异常")
    expect(page.get_by_test_id("vip-phone")).to_have_text(re.compile(r"^1\d{10}$"))  # an agent

    page.get_by_test_id("action-note").fill("客户说明天上午在单位，可以再投")
    page.get_by_test_id("action-called").click()
    expect(page.get_by_test_id("flash")).to_have_text("已记录：已致电客户。")
    called = page.locator("[data-testid=history-line][data-action=called]")
    expect(called).to_contain_text("客户说明天上午在单位")
    expect(called).to_contain_text("已致电客户")
    expect(page.get_by_test_id("task-status")).to_have_text("跟进中")

    page.get_by_test_id("resolve-note").fill("已与勐仑营业部约定明天上午改投，客户同意")
    page.get_by_test_id("action-resolved").click()
    expect(page.get_by_test_id("task-status")).to_have_text("已处理完毕")
    resolved = page.locator("[data-testid=history-line][data-action=resolved]")
    expect(resolved).to_contain_text("约定明天上午改投")
    expect(page.get_by_test_id("task-closed")).to_be_visible()
    expect(page.get_by_test_id("action-called")).to_have_count(0)

    detail = task_detail(store, task_id, local_now())
    assert detail.task.status == "closed" and detail.task.close_reason == "resolved"
    assert [h.action for h in detail.history][-2:] == ["called", "resolved"]

    page.goto(live.url("/proactive?status=closed&reason=delivery_failed"))
    expect(page.locator(f"[data-testid=task-row][data-id='{task_id}']")
           .get_by_test_id("task-status")).to_have_text("已处理完毕")


def test_a_trainer_gets_403_on_the_proactive_pages(page: Page, live: Live, demo: str) -> None:
    login(page, live.base_url, "trainer", "demo-trainer-2026")
    for path in ("/proactive", "/proactive/vips"):
        response = page.goto(live.url(path))
        assert response is not None and response.status == 403, path
        expect(page.locator("body")).not_to_contain_text("主动客服任务")
