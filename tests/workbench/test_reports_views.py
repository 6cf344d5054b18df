"""The supervisors' pages over real HTTP: roles, masking, the copy and send buttons, the
monthly tables, the charts and the workbook download.

A fresh in-memory store with one account per role and the demo data seeded at `NOW`; the
pages' clock is pinned to the same moment. The WeCom group robot is a fake aiohttp server
speaking the real protocol.
"""
from __future__ import annotations

import html
import io
import re
from datetime import datetime
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from bot.config import Settings
from bot.reports.daily import daily_text
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail, seed_demo_work_orders
from bot.store.uow import UowFactory, uow_factory
from bot.workbench import keys
from bot.workbench.app import create_app
from bot.workbench.auth import SessionStore
from bot.workorders.policy import load_policy
from tests.workbench.support import CSRF_INPUT, Browser, FakeClock, add_accounts

NOW = datetime(2025, 6, 10, 10, 0)
TEXTAREA = re.compile(r'<textarea[^>]*data-testid="daily-text"[^>]*>(.*?)</textarea>', re.S)
SEEDED_PHONES = ("13708712345", "15087341122", "13987013344", "13887315566", "18725067788",
                 "13759021234", "13987650001")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def store() -> Iterator[UowFactory]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    add_accounts(uows)
    seed_demo_mail(uows, NOW)
    seed_demo_work_orders(uows, load_policy(), NOW)
    yield uows
    engine.dispose()


