"""The call desk, manual work orders, mail search and uploads over real HTTP.

Each test gets a fresh in-memory SQLite store with one account per role and the demo mail and
work orders seeded at `NOW`; the app's clock is pinned there. The Rasa server's parse API is
a fake that reads a line the way the trained model reads the issue's example (the browser test
tests/browser/test_calls.py drives the real model).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.store import calls as call_store
from bot.store import workorders as wo
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import CallReply
from bot.store.seed import seed_demo_mail, seed_demo_work_orders
from bot.store.status import Category, Channel
from bot.store.uow import UowFactory, uow_factory
from bot.workbench import calls as desk
from bot.workbench import keys
from bot.workbench.app import create_app
from bot.workbench.auth import SessionStore
from bot.workbench.rasa_client import RasaUnavailable
from bot.workorders.policy import load_policy
from tests.workbench.support import CSRF_INPUT, Browser, FakeClock, FakeRasa, add_accounts

NOW = datetime(2025, 6, 10, 10, 0)
PHONE = "13912345678"
EVIL = "<script>alert(1)</script>"


class ParsingRasa(FakeRasa):
    """`FakeRasa` with the parse API: a damage complaint naming EA000000005CN."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed: list[str] = []

    async def parse(self, text: str) -> dict[str, Any]:
        if self.down:
            raise RasaUnavailable("down")
        self.parsed.append(text)
        entities = [{"entity": "tracking_number", "value": m}
                    for m in re.findall(r"[A-Z]{2}\d{9}[A-Z]{2}", text)]
        intent = "damaged_item" if "破" in text else "track_mail"
        return {"text": text, "intent": {"name": intent, "confidence": 0.91},
                "entities": entities}


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


@pytest.fixture
def rasa() -> ParsingRasa:
    return ParsingRasa()


@pytest_asyncio.fixture
async def browser(store: UowFactory, rasa: ParsingRasa) -> AsyncIterator[Browser]:
    clock = FakeClock()
    sessions = SessionStore(clock=clock)
    app = create_app(Settings(), store, sessions=sessions, clock=lambda: NOW)
    app[keys.RASA] = rasa  # type: ignore[misc]
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, clock, sessions)


async def _csrf(browser: Browser) -> str:
    return (await (await browser.client.get("/api/me")).json())["csrf_token"]


async def _post_json(browser: Browser, url: str, body: Any) -> tuple[int, Any]:
    response = await browser.client.post(url, json=body,
                                         headers={"X-CSRF-Token": await _csrf(browser)})
    return response.status, await response.json()


async def _start(browser: Browser, phone: str = PHONE, line: str = "11183") -> int:
    token = await browser.csrf_token("/calls")
    response = await browser.client.post("/calls", data={"phone": phone, "line": line,
                                                          "csrf_token": token},
                                         allow_redirects=False)
    assert response.status == 303, await response.text()
    return int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.mark.asyncio
async def test_a_call_line_is_read_and_brings_the_trail_orders_and_answers(
        browser: Browser, store: UowFactory, rasa: ParsingRasa) -> None:
    await browser.login("agent1")
    call_id = await _start(browser)
    status, state = await _post_json(browser, f"/api/calls/{call_id}/lines",
                                     {"text": "EA000000005CN 包裹破了"})
    assert status == 201 and rasa.parsed == ["EA000000005CN 包裹破了"]
    [line] = state["lines"]
    assert (line["intent"], line["confidence"]) == ("damaged_item", 0.91)
    assert line["entities"] == [{"entity": "tracking_number", "value": "EA000000005CN"}]
    assert state["mail"]["number"] == "EA000000005CN" and state["mail"]["trail"]
    assert state["call"]["phone"] == PHONE  # an agent sees the caller's number
    kinds = [s["kind"] for s in state["suggestions"]]
    assert 1 <= len(kinds) <= 3 and "status" in kinds and "compensation" in kinds
    compensation = next(s for s in state["suggestions"] if s["kind"] == "compensation")
    assert "邮费的三倍" in compensation["text"] or "保价" in compensation["text"]
    # The line is kept with its reading.
    stored = call_store.get_call(store, call_id)
    assert [(x.text, x.intent) for x in stored.lines] == [("EA000000005CN 包裹破了",
                                                           "damaged_item")]


