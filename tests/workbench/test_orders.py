"""The work-order pages over real HTTP: list, filters, detail and every action.

Each test gets a fresh in-memory SQLite store with one account per role and the demo work
orders seeded at `NOW` (a Tuesday morning); the app's clock for the work-order pages is pinned
to the same moment, so which orders are overdue is known: the State Post Bureau transfer (6
clock hours, opened 7 hours ago) and the 12345 order (24 hours, opened 30 hours ago).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.store import workorders as wo
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail, seed_demo_work_orders
from bot.store.status import Category, Channel, WorkOrderStatus
from bot.store.uow import UowFactory, uow_factory
from bot.workbench import keys, orders
from bot.workbench.app import create_app
from bot.workbench.auth import SessionStore
from bot.workorders.followup import draft_for_order, mail_facts
from bot.workorders.policy import DeadlinePolicy, load_policy
from tests.workbench.support import CSRF_INPUT, Browser, FakeClock, add_accounts

NOW = datetime(2025, 6, 10, 10, 0)
EVIL = "<script>alert(1)</script>"
ROW = re.compile(r'<tr data-testid="order-row" data-number="([^"]+)"([^>]*)>')
PHONE_CELL = re.compile(r'data-testid="order-phone">([^<]*)<')
MASKED_MOBILE = re.compile(r"^1\d{2}\*{4}\d{4}$")
SEEDED_PHONES = {"13708712345", "15087341122", "13987013344", "13887315566", "18725067788",
                 "13759021234", "13987650001"}


@dataclass
class Store:
    uows: UowFactory
    engine: Engine
    rules: DeadlinePolicy


class OrderClock:
    """The work-order pages' "now" (naive Beijing time), moved by the tests."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store() -> Iterator[Store]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    add_accounts(uows)
    rules = load_policy()
    seed_demo_mail(uows, NOW)
    assert seed_demo_work_orders(uows, rules, NOW) == 8
    yield Store(uows, engine, rules)
    engine.dispose()


@pytest.fixture
def clock() -> OrderClock:
    return OrderClock()


@pytest_asyncio.fixture
async def browser(store: Store, clock: OrderClock) -> AsyncIterator[Browser]:
    session_clock = FakeClock()
    sessions = SessionStore(clock=session_clock)
    app = create_app(Settings(), store.uows, sessions=sessions)
    app[keys.CLOCK] = clock  # the policy itself is loaded from the settings on startup
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, session_clock, sessions)


def _number(store: Store, channel: Channel, category: Category | None = None) -> str:
    [number] = [v.number for v in wo.list_work_orders(store.uows, store.rules, NOW)
                if v.channel is channel and (category is None or v.category is category)]
    return number


def _rows(page: str) -> list[tuple[str, bool]]:
    return [(number, 'data-overdue="1"' in rest) for number, rest in ROW.findall(page)]


async def _page(browser: Browser, path: str, status: int = 200) -> str:
    response = await browser.client.get(path, allow_redirects=False)
    assert response.status == status, path
    return await response.text()


async def _post(browser: Browser, number: str, action: str, **fields: str):  # type: ignore[no-untyped-def]
    """POST an action form the way the page does: with the CSRF token of the detail page."""
    page = await _page(browser, f"/orders/{number}")
    match = CSRF_INPUT.search(page)
    assert match
    return await browser.client.post(f"/orders/{number}/{action}",
                                     data={"csrf_token": match.group(1), **fields},
                                     allow_redirects=False)


def _history(store: Store, number: str) -> list[tuple[str, str, str]]:
    view = wo.get_work_order(store.uows, store.rules, number, NOW)
    return [(line.actor, line.action, line.detail) for line in view.history]


