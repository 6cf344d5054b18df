"""The proactive-service pages over real HTTP: roles, filters, actions, VIP edits, masking and
escaping.

Each test gets a fresh in-memory SQLite store with one account per role, the demo mail, the
proactive demo data (`bot.proactive.demo`), a VIP customer with a hostile name whose mail failed
delivery, and one scan at `NOW`; the app's clock is `clock["now"]` (NOW unless a test moves it).
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.proactive.config import load_config
from bot.proactive.demo import seed_demo
from bot.proactive.scan import scan
from bot.proactive.service import get_vip, list_tasks, task_detail
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.proactive import (
    NOTE_MAX,
    VipRecord,
    WatchEntry,
    save_vips,
    task_facets,
    vip_ids_by_name,
    watch,
)
from bot.store.seed import seed_demo_mail
from bot.store.uow import UowFactory, uow_factory
from bot.text.tracking import make_s10
from bot.workbench.app import create_app
from bot.workbench.auth import SessionStore
from bot.workorders.policy import load_policy
from tests.proactive.conftest import add_mail
from tests.workbench.support import Browser, FakeClock, add_accounts, csrf

NOW = datetime(2025, 6, 10, 10, 0)  # a Tuesday morning
EVIL = "<script>alert(1)</script>贸易公司"
EVIL_PHONE = "13800009999"
EVIL_MAIL = make_s10("EA", "70000001")
FAILED_AT = "景洪市邮政分公司勐泐营业部"
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"
TEA = "勐海县茶叶合作社"  # a demo customer without consent


@pytest.fixture
def store() -> Iterator[UowFactory]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    add_accounts(uows)
    seed_demo_mail(uows, NOW)
    seed_demo(uows, NOW)
    save_vips(uows, [VipRecord(EVIL, "张伟", EVIL_PHONE, "景洪市邮政分公司", "刀丽",
                               openid="oVIP_evil_000000001", consent=True)], NOW)
    add_mail(uows, EVIL_MAIL, [(30, "POSTED", OUTLET, "已收寄"),
                               (3, "FAILED", FAILED_AT, "投递失败，收件人电话13911112222无人接听")],
             now=NOW)
    watch(uows, [WatchEntry(EVIL_MAIL, "vip", vip_id=vip_ids_by_name(uows)[EVIL])], NOW)
    scan(uows, load_config(), load_policy(), NOW)
    yield uows
    engine.dispose()


@pytest.fixture
def clock() -> dict[str, datetime]:
    return {"now": NOW}


@pytest_asyncio.fixture
async def browser(store: UowFactory, clock: dict[str, datetime]) -> AsyncIterator[Browser]:
    fake = FakeClock()
    sessions = SessionStore(clock=fake)
    app = create_app(Settings(), store, sessions=sessions, clock=lambda: clock["now"])
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, fake, sessions)


def _task_id(uows: UowFactory, mail: str, exception: str) -> int:
    return next(t.id for t in list_tasks(uows, NOW, status=None)
                if t.mail_number == mail and t.exception == exception)


async def _page(browser: Browser, url: str) -> tuple[int, str]:
    response = await browser.client.get(url, allow_redirects=False)
    return response.status, await response.text()


def _rows(page: str) -> list[tuple[int, str]]:
    """(task id, reason) of every row of the list."""
    return [(int(i), r) for i, r in
            re.findall(r'data-testid="task-row" data-id="(\d+)" data-reason="(\w+)"', page)]


async def _act(browser: Browser, task_id: int, action: str, note: str = "",
               token: str | None = None) -> tuple[int, str]:
    data = {"action": action, "note": note,
            "csrf_token": token if token is not None else await csrf(browser.client)}
    response = await browser.client.post(f"/proactive/{task_id}/actions", data=data,
                                         allow_redirects=False)
    return response.status, response.headers.get("Location", "") or await response.text()


async def _save_vip(browser: Browser, vip_id: int, **fields: str) -> tuple[int, str]:
    data = {"csrf_token": await csrf(browser.client), **fields}
    response = await browser.client.post(f"/proactive/vips/{vip_id}", data=data,
                                         allow_redirects=False)
    return response.status, await response.text()


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_trainer_gets_403_and_a_visitor_the_login_page(browser: Browser,
                                                               store: UowFactory) -> None:
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    vip_id = vip_ids_by_name(store)[EVIL]
    pages = ["/proactive", f"/proactive/{task_id}", "/proactive/vips", f"/proactive/vips/{vip_id}"]
    for url in pages:
        status, _ = await _page(browser, url)
        assert status == 302, url  # not logged in: to the login form
    await browser.login("trainer1")
    for url in pages:
        status, body = await _page(browser, url)
        assert status == 403 and EVIL_PHONE not in body and "主动客服任务" not in body, url
    status, _ = await _act(browser, task_id, "called")
    assert status == 403
    status, _ = await _save_vip(browser, vip_id, contact_phone="13700000000")
    assert status == 403
    assert [h.action for h in task_detail(store, task_id, NOW).history] == ["opened"]
    assert get_vip(store, vip_id).contact_phone == EVIL_PHONE
    nav = await (await browser.client.get("/")).text()
    assert 'href="/proactive"' not in nav


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["agent1", "super1", "admin1"])
async def test_agents_supervisors_and_admins_see_the_pages(browser: Browser, store: UowFactory,
                                                           username: str) -> None:
    await browser.login(username)
    status, page = await _page(browser, "/proactive")
    assert status == 200 and 'data-testid="nav-proactive"' in page
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    assert (await _page(browser, f"/proactive/{task_id}"))[0] == 200
    assert (await _page(browser, "/proactive/vips"))[0] == 200


# --- the list --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_list_filters_by_reason_project_unit_overdue_and_status(
        browser: Browser, store: UowFactory, clock: dict[str, datetime]) -> None:
    await browser.login("agent1")
    open_ids = {t.id for t in list_tasks(store, NOW)}
    _, page = await _page(browser, "/proactive")
    assert {i for i, _ in _rows(page)} == open_ids and len(open_ids) >= 5
    row = re.search(rf'data-id="{_task_id(store, EVIL_MAIL, "delivery_failed")}".*?</tr>',
                    page, re.S)
    assert row and "派件异常" in row.group(0) and FAILED_AT in row.group(0)
    assert EVIL_MAIL in row.group(0) and 'data-deadline="' in row.group(0)

    _, page = await _page(browser, "/proactive?reason=delivery_failed")
    rows = _rows(page)
    assert rows and {r for _, r in rows} == {"delivery_failed"}
    assert {i for i, _ in rows} == {t.id for t in list_tasks(store, NOW,
                                                             exception="delivery_failed")}
    assert 'value="delivery_failed" selected' in page

    _, page = await _page(browser, "/proactive?project=身份证")
    ids = {i for i, _ in _rows(page)}
    assert ids and ids == {t.id for t in list_tasks(store, NOW) if t.project == "身份证"}

    units, projects = task_facets(store)
    assert FAILED_AT in units and {"身份证", "法院文书"} <= set(projects)
    assert f'<option value="{FAILED_AT}">' in page  # the unit filter offers every unit
    _, page = await _page(browser, f"/proactive?unit={FAILED_AT}")
    assert {i for i, _ in _rows(page)} == {t.id for t in list_tasks(store, NOW)
                                           if t.responsible_unit == FAILED_AT}

    # Nothing is late at NOW; three days on, every open task nobody touched is.
    _, page = await _page(browser, "/proactive?overdue=1")
    assert _rows(page) == [] and 'data-testid="no-tasks"' in page
    clock["now"] = NOW + timedelta(days=3)
    _, page = await _page(browser, "/proactive?overdue=1")
    assert {i for i, _ in _rows(page)} == open_ids and 'data-overdue="1"' in page

    # An unknown reason filters nothing; a filter too long is refused.
    _, page = await _page(browser, "/proactive?reason=nonsense")
    assert {i for i, _ in _rows(page)} == open_ids
    status, page = await _page(browser, "/proactive?unit=" + "x" * 500)
    assert status == 400 and "过长" in page and _rows(page) == []

    _, page = await _page(browser, "/proactive?status=closed")
    assert _rows(page) == []


# --- the detail page and actions -------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_detail_shows_trail_customer_drafts_and_history(browser: Browser,
                                                                  store: UowFactory) -> None:
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    await browser.login("agent1")
    status, page = await _page(browser, f"/proactive/{task_id}")
    assert status == 200
    assert f"ZD{task_id:06d}" in page and "派件异常" in page and "待处理" in page
    assert FAILED_AT in page and "投递失败" in page  # the trail
    assert "13911112222" not in page  # a phone inside a scan's description is masked
    assert EVIL_PHONE in page and "张伟" in page  # an agent sees the contact to call
    assert 'data-testid="call-script"' in page and "退订" in page  # script and notice
    assert 'data-action="opened"' in page and 'data-testid="action-called"' in page

    status, _ = await _page(browser, "/proactive/999999")
    assert status == 404
    status, _ = await _page(browser, "/proactive/abc")
    assert status == 404


@pytest.mark.asyncio
async def test_actions_go_to_the_history_and_resolved_needs_a_note_and_closes(
        browser: Browser, store: UowFactory) -> None:
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    await browser.login("agent1")

    status, location = await _act(browser, task_id, "called", "客户说明天在单位")
    assert (status, location) == (303, f"/proactive/{task_id}?done=called")
    status, location = await _act(browser, task_id, "unit_contacted")
    assert status == 303
    detail = task_detail(store, task_id, NOW)
    assert [(h.action, h.actor, h.detail) for h in detail.history[1:]] == [
        ("called", "agent1", "客户说明天在单位"), ("unit_contacted", "agent1", "已联系责任单位")]
    assert detail.task.assigned_to == "agent1" and detail.task.handled_at == NOW

    # Refused before the store: no note, a note too long, an unknown action, no CSRF token.
    status, page = await _act(browser, task_id, "resolved", "   ")
    assert status == 400 and "处理结果" in page
    status, page = await _act(browser, task_id, "called", "长" * (NOTE_MAX + 1))
    assert status == 400 and "太长" in page
    status, page = await _act(browser, task_id, "delete")
    assert status == 400
    status, _ = await _act(browser, task_id, "called", token="forged")
    assert status == 403
    assert len(task_detail(store, task_id, NOW).history) == 3

    status, location = await _act(browser, task_id, "resolved", "改约明天上午再投，客户同意")
    assert status == 303
    _, page = await _page(browser, location)
    assert "任务已处理完毕并关闭" in page and "已处理完毕" in page
    assert 'data-testid="task-closed"' in page and 'data-testid="action-called"' not in page
    assert 'data-action="resolved"' in page and "改约明天上午再投" in page
    assert task_detail(store, task_id, NOW).task.status == "closed"

    status, page = await _act(browser, task_id, "note", "再补一句")
    assert status == 409 and "已关闭" in page
    _, page = await _page(browser, "/proactive?status=closed")
    assert [i for i, _ in _rows(page)] == [task_id]
    status, _ = await _act(browser, 999999, "called")
    assert status == 404


@pytest.mark.asyncio
async def test_a_supervisor_sees_the_customer_and_notes_masked(browser: Browser,
                                                               store: UowFactory) -> None:
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    await browser.login("agent1")
    await _act(browser, task_id, "note", f"客户另留电话 {EVIL_PHONE[:3]}22223333")
    await browser.client.post("/logout", data={"csrf_token": await csrf(browser.client)})
    await browser.login("super1")
    _, page = await _page(browser, f"/proactive/{task_id}")
    assert EVIL_PHONE not in page and "138****9999" in page
    assert "张伟" not in page and "22223333" not in page
    _, page = await _page(browser, "/proactive/vips")
    assert EVIL_PHONE not in page and "138****9999" in page


@pytest.mark.asyncio
async def test_a_hostile_vip_name_is_shown_as_text_everywhere(browser: Browser,
                                                              store: UowFactory) -> None:
    task_id = _task_id(store, EVIL_MAIL, "delivery_failed")
    vip_id = vip_ids_by_name(store)[EVIL]
    await browser.login("agent1")
    for url in ["/proactive", f"/proactive/{task_id}", "/proactive/vips",
                f"/proactive/vips/{vip_id}"]:
        _, page = await _page(browser, url)
        assert "<script>alert(1)" not in page, url
        assert html.escape(EVIL, quote=False) in page, url


# --- VIP customers ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_agent_edits_contacts_and_turns_notices_off_but_not_on(
        browser: Browser, store: UowFactory) -> None:
    vips = vip_ids_by_name(store)
    evil, tea = vips[EVIL], vips[TEA]
    await browser.login("agent1")
    _, page = await _page(browser, "/proactive/vips")
    assert page.count('data-testid="vip-row"') == len(vips) and EVIL_PHONE in page

    status, _ = await _save_vip(browser, evil, contact_name="王芳",
                                contact_phone="139 0871 2345", consent="1", opted_out="1")
    assert status == 303
    after = get_vip(store, evil)
    assert (after.contact_name, after.contact_phone, after.opted_out) == (
        "王芳", "13908712345", True)

    status, page = await _save_vip(browser, evil, opted_out="0")
    assert status == 403 and "撤销" in page and get_vip(store, evil).opted_out
    status, page = await _save_vip(browser, tea, consent="1")
    assert status == 403 and not get_vip(store, tea).consent
    status, page = await _save_vip(browser, tea, unit="别的单位")
    assert status == 403 and get_vip(store, tea).unit == "勐海县邮政分公司"
    status, page = await _save_vip(browser, tea, contact_phone="不是电话")
    assert status == 400 and "格式" in page
    status, page = await _save_vip(browser, tea, contact_name="名" * 65)
    assert status == 400 and get_vip(store, tea).contact_name == "岩温"
    assert (await _save_vip(browser, 999999, contact_name="x"))[0] == 404


@pytest.mark.asyncio
async def test_a_supervisor_gives_consent_and_never_saves_a_masked_contact(
        browser: Browser, store: UowFactory) -> None:
    tea = vip_ids_by_name(store)[TEA]
    await browser.login("super1")
    _, page = await _page(browser, f"/proactive/vips/{tea}")
    assert "13988143333" not in page and 'placeholder="139****3333"' in page
    status, page = await _save_vip(browser, tea, contact_name="", contact_phone="",
                                   unit="勐海县邮政分公司勐遮营业部", account_manager="玉罕",
                                   consent="1", opted_out="0")
    assert status == 303
    _, page = await _page(browser, f"/proactive/vips/{tea}?done=saved")
    assert "已保存" in page and "勐遮营业部" in page
    after = get_vip(store, tea)
    assert (after.contact_name, after.contact_phone) == ("岩温", "13988143333")
    assert (after.unit, after.account_manager, after.consent) == (
        "勐海县邮政分公司勐遮营业部", "玉罕", True)