@pytest.mark.asyncio
async def test_a_mistyped_number_gets_the_check_digit_warning_and_no_trail(
        browser: Browser) -> None:
    await browser.login("agent1")
    call_id = await _start(browser)
    _, state = await _post_json(browser, f"/api/calls/{call_id}/lines",
                                {"text": "EA000000006CN 到哪了"})
    [number] = state["numbers"]
    assert number["check_ok"] is False and "校验位不对" in number["warning"]
    assert state["mail"] is None


@pytest.mark.asyncio
async def test_accept_edit_and_reject_are_recorded_with_the_edit_distance(
        browser: Browser, store: UowFactory) -> None:
    await browser.login("agent1")
    call_id = await _start(browser)
    _, state = await _post_json(browser, f"/api/calls/{call_id}/lines",
                                {"text": "EA000000005CN 包裹破了"})
    first = state["suggestions"][0]
    body = {"request_key": "k1", "suggestion_kind": first["kind"],
            "suggested_text": first["text"], "final_text": first["text"] + "谢谢"}
    status, answer = await _post_json(browser, f"/api/calls/{call_id}/replies", body)
    assert status == 201
    assert (answer["reply"]["decision"], answer["reply"]["edit_distance"]) == ("edited", 2)
    status, again = await _post_json(browser, f"/api/calls/{call_id}/replies", body)
    assert status == 200 and again["created"] is False
    status, _ = await _post_json(browser, f"/api/calls/{call_id}/replies",
                                 {**body, "request_key": "k2", "final_text": None})
    assert status == 201
    with store() as uow:
        rows = uow.session.query(CallReply).order_by(CallReply.id).all()
        assert [(r.decision, r.edit_distance) for r in rows] == [("edited", 2), ("rejected", None)]


@pytest.mark.asyncio
async def test_the_line_is_kept_without_a_reading_when_rasa_is_down(
        browser: Browser, rasa: ParsingRasa) -> None:
    await browser.login("agent1")
    call_id = await _start(browser)
    rasa.down = True
    status, state = await _post_json(browser, f"/api/calls/{call_id}/lines", {"text": "喂"})
    assert status == 201 and state["rasa_error"]
    assert state["lines"][0]["intent"] is None


@pytest.mark.asyncio
async def test_another_agent_cannot_add_to_the_call(browser: Browser, store: UowFactory) -> None:
    other = call_store.start_call(store, PHONE, "11183", "someone_else", NOW)
    await browser.login("agent1")
    status, answer = await _post_json(browser, f"/api/calls/{other.id}/lines", {"text": "你好"})
    assert status == 403 and "someone_else" in answer["error"]
    status, _ = await _post_json(browser, "/api/calls/999999/lines", {"text": "你好"})
    assert status == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["trainer1", "super1"])
async def test_accounts_without_the_agent_role_get_403_on_the_call_desk(
        browser: Browser, username: str) -> None:
    await browser.login(username)
    for path in ("/calls", "/api/calls/1"):
        response = await browser.client.get(path, allow_redirects=False)
        assert response.status == 403, path


@pytest.mark.asyncio
async def test_callers_words_are_escaped_and_masked_for_the_admin(
        browser: Browser, store: UowFactory) -> None:
    call = call_store.start_call(store, PHONE, "11183", "admin1", NOW)
    call_store.add_line(store, call.id, "admin1", f"{EVIL} 我电话 13700001111", None, NOW)
    await browser.login("admin1")
    state = await (await browser.client.get(f"/api/calls/{call.id}")).json()
    assert state["call"]["phone"] == "139****5678"
    assert "13700001111" not in state["lines"][0]["text"]
    page = await (await browser.client.get("/calls")).text()
    assert PHONE not in page and "139****5678" in page
    assert "<script>alert" not in page