# --- the list ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_list_shows_every_seeded_order_with_phones_masked_for_the_supervisor(
    browser: Browser, store: Store,
) -> None:
    await browser.login("super1")
    page = await _page(browser, "/orders")
    numbers = {n for n, _ in _rows(page)}
    assert numbers == {v.number for v in wo.list_work_orders(store.uows, store.rules, NOW)}
    assert len(numbers) == 8
    assert re.search(r'data-testid="order-count">\s*共 <strong>8</strong> 条工单', page)
    phones = [p for p in PHONE_CELL.findall(page) if p]
    assert len(phones) == 7 and all(MASKED_MOBILE.match(p) for p in phones)
    assert "137****2345" in phones
    for raw in SEEDED_PHONES:
        assert raw not in page


@pytest.mark.asyncio
async def test_the_agent_sees_the_raw_phone_numbers(browser: Browser) -> None:
    await browser.login("agent1")
    page = await _page(browser, "/orders")
    assert {p for p in PHONE_CELL.findall(page) if p} == SEEDED_PHONES
    assert "****" not in page


@pytest.mark.asyncio
async def test_overdue_orders_come_first_then_the_nearest_deadline(
    browser: Browser, store: Store,
) -> None:
    await browser.login("agent1")
    rows = _rows(await _page(browser, "/orders"))
    assert [overdue for _, overdue in rows] == [True, True] + [False] * 6
    assert {n for n, _ in rows[:2]} == {_number(store, Channel.SPB_TRANSFER),
                                        _number(store, Channel.GOV_12345)}
    views = {v.number: v for v in wo.list_work_orders(store.uows, store.rules, NOW)}
    deadlines = [views[n].deadline for n, _ in rows]
    assert deadlines[:2] == sorted(deadlines[:2])
    # After the overdue ones: open orders by deadline (every seeded order is still open).
    assert deadlines[2:] == sorted(deadlines[2:])
    assert [n for n, _ in rows] == list(views)  # the store's own ordering


@pytest.mark.asyncio
async def test_countdown_cells_carry_the_deadline_for_the_script_while_the_clock_runs(
    browser: Browser, store: Store,
) -> None:
    await browser.login("agent1")
    page = await _page(browser, "/orders")
    assert 'data-server-time="2025-06-10T10:00:00+08:00"' in page
    spb = wo.get_work_order(store.uows, store.rules, _number(store, Channel.SPB_TRANSFER), NOW)
    assert spb.deadline == NOW - timedelta(hours=1)
    assert ('data-testid="countdown" data-deadline="2025-06-10T09:00:00+08:00" '
            'class="overdue">超时 1小时00分<') in page
    pdd = wo.get_work_order(store.uows, store.rules, _number(store, Channel.PINDUODUO), NOW)
    assert f'data-deadline="{pdd.deadline.isoformat()}+08:00">22小时00分<' in page
    # The WeChat order was answered: its clock stopped, nothing counts down.
    assert 'data-testid="countdown">已反馈（按时）<' in page
    assert page.count('data-testid="countdown"') == 8
    assert page.count("data-deadline=") == 7
    script = await browser.client.get("/static/orders.js")
    assert script.status == 200
    assert "PD.countdowns(" in await script.text()
    common = await browser.client.get("/static/common.js")
    assert common.status == 200
    body = (await common.text()).split("function countdowns(", 1)[1].split("\n  }\n", 1)[0]
    assert "data-deadline" in body and "remaining(seconds)" in body
    assert "textContent" in body and "innerHTML" not in body


@pytest.mark.asyncio
@pytest.mark.parametrize("query, expected", [
    ("channel=pinduoduo", [(Channel.PINDUODUO, None)]),
    ("status=answered", [(Channel.WECHAT, Category.IMPROPER_FEE)]),
    ("overdue=1", [(Channel.SPB_TRANSFER, None), (Channel.GOV_12345, None)]),
    ("county=%E8%92%99%E8%87%AA%E5%B8%82", [(Channel.SPB_TRANSFER, None)]),  # 蒙自市
    ("category=delay&channel=cainiao", [(Channel.CAINIAO, None)]),
    ("channel=wechat&status=new", [(Channel.WECHAT, Category.PICKUP_SERVICE)]),
    ("channel=pinduoduo&overdue=1", []),
])
async def test_the_filters_narrow_the_list(
    browser: Browser, store: Store, query: str, expected: list,
) -> None:
    await browser.login("agent1")
    page = await _page(browser, f"/orders?{query}")
    assert {n for n, _ in _rows(page)} == {_number(store, c, k) for c, k in expected}
    assert f"共 <strong>{len(expected)}</strong> 条工单（已筛选）" in page
    if not expected:
        assert "没有符合条件的工单" in page