class Robot:
    """A fake WeCom group robot: answers the next errcode of `answers` (then 0)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        code = self.answers.pop(0) if self.answers else 0
        return web.json_response({"errcode": code, "errmsg": "ok" if not code else "invalid"})


@pytest_asyncio.fixture
async def robot() -> AsyncIterator[tuple[Robot, str]]:
    fake = Robot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", fake.handle)
    server = TestServer(app)
    await server.start_server()
    yield fake, str(server.make_url("/cgi-bin/webhook/send?key=robot-secret-key-7788"))
    await server.close()


async def _browser(store: UowFactory, webhook: str = "") -> AsyncIterator[Browser]:
    clock = FakeClock()
    sessions = SessionStore(clock=clock)
    app = create_app(Settings(), store, sessions=sessions)
    app[keys.CLOCK] = lambda: NOW
    app[keys.WEBHOOK] = webhook
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, clock, sessions)


@pytest_asyncio.fixture
async def browser(store: UowFactory) -> AsyncIterator[Browser]:
    async for b in _browser(store):
        yield b


@pytest_asyncio.fixture
async def robot_browser(store: UowFactory, robot) -> AsyncIterator[Browser]:  # type: ignore[no-untyped-def]
    async for b in _browser(store, robot[1]):
        yield b


async def _get(browser: Browser, path: str, status: int = 200) -> str:
    response = await browser.client.get(path, allow_redirects=False)
    assert response.status == status, path
    return await response.text()


def _daily(page: str) -> str:
    match = TEXTAREA.search(page)
    assert match, "no daily text on the page"
    return html.unescape(match.group(1))


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["agent1", "trainer1"])
async def test_other_roles_are_refused_everywhere(browser: Browser, username: str) -> None:
    await browser.login(username)
    for path in ("/supervisor", "/supervisor/charts/channels.png", "/supervisor/monthly.xlsx"):
        response = await browser.client.get(path, allow_redirects=False)
        assert response.status == 403, path
    token = await browser.csrf_token("/")
    response = await browser.client.post("/supervisor/send", data={"csrf_token": token},
                                         allow_redirects=False)
    assert response.status == 403


@pytest.mark.asyncio
async def test_anonymous_users_are_sent_to_login(browser: Browser) -> None:
    response = await browser.client.get("/supervisor/monthly.xlsx?month=2025-06",
                                        allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["super1", "admin1"])
async def test_supervisor_and_admin_see_the_page(browser: Browser, username: str) -> None:
    await browser.login(username)
    page = await _get(browser, "/supervisor")
    assert "占位页面" not in page
    assert 'data-testid="daily-section"' in page and 'data-testid="monthly-section"' in page


# --- the daily report ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_daily_text_is_shown_masked_with_a_copy_button(browser: Browser,
                                                                 store: UowFactory) -> None:
    await browser.login("super1")
    page = await _get(browser, "/supervisor")
    assert _daily(page) == daily_text(store, NOW.date(), NOW)
    assert "LS2025061000001（139****0001，景洪市****）已催 3 次，仍未揽收" in _daily(page)
    for raw in SEEDED_PHONES:
        assert raw not in page
    assert 'id="copy-daily" data-copy-target="daily-text"' in page
    assert '<script src="/static/reports.js"></script>' in page
    assert "<script>" not in page  # the CSP allows no inline script
    assert 'type="date"' in page and 'value="2025-06-10"' in page


@pytest.mark.asyncio
async def test_the_copy_script_uses_the_clipboard_with_a_fallback(browser: Browser) -> None:
    response = await browser.client.get("/static/reports.js")
    assert response.status == 200 and response.content_type == "text/javascript"
    script = await response.text()
    assert "navigator.clipboard.writeText" in script and 'execCommand("copy")' in script


@pytest.mark.asyncio
async def test_the_date_picker_shows_another_day(browser: Browser) -> None:
    await browser.login("super1")
    page = await _get(browser, "/supervisor?date=2025-06-09")
    assert _daily(page).startswith("【云南邮政客服日报】2025年6月9日\n统计截至 2025-06-09 23:59")


@pytest.mark.asyncio
@pytest.mark.parametrize("value, message", [("9.6.2025", "日期格式不对"), ("2025-06-11", "还没有到")])
async def test_an_unusable_date_shows_today_and_says_why(browser: Browser, value: str,
                                                         message: str) -> None:
    await browser.login("super1")
    page = await _get(browser, f"/supervisor?date={value}")
    assert message in page
    assert _daily(page).startswith("【云南邮政客服日报】2025年6月10日")


@pytest.mark.asyncio
async def test_without_a_webhook_there_is_no_send_button(browser: Browser) -> None:
    await browser.login("super1")
    page = await _get(browser, "/supervisor")
    assert 'data-testid="send-daily"' not in page
    assert 'data-testid="no-webhook"' in page
    token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
    response = await browser.client.post("/supervisor/send", data={"csrf_token": token})
    assert response.status == 409 and "没有配置企业微信群机器人" in await response.text()


@pytest.mark.asyncio
async def test_send_posts_the_shown_text_to_the_group_robot(robot_browser: Browser,
                                                            robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    await robot_browser.login("super1")
    page = await _get(robot_browser, "/supervisor?date=2025-06-09")
    assert 'data-testid="send-daily"' in page
    assert "robot-secret-key" not in page and "key=****7788" in page
    shown = _daily(page)
    form = page[page.index('data-testid="send-form"'):]
    token = CSRF_INPUT.search(form).group(1)  # type: ignore[union-attr]
    assert 'name="date" value="2025-06-09"' in form
    response = await robot_browser.client.post(
        "/supervisor/send", data={"csrf_token": token, "date": "2025-06-09", "month": "2025-06"},
        allow_redirects=False)
    assert response.status == 303  # a reload of the page does not send it again
    assert response.headers["Location"] == "/supervisor?date=2025-06-09&month=2025-06&sent=1"
    assert fake.received == [{"msgtype": "text", "text": {"content": shown}}]
    result = await _get(robot_browser, response.headers["Location"])
    assert "2025-06-09 的日报已发送到企业微信群，共 1 条消息。" in result
    assert _daily(result) == shown


@pytest.mark.asyncio
async def test_send_needs_the_csrf_token(robot_browser: Browser, robot) -> None:  # type: ignore[no-untyped-def]
    await robot_browser.login("super1")
    response = await robot_browser.client.post("/supervisor/send", data={"date": "2025-06-10"})
    assert response.status == 403
    assert robot[0].received == []


@pytest.mark.asyncio
async def test_a_refused_send_is_shown(robot_browser: Browser, robot) -> None:  # type: ignore[no-untyped-def]
    robot[0].answers = [93000]
    await robot_browser.login("super1")
    token = await robot_browser.csrf_token("/supervisor")
    response = await robot_browser.client.post("/supervisor/send", data={"csrf_token": token})
    assert response.status == 502
    page = await response.text()
    assert "发送失败（已发出 0/1 条）" in page and "93000" in page


# --- the monthly statistics ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_month_shows_kpis_tables_charts_and_the_workbook_link(browser: Browser) -> None:
    await browser.login("super1")
    page = await _get(browser, "/supervisor")
    assert "月度统计（2025年6月）" in page
    for label in ("受理量", "及时率", "超时件数", "回访率", "满意率", "重复投诉率", "结案率",
                  "3催率", "4催率", "机器人独立解决率", "建议采纳率"):
        assert f'<div class="label">{label}</div>' in page, label
    for key in ("channels", "categories", "counties", "agents", "days"):
        assert f'data-testid="table-{key}"' in page
    assert '<td>国家邮政局转办</td><td class="num">1</td><td class="num">12.5%</td>' in page
    charts = re.findall(r'<img src="(/supervisor/charts/[a-z]+\.png\?month=2025-06)"', page)
    assert len(charts) == 6
    assert 'href="/supervisor/monthly.xlsx?month=2025-06"' in page


@pytest.mark.asyncio
async def test_the_month_picker(browser: Browser) -> None:
    await browser.login("super1")
    assert "月度统计（2025年5月）" in await _get(browser, "/supervisor?month=2025-05")
    page = await _get(browser, "/supervisor?month=2025-07")
    assert "2025年7月还没有开始" in page and "月度统计（2025年6月）" in page


@pytest.mark.asyncio
async def test_charts_are_pngs_drawn_on_demand(browser: Browser) -> None:
    await browser.login("super1")
    for name in ("channels", "counties", "daily"):
        response = await browser.client.get(f"/supervisor/charts/{name}.png?month=2025-06")
        assert response.status == 200 and response.content_type == "image/png"
        body = await response.read()
        assert body.startswith(PNG) and len(body) > 8000
    assert (await browser.client.get("/supervisor/charts/pie.png")).status == 404
    assert (await browser.client.get("/supervisor/charts/channels.png?month=2025-07")).status == 404


@pytest.mark.asyncio
async def test_the_workbook_downloads(browser: Browser) -> None:
    await browser.login("super1")
    response = await browser.client.get("/supervisor/monthly.xlsx?month=2025-06")
    assert response.status == 200
    assert response.content_type == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == 'attachment; filename="postdesk-2025-06.xlsx"'
    workbook = load_workbook(io.BytesIO(await response.read()))
    assert workbook.sheetnames == ["总览", "按渠道", "按类别", "按区县", "坐席建议采纳", "按日"]
    overview = {row[0].value: row[1].value for row in workbook["总览"].iter_rows(min_row=2)}
    assert overview["受理量"] == 8 and overview["3催率"] == 1.0