@pytest.mark.asyncio
async def test_an_order_from_the_call_is_prefilled_gets_the_11183_deadline_and_names_the_call(
        browser: Browser, store: UowFactory) -> None:
    await browser.login("agent1")
    call_id = await _start(browser)
    await _post_json(browser, f"/api/calls/{call_id}/lines", {"text": "EA000000005CN 包裹破了"})
    form = await (await browser.client.get(f"/orders/new?call={call_id}")).text()
    assert 'value="11183" selected' in form and 'value="damaged" selected' in form
    assert 'value="EA000000005CN"' in form and f'value="{PHONE}"' in form
    assert "24 小时（自然时间）" in form and "2025-06-11 10:00" in form
    token = CSRF_INPUT.search(form)
    assert token
    response = await browser.client.post("/orders/new", data={
        "csrf_token": token.group(1), "call_id": str(call_id), "channel": "11183",
        "category": "damaged", "mail_number": "EA000000005CN", "customer_phone": PHONE,
        "customer_name": "", "county": "", "priority": "normal",
        "description": "EA000000005CN 包裹破了"}, allow_redirects=False)
    assert response.status == 303
    number = response.headers["Location"].split("/orders/")[1].split("?")[0]
    order = wo.get_work_order(store, load_policy(), number, NOW)
    assert order.channel is Channel.HOTLINE_11183 and order.category is Category.DAMAGED
    assert order.deadline == NOW + timedelta(hours=24)
    assert [h.action for h in order.history] == ["created", "call"]
    assert call_store.get_call(store, call_id).order_numbers == (number,)
    listed = await (await browser.client.get("/orders")).text()
    assert number in listed