@pytest.mark.asyncio
async def test_the_filter_form_offers_the_enums_and_the_counties_and_keeps_the_choice(
    browser: Browser,
) -> None:
    await browser.login("agent1")
    page = await _page(browser, "/orders?channel=spb_transfer&overdue=1&county=%E8%92%99%E8%87%AA%E5%B8%82")
    for channel in Channel:
        assert f'<option value="{channel.value}"' in page and channel.label in page
    for status in WorkOrderStatus:
        assert f'<option value="{status.value}"' in page
    assert '<option value="spb_transfer" selected>国家邮政局转办</option>' in page
    assert '<option value="蒙自市" selected>蒙自市</option>' in page
    assert '<option value="麒麟区">麒麟区</option>' in page
    assert 'name="overdue" value="1" data-testid="filter-overdue" checked' in page


@pytest.mark.asyncio
async def test_an_unknown_filter_value_filters_nothing(browser: Browser) -> None:
    await browser.login("agent1")
    page = await _page(browser, "/orders?channel=nope&status=%3Cb%3E")
    assert len(_rows(page)) == 8


@pytest.mark.asyncio
async def test_the_list_is_read_with_one_query_however_many_orders(
    browser: Browser, store: Store,
) -> None:
    await browser.login("agent1")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        page = await _page(browser, "/orders")
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(_rows(page)) == 8
    # The page, its count and the county list: filtered and sorted in SQL, no query per order
    # (no history loaded).
    assert len([s for s in statements if "work_order" in s]) == 3
    assert not [s for s in statements if "work_order_event" in s]


