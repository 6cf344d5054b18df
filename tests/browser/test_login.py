"""Logging in and out of the workbench, failed-login lockout, and role checks, as a user sees
them in the browser."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from bot.store.accounts import ThrottleKind, unlock_login
from bot.store.db import make_engine, make_session_factory
from bot.store.uow import uow_factory
from tests.browser.conftest import Live
from tests.browser.support import demo_account, login

LOCKED = "登录失败次数过多，已暂时锁定"


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_agent_logs_in_and_the_home_page_greets_them_by_name(page: Page, live: Live) -> None:
    agent = demo_account("agent")
    login(page, live.base_url, agent.username, agent.password)

    assert page.url == live.url("/")
    expect(page.locator("h1")).to_have_text(f"您好，{agent.display_name}")
    expect(page.get_by_test_id("display-name")).to_have_text(agent.display_name)
    expect(page.get_by_test_id("username")).to_have_text("agent")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    # The agent's sections are there; the supervisor's board is not offered.
    expect(page.locator("main h2", has_text="转人工队列")).to_be_visible()
    expect(page.locator("a[href='/supervisor']")).to_have_count(0)


def test_wrong_password_shows_the_error_and_stays_on_the_login_page(page: Page,
                                                                     live: Live) -> None:
    page.goto(live.url("/login"))
    page.fill("#username", "agent")
    page.fill("#password", "not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and path_of(r.url) == "/login") as answer:
        page.click("button[type=submit]")

    assert answer.value.status == 401
    assert path_of(page.url) == "/login"
    # (A wait is added when this address failed before: "用户名或密码错误。请 1 秒后再试。")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    expect(page.locator("#username")).to_have_value("agent")
    expect(page.locator("#password")).to_have_value("")
    expect(page.get_by_test_id("display-name")).to_have_count(0)
    # Still not logged in: the home page sends the browser back to the form.
    page.goto(live.url("/"))
    assert path_of(page.url) == "/login"


def test_agent_opening_the_supervisor_page_gets_403(agent_page: Page, live: Live) -> None:
    response = agent_page.goto(live.url("/supervisor"))

    assert response is not None and response.status == 403
    assert path_of(agent_page.url) == "/supervisor"
    expect(agent_page.locator("h1")).to_have_text("403 · 无权访问")
    expect(agent_page.locator("main .error")).to_have_text("您的角色（坐席）无权访问此页面。")
    # Still logged in, and offered the way home.
    expect(agent_page.get_by_test_id("display-name")).to_have_text("演示坐席")
    expect(agent_page.locator("main a[href='/']")).to_have_text("返回首页")


def test_supervisor_may_open_the_supervisor_page(page: Page, live: Live) -> None:
    supervisor = demo_account("supervisor")
    login(page, live.base_url, supervisor.username, supervisor.password)
    response = page.goto(live.url("/supervisor"))

    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("主管看板")
    expect(page.get_by_test_id("display-name")).to_have_text(supervisor.display_name)


def test_logout_returns_to_login_and_protected_pages_then_ask_to_log_in(agent_page: Page,
                                                                       live: Live) -> None:
    with agent_page.expect_navigation():
        agent_page.get_by_role("button", name="退出登录").click()

    assert path_of(agent_page.url) == "/login"
    expect(agent_page.locator("form[action='/login']")).to_be_visible()
    expect(agent_page.get_by_test_id("display-name")).to_have_count(0)

    agent_page.goto(live.url("/supervisor"))
    parts = urlsplit(agent_page.url)
    assert parts.path == "/login"
    assert parse_qs(parts.query) == {"next": ["/supervisor"]}
    agent_page.goto(live.url("/"))
    assert path_of(agent_page.url) == "/login"


def test_login_from_a_protected_page_leads_back_to_it(page: Page, live: Live) -> None:
    supervisor = demo_account("supervisor")
    page.goto(live.url("/supervisor"))
    assert path_of(page.url) == "/login"

    page.fill("#username", supervisor.username)
    page.fill("#password", supervisor.password)
    with page.expect_navigation():
        page.click("button[type=submit]")

    assert page.url == live.url("/supervisor")
    expect(page.locator("h1")).to_have_text("主管看板")
    expect(page.get_by_test_id("display-name")).to_have_text(supervisor.display_name)


def test_repeated_wrong_passwords_lock_the_login_and_say_so(page: Page, live: Live) -> None:
    trainer = demo_account("trainer")
    engine = make_engine(live.database_url)
    try:
        messages = []
        for _ in range(8):  # 5 failures lock; the earlier tests may have spent some
            login(page, live.base_url, trainer.username, "not-the-password")
            message = page.get_by_role("alert").inner_text()
            messages.append(message)
            if LOCKED in message:
                break
            wait = re.search(r"请 (\d+) 秒后再试", message)
            if wait:  # the growing delay: try again only when the form says so
                time.sleep(int(wait.group(1)))
        assert messages[0].startswith("用户名或密码错误"), messages
        assert any("秒后再试" in m for m in messages), messages
        expect(page.get_by_role("alert")).to_have_text(
            "登录失败次数过多，已暂时锁定。请 15 分钟后再试，或联系管理员解锁。")

        # Locked: the right password gets the very same answer, and no session.
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and path_of(r.url) == "/login") as answer:
            login(page, live.base_url, trainer.username, trainer.password)
        assert answer.value.status == 429
        assert path_of(page.url) == "/login"
        expect(page.get_by_role("alert")).to_contain_text(LOCKED)
        expect(page.get_by_test_id("display-name")).to_have_count(0)
    finally:
        # Lift the locks (username and this loopback address) for the tests that follow.
        uows = uow_factory(make_session_factory(engine))
        unlock_login(uows, ThrottleKind.ACCOUNT, trainer.username, by="browser test")
        unlock_login(uows, ThrottleKind.ADDRESS, "127.0.0.1", by="browser test")
        engine.dispose()
    login(page, live.base_url, trainer.username, trainer.password)
    assert page.url == live.url("/")