@pytest.mark.asyncio
async def test_a_second_complaint_about_the_same_mail_links_to_the_open_order(
        browser: Browser, store: UowFactory) -> None:
    rules = load_policy()
    first = wo.open_work_order(store, rules, wo.NewWorkOrder(
        channel=Channel.WECHAT, category=Category.DAMAGED, description="破了",
        mail_number="EA000000005CN"), NOW).order
    await browser.login("super1")
    form = await (await browser.client.get("/orders/new")).text()
    token = CSRF_INPUT.search(form)
    assert token
    response = await browser.client.post("/orders/new", data={
        "csrf_token": token.group(1), "channel": "12345", "category": "damaged",
        "mail_number": "EA000000005CN", "customer_phone": "", "customer_name": "",
        "county": "", "priority": "normal", "description": "又来投诉"}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/orders/{first.number}?done=linked"
    assert wo.get_work_order(store, rules, first.number, NOW).contacts == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("fields, message", [
    ({"mail_number": "EA000000006CN"}, "校验位不对"),
    ({"category": ""}, "请选择投诉类别"),
    ({"description": ""}, "请填写问题描述"),
    ({"customer_phone": "12"}, "联系电话格式不对"),
])
async def test_a_bad_order_form_is_refused_with_the_reason(
        browser: Browser, fields: dict[str, str], message: str) -> None:
    await browser.login("agent1")
    form = await (await browser.client.get("/orders/new")).text()
    token = CSRF_INPUT.search(form)
    assert token
    data = {"csrf_token": token.group(1), "channel": "11183", "category": "delay",
            "mail_number": "", "customer_phone": "", "customer_name": "", "county": "",
            "priority": "normal", "description": "没收到", **fields}
    response = await browser.client.post("/orders/new", data=data, allow_redirects=False)
    assert response.status == 400 and message in await response.text()


@pytest.mark.asyncio
async def test_the_deadline_preview_follows_the_channel(browser: Browser) -> None:
    await browser.login("super1")
    answer = await (await browser.client.get("/api/orders/deadline?channel=spb_transfer")).json()
    assert answer["deadline"] == "2025-06-10 16:00" and "6 小时" in answer["rule"]
    direct = await (await browser.client.get("/api/orders/deadline?channel=11183_direct")).json()
    assert "10 个工作小时" in direct["rule"]
    response = await browser.client.get("/api/orders/deadline?channel=nope")
    assert response.status == 400


@pytest.mark.asyncio
async def test_mail_search_shows_trail_orders_and_responsibility(
        browser: Browser, store: UowFactory) -> None:
    await browser.login("super1")
    page = await (await browser.client.get("/mail?number=EA000000005CN")).text()
    assert 'data-testid="mail-trail"' in page and 'data-testid="mail-blame"' in page
    bad = await (await browser.client.get("/mail?number=EA000000006CN")).text()
    assert "校验位不对" in bad
    call_store.start_call(store, PHONE, "11185", "agent1", NOW)
    by_phone = await (await browser.client.get(f"/mail?phone={PHONE}")).text()
    result = by_phone.split('data-testid="phone-result"')[1]  # the search box echoes the query
    assert 'data-testid="phone-calls"' in result and PHONE not in result
    assert "139****5678" in result


CSV_HEADER = "工单编号,受理时间,邮件号,联系电话,投诉类别,问题描述\n"
CSV_ROWS = ("A-1,2025-06-10 08:00,EA000000005CN,13800001111,破损,外箱破了\n"
            "A-2,2025-06-10 08:30,,13800002222,不存在的类别,少了东西\n"
            "A-3,2025-06-10 09:00,,13800003333,延误,三天没动\n")


async def _upload(browser: Browser, content: bytes, filename: str,
                  channel: str = "12345") -> tuple[int, str]:
    token = await browser.csrf_token("/orders/upload")
    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("channel", channel)
    data.add_field("file", content, filename=filename, content_type="text/csv")
    response = await browser.client.post("/orders/upload", data=data)
    return response.status, await response.text()


@pytest.mark.asyncio
async def test_an_upload_imports_the_good_rows_and_names_the_bad_one_once(
        browser: Browser) -> None:
    await browser.login("agent1")
    status, page = await _upload(browser, (CSV_HEADER + CSV_ROWS).encode(), "export.csv")
    assert status == 200
    assert re.search(r'data-testid="count-imported">2<', page)
    assert re.search(r'data-testid="count-rejected">1<', page)
    assert 'data-row="3"' in page and "第 3 行" in page
    status, again = await _upload(browser, (CSV_HEADER + CSV_ROWS).encode(), "export.csv")
    assert re.search(r'data-testid="count-imported">0<', again)
    assert re.search(r'data-testid="count-already">2<', again)


@pytest.mark.asyncio
@pytest.mark.parametrize("content, filename, status, message", [
    (b"MZ\x90\x00", "orders.exe", 415, "不支持的文件类型"),
    (b"x" * (desk.MAX_UPLOAD_BYTES + 10), "big.csv", 413, "文件太大"),
    ("标题,别的\n1,2\n".encode(), "orders.csv", 400, "缺少必需的列"),
])
async def test_an_upload_over_the_limits_is_refused_with_a_clear_message(
        browser: Browser, content: bytes, filename: str, status: int, message: str) -> None:
    await browser.login("super1")
    got, page = await _upload(browser, content, filename)
    assert got == status and message in page


@pytest.mark.asyncio
async def test_a_trainer_cannot_upload_or_search(browser: Browser) -> None:
    await browser.login("trainer1")
    for path in ("/orders/upload", "/mail", "/orders/new"):
        response = await browser.client.get(path, allow_redirects=False)
        assert response.status == 403, path


def test_the_call_categories_are_those_the_bot_opens_orders_with() -> None:
    from actions.complaints import MENTIONED_PROBLEMS

    assert desk.CALL_CATEGORIES == MENTIONED_PROBLEMS


def test_numbers_read_out_by_the_caller_are_found_newest_line_first() -> None:
    from datetime import datetime

    from bot.store.calls import LineView
    from bot.workbench.calls import numbers_said

    def line(i: int, text: str) -> LineView:
        return LineView(i, datetime(2026, 12, 5, 9, i), text, None, None, ())

    lines = (line(1, "嗯 单号是幺幺五幺 二三八九 七幺零六零"),
             line(2, "还有一个 E A 零零零 零零零 零零五 C N 对对对 电话幺三六 幺二五八 零零四七"),
             line(3, "就是那个幺幺五幺二三八九七幺零六零"))
    assert [n.value for n in numbers_said(lines)] == ["1151238971060", "EA000000005CN"]
    assert [n.value for n in numbers_said(lines[1:2])] == ["EA000000005CN"]