@pytest.mark.asyncio
async def test_the_list_shows_at_most_the_limit_and_says_how_many_there_are(
    browser: Browser, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(orders, "LIST_LIMIT", 3)
    await browser.login("agent1")
    page = await _page(browser, "/orders")
    assert len(_rows(page)) == 3
    assert "共 <strong>8</strong> 条工单" in page and "仅显示前 3 条" in page


@pytest.mark.asyncio
async def test_the_json_list_takes_the_same_filters_and_masks_for_the_supervisor(
    browser: Browser, store: Store,
) -> None:
    await browser.login("super1")
    data = await (await browser.client.get("/api/orders?overdue=1")).json()
    assert data["total"] == 2 and data["server_time"] == "2025-06-10T10:00:00+08:00"
    assert [o["number"] for o in data["orders"]] == [
        n for n, _ in _rows(await _page(browser, "/orders?overdue=1"))]
    spb = next(o for o in data["orders"] if o["channel"] == "spb_transfer")
    assert spb == {**spb, "customer_phone": "138****5566", "overdue": True,
                   "deadline": "2025-06-10T09:00:00+08:00", "status": "new",
                   "status_label": "待处理", "county": "蒙自市", "priority": "high"}
    await browser.login("agent1")
    data = await (await browser.client.get("/api/orders?channel=spb_transfer")).json()
    assert [o["customer_phone"] for o in data["orders"]] == ["13887315566"]


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_trainers_are_refused_and_anonymous_users_sent_to_login(
    browser: Browser, store: Store,
) -> None:
    number = _number(store, Channel.PINDUODUO)
    response = await browser.client.get("/orders", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login?next=%2Forders")
    assert (await browser.client.get("/api/orders")).status == 401

    await browser.login("trainer1")
    for path in ["/orders", f"/orders/{number}"]:
        page = await _page(browser, path, status=403)
        assert "无权访问" in page and number not in page
    response = await browser.client.get("/api/orders")
    assert response.status == 403 and (await response.json())["error"] == "forbidden"
    token = (await (await browser.client.get("/api/me")).json())["csrf_token"]
    response = await browser.client.post(f"/orders/{number}/feedback",
                                         data={"csrf_token": token, "text": "已处理"},
                                         allow_redirects=False)
    assert response.status == 403
    assert [a for _, a, _ in _history(store, number)] == ["created"]


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["super1", "admin1"])
async def test_supervisors_and_admins_open_the_pages_with_personal_data_masked(
    browser: Browser, store: Store, username: str,
) -> None:
    number = _number(store, Channel.DIRECT_11183)
    await browser.login(username)
    assert len(_rows(await _page(browser, "/orders"))) == 8
    page = await _page(browser, f"/orders/{number}")
    assert '<dd data-testid="order-phone">137****2345</dd>' in page
    assert "13708712345" not in page
    assert "杨*" in page and "杨丽" not in page


# --- the detail page -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_detail_page_shows_fields_history_trail_suggestion_and_drafts(
    browser: Browser, store: Store,
) -> None:
    number = _number(store, Channel.GOV_12345)
    followup = draft_for_order(store.uows, store.rules, number, NOW)
    mail = mail_facts(store.uows, "1151238971060")
    assert mail is not None
    await browser.login("agent1")
    page = await _page(browser, f"/orders/{number}")
    # Nobody holds the order yet: the agent is offered only to take it.
    assert 'data-testid="order-holder">未接手<' in page
    assert "点“开始处理”接手后即由您负责" in page
    assert 'data-testid="action-start"' in page
    for action in ["feedback", "callback", "close", "reopen", "responsibility"]:
        assert f'data-testid="action-{action}"' not in page
    assert (await _post(browser, number, "start")).status == 303
    page = await _page(browser, f"/orders/{number}")
    assert f'<span data-testid="order-number">{number}</span>' in page
    assert 'data-testid="order-holder">agent1<' in page
    assert "12345政务平台" in page and "投递服务" in page and "15087341122" in page
    assert '<dd data-testid="countdown" data-deadline="2025-06-10T04:00:00+08:00" class="overdue">' \
           '超时 6小时00分</dd>' in page
    # History: who did what, when.
    assert re.search(r'<tr data-testid="history-row">\s*<td>2025-06-09 04:00</td>'
                     r'<td>import:12345</td><td>创建工单</td>', page)
    # The tracking trail, newest scan first.
    assert page.count('data-testid="trail-row"') == len(mail.trail)
    assert page.index("已妥投，签收人：门卫代收") < page.index("已收寄，揽投员")
    # The suggestion and the drafts, prefilled in the forms.
    assert followup.suggestion.unit == "宣威市邮政分公司虹桥营业部"
    assert f'name="unit" value="{followup.suggestion.unit}"' in page
    assert f'data-testid="draft-feedback">{escape(followup.drafts.feedback)}</textarea>' in page
    assert f'data-testid="draft-callback">{escape(followup.drafts.callback_script)}</pre>' in page
    assert f'{escape(followup.drafts.responsibility_note)}</textarea>' in page
    # The holder of an order in progress may answer it and decide the responsibility; not
    # close it before the feedback, call back or reopen it.
    for action in ["feedback", "responsibility"]:
        assert f'data-testid="action-{action}"' in page
    for action in ["start", "callback", "close", "reopen"]:
        assert f'data-testid="action-{action}"' not in page
    assert "提交反馈后才能结案" in page
    # A supervisor may also close it without feedback, with a reason.
    await browser.login("super1")
    page = await _page(browser, f"/orders/{number}")
    for action in ["feedback", "responsibility", "close"]:
        assert f'data-testid="action-{action}"' in page
    assert 'data-testid="close-reason"' in page


@pytest.mark.asyncio
async def test_an_unknown_number_is_a_404_page_also_for_actions(browser: Browser) -> None:
    await browser.login("agent1")
    page = await _page(browser, "/orders/GD2099010100001", status=404)
    assert "工单不存在" in page and "GD2099010100001" in page
    token = (await (await browser.client.get("/api/me")).json())["csrf_token"]
    response = await browser.client.post("/orders/GD2099010100001/close",
                                         data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 404 and "工单不存在" in await response.text()


# --- actions -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_feedback_callback_and_close_are_each_recorded_in_the_history(
    browser: Browser, store: Store, clock: OrderClock,
) -> None:
    number = _number(store, Channel.PINDUODUO)
    await browser.login("agent1")

    clock.now = NOW + timedelta(minutes=5)
    response = await _post(browser, number, "start")
    assert (response.status, response.headers["Location"]) == (303, f"/orders/{number}?done=start")

    clock.now = NOW + timedelta(hours=1)
    text = "已核实包装破损，按保价规则赔付，请您查收。"
    response = await _post(browser, number, "feedback", text=text)
    assert (response.status, response.headers["Location"]) == (
        303, f"/orders/{number}?done=feedback")
    page = await _page(browser, response.headers["Location"])
    assert '<p id="flash" class="flash" role="status" data-testid="flash">反馈已记录' in page
    assert '<dd data-testid="countdown">已反馈（按时）</dd>' in page

    clock.now = NOW + timedelta(hours=3)
    response = await _post(browser, number, "callback", result="satisfied", note="客户表示认可")
    assert response.status == 303
    response = await _post(browser, number, "responsibility", unit="昆明邮区中心局", note="分拣破损")
    assert response.status == 303
    clock.now = NOW + timedelta(hours=4)
    response = await _post(browser, number, "close", note="")
    assert response.headers["Location"] == f"/orders/{number}?done=close"

    view = wo.get_work_order(store.uows, store.rules, number, clock.now)
    assert view.status is WorkOrderStatus.CLOSED
    assert view.answered_at == NOW + timedelta(hours=1)
    assert view.closed_at == NOW + timedelta(hours=4)
    assert view.callback_satisfied is True
    assert view.responsible_unit == "昆明邮区中心局"
    assert _history(store, number)[1:] == [
        ("agent1", "in_progress", ""),
        ("agent1", "feedback", text),
        ("agent1", "callback", "满意：客户表示认可"),
        ("agent1", "responsibility", "昆明邮区中心局：分拣破损"),
        ("agent1", "closed", ""),
    ]
    page = await _page(browser, f"/orders/{number}?done=close")
    assert "工单已结案" in page and '<span class="tag" data-testid="order-status">已结案</span>' in page
    assert re.search(r"<td>2025-06-10 11:00</td><td>agent1</td><td>反馈客户</td>\s*"
                     rf'<td class="description">{text}</td>', page)
    assert "<td>agent1</td><td>回访</td>" in page and "<td>agent1</td><td>结案</td>" in page
    # A closed order can only be reopened, and only by a supervisor.
    assert 'data-testid="action-reopen"' not in page and 'data-testid="action-feedback"' not in page
    await browser.login("super1")
    page = await _page(browser, f"/orders/{number}")
    assert 'data-testid="action-reopen"' in page and 'data-testid="action-feedback"' not in page


@pytest.mark.asyncio
async def test_reopening_needs_a_reason_and_restarts_the_clock(
    browser: Browser, store: Store, clock: OrderClock,
) -> None:
    number = _number(store, Channel.WECHAT, Category.IMPROPER_FEE)  # answered in the seed
    await browser.login("super1")  # only supervisors reopen (tests/workbench/test_reach.py)
    response = await _post(browser, number, "reopen", reason="  ")
    assert response.status == 409
    assert "重新打开工单需要说明原因" in await response.text()
    assert wo.get_work_order(store.uows, store.rules, number, NOW).status is WorkOrderStatus.ANSWERED

    clock.now = NOW + timedelta(hours=2)
    response = await _post(browser, number, "reopen", reason="客户称退款未到账")
    assert response.status == 303
    view = wo.get_work_order(store.uows, store.rules, number, clock.now)
    assert view.status is WorkOrderStatus.REOPENED and view.answered_at is None
    assert view.deadline == clock.now + timedelta(hours=24)
    assert _history(store, number)[-1] == ("super1", "reopened", "客户称退款未到账")


@pytest.mark.asyncio
async def test_an_invalid_transition_is_refused_with_the_rules_message_and_writes_nothing(
    browser: Browser, store: Store,
) -> None:
    number = _number(store, Channel.CAINIAO)  # new
    before = _history(store, number)
    await browser.login("super1")  # may act on any order: only the state refuses
    response = await _post(browser, number, "callback", result="unsatisfied", note="没人接")
    assert response.status == 409
    page = await response.text()
    assert (f'data-testid="order-error">工单 {number} 当前为“待处理”，不能改为“已回访”</p>'
            in page)
    response = await _post(browser, number, "reopen", reason="客户又来电")
    assert response.status == 409 and "不能改为“重新打开”" in await response.text()
    view = wo.get_work_order(store.uows, store.rules, number, NOW)
    assert view.status is WorkOrderStatus.NEW and view.callback_satisfied is None
    assert _history(store, number) == before


@pytest.mark.asyncio
async def test_a_refused_feedback_keeps_what_the_agent_typed(
    browser: Browser, store: Store,
) -> None:
    number = _number(store, Channel.STATE_GRID)
    await browser.login("agent1")
    assert (await _post(browser, number, "start")).status == 303  # the agent's order now
    response = await _post(browser, number, "feedback", text="   ")
    assert response.status == 409
    assert "反馈内容不能为空" in await response.text()
    response = await _post(browser, number, "callback", result="maybe")
    assert response.status == 400 and "请选择回访结果" in await response.text()
    response = await _post(browser, number, "responsibility", unit=" ", note="先记一笔 <b>")
    assert response.status == 409
    page = await response.text()
    assert "责任单位不能为空" in page
    assert "先记一笔 &lt;b&gt;</textarea>" in page
    assert [a for _, a, _ in _history(store, number)] == ["created", "in_progress"]


@pytest.mark.asyncio
async def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(
    browser: Browser, store: Store,
) -> None:
    number = _number(store, Channel.PINDUODUO)
    await browser.login("agent1")
    response = await browser.client.post(f"/orders/{number}/feedback",
                                         data={"text": "已处理"}, allow_redirects=False)
    assert response.status == 403 and "CSRF" in await response.text()
    response = await browser.client.post(f"/orders/{number}/close",
                                         data={"csrf_token": "forged"}, allow_redirects=False)
    assert response.status == 403
    view = wo.get_work_order(store.uows, store.rules, number, NOW)
    assert view.status is WorkOrderStatus.NEW
    assert [a for _, a, _ in _history(store, number)] == ["created"]


# --- escaping ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_markup_a_customer_wrote_is_shown_as_text_in_the_list_and_the_detail(
    browser: Browser, store: Store,
) -> None:
    opened = wo.open_work_order(store.uows, store.rules, wo.NewWorkOrder(
        Channel.WECHAT, Category.OTHER, f"快递呢？{EVIL}", customer_phone="13800001111",
    ), NOW)
    number = opened.order.number
    await browser.login("agent1")
    assert (await _post(browser, number, "start")).status == 303
    response = await _post(browser, number, "feedback", text=f"已回复 {EVIL}")
    assert response.status == 303
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ["/orders", f"/orders/{number}"]:
        page = await _page(browser, path)
        assert "<script>alert(1)" not in page, path
        assert escaped in page, path
    page = await _page(browser, f"/orders/{number}")
    assert f'data-testid="order-description">快递呢？{escaped}</p>' in page
    assert f'<td class="description">已回复 {escaped}</td>' in page
