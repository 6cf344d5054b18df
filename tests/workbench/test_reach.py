"""What each account can reach in the workbench, and how much it may send, over real HTTP.

* Work orders: an agent takes an order nobody holds by starting it; only the holder or a
  supervisor takes the later steps; no close without feedback unless a supervisor writes a
  reason; only a supervisor reopens. A refusal is a 403 page with the reason, and writes
  nothing.
* Conversations: only the agent holding a conversation corrects the bot's reading of it; a
  reply's request key is looked up within its own conversation, after the hold check.
* Ids in paths: anything but a positive integer within the store's range is a 404.
* JSON bodies: too large, too deep or with a field over its limit is a 400 with the reason.

Every test gets a SQLite file with one account per role (hashed once per module), the demo mail
and the demo work orders seeded at `NOW`; the Rasa server is `FakeRasa` of
tests/workbench/support.py.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.config import Settings, local_now
from bot.store import desk, services
from bot.store import workorders as wo
from bot.store.accounts import Role, create_account
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail, seed_demo_work_orders
from bot.store.status import Category, Channel, WorkOrderStatus
from bot.store.uow import UowFactory, uow_factory
from bot.trainer import inbox
from bot.workbench import keys
from bot.workbench.app import create_app
from bot.workbench.keys import RASA
from bot.workorders.policy import DeadlinePolicy, load_policy
from tests.workbench.support import FakeRasa, csrf

PASSWORD = "password-2026"
NOW = datetime(2025, 6, 10, 10, 0)
USERS = [("agent1", Role.AGENT), ("agent2", Role.AGENT), ("super1", Role.SUPERVISOR),
         ("trainer1", Role.TRAINER), ("admin1", Role.ADMIN)]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ORDER_ERROR = re.compile(r'data-testid="order-error">([^<]*)</p>')
HUGE = "99999999999999999999"


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite file with the accounts (hashed once: hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("reach") / "accounts.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    for name, role in USERS:
        create_account(uows, name, PASSWORD, role, f"{role.label}{name[-1]}号")
    engine.dispose()
    yield path


@dataclass
class Store:
    uows: UowFactory
    rules: DeadlinePolicy


@pytest.fixture
def store(accounts_db: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "reach.db"
    path.write_bytes(accounts_db.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    uows = uow_factory(make_session_factory(engine))
    rules = load_policy()
    seed_demo_mail(uows, NOW)
    assert seed_demo_work_orders(uows, rules, NOW) == 8
    yield Store(uows, rules)
    engine.dispose()


@dataclass
class Bench:
    store: Store
    rasa: FakeRasa
    clients: dict[str, TestClient]

    @property
    def uows(self) -> UowFactory:
        return self.store.uows

    async def login(self, username: str) -> TestClient:
        client = self.clients[username]
        page = await (await client.get("/login")).text()
        token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token, "next": "/"},
                                     allow_redirects=False)
        assert response.status == 303, username
        return client


@pytest_asyncio.fixture
async def bench(store: Store) -> AsyncIterator[Bench]:
    rasa = FakeRasa()
    app = create_app(Settings(), store.uows)
    app[RASA] = rasa  # type: ignore[assignment]
    app[keys.CLOCK] = lambda: NOW
    server = TestServer(app)
    await server.start_server()
    clients = {name: TestClient(server) for name, _ in USERS}
    for client in clients.values():
        await client.start_server()
    try:
        yield Bench(store, rasa, clients)
    finally:
        for client in clients.values():
            await client.close()
        await server.close()


# --- helpers -----------------------------------------------------------------------------------


def _number(store: Store, channel: Channel, category: Category | None = None) -> str:
    [number] = [v.number for v in wo.list_work_orders(store.uows, store.rules, NOW)
                if v.channel is channel and (category is None or v.category is category)]
    return number


def _order(store: Store, number: str) -> wo.WorkOrderView:
    return wo.get_work_order(store.uows, store.rules, number, NOW)


def _state(store: Store, number: str) -> tuple[Any, ...]:
    """Everything an action may change: status, holder, times, results and the history."""
    view = _order(store, number)
    return (view.status, view.assigned_to, view.answered_at, view.closed_at, view.deadline,
            view.callback_satisfied, view.responsible_unit, view.history)


async def _act(client: TestClient, number: str, action: str, **fields: str) -> tuple[int, str]:
    """POST an order action as its form does; the status and the page's error ('' if none)."""
    response = await client.post(f"/orders/{number}/{action}",
                                 data={"csrf_token": await csrf(client), **fields},
                                 allow_redirects=False)
    match = ORDER_ERROR.search(await response.text())
    return response.status, match.group(1) if match else ""


async def _post_json(client: TestClient, url: str, body: Any = None, *,
                     raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    response = await client.post(url, data=data, headers={
        "X-CSRF-Token": await csrf(client), "Content-Type": "application/json"})
    text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def _handover(uows: UowFactory, sender: str, text: str = "转人工") -> int:
    return services.record_handover(uows, sender, "rest", "request_human", text, None,
                                    local_now()).id


async def _claimed(bench: Bench, agent: str, sender: str) -> int:
    hid = _handover(bench.uows, sender)
    client = await bench.login(agent)
    status, body = await _post_json(client, f"/api/handovers/{hid}/claim")
    assert status == 200, body
    return hid


# --- work orders: who may act ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_agent_takes_an_order_nobody_holds_by_starting_it(bench: Bench) -> None:
    number = _number(bench.store, Channel.PINDUODUO)
    assert _order(bench.store, number).assigned_to is None
    agent1 = await bench.login("agent1")
    assert (await _act(agent1, number, "start", note="我来处理"))[0] == 303
    view = _order(bench.store, number)
    assert (view.status, view.assigned_to) == (WorkOrderStatus.IN_PROGRESS, "agent1")
    assert view.history[-1].actor == "agent1" and view.history[-1].detail == "我来处理"
    page = await (await agent1.get(f"/orders/{number}")).text()
    assert 'data-testid="order-holder">agent1<' in page
    listed = await (await agent1.get("/api/orders?channel=pinduoduo")).json()
    assert [o["assigned_to"] for o in listed["orders"]] == ["agent1"]


@pytest.mark.asyncio
@pytest.mark.parametrize("action, fields", [
    ("start", {}),
    ("feedback", {"text": "已为您催办"}),
    ("callback", {"result": "satisfied"}),
    ("responsibility", {"unit": "昆明邮区中心局"}),
    ("close", {"note": "已处理"}),
    ("reopen", {"reason": "客户又来电"}),
])
async def test_an_agent_cannot_act_on_an_order_another_agent_holds(
    bench: Bench, action: str, fields: dict[str, str],
) -> None:
    number = _number(bench.store, Channel.PINDUODUO)
    agent1, agent2 = await bench.login("agent1"), await bench.login("agent2")
    assert (await _act(agent1, number, "start"))[0] == 303
    if action != "feedback":  # answered: every other step is a valid transition now
        assert (await _act(agent1, number, "feedback", text="已赔付"))[0] == 303
    before = _state(bench.store, number)
    status, error = await _act(agent2, number, action, **fields)
    assert status == 403, (action, error)
    if action == "reopen":
        assert "只有主管可以重新打开工单" in error
    else:
        assert f"由 agent1 负责处理" in error
    assert _state(bench.store, number) == before
    # The page tells agent2 whose order it is and offers no action.
    page = await (await agent2.get(f"/orders/{number}")).text()
    assert "此工单由 agent1 负责处理，您只能查看。" in page
    assert 'data-testid="action-' not in page


@pytest.mark.asyncio
@pytest.mark.parametrize("action, fields", [
    ("feedback", {"text": "已为您催办"}),
    ("responsibility", {"unit": "昆明邮区中心局"}),
    ("close", {"note": "已处理"}),
])
async def test_an_agent_must_take_an_order_before_acting_on_it(
    bench: Bench, action: str, fields: dict[str, str],
) -> None:
    number = _number(bench.store, Channel.CAINIAO)  # new, nobody holds it
    before = _state(bench.store, number)
    agent1 = await bench.login("agent1")
    status, error = await _act(agent1, number, action, **fields)
    assert status == 403 and "还没有人负责：请先点“开始处理”接手" in error
    assert _state(bench.store, number) == before


@pytest.mark.asyncio
async def test_the_holder_closes_only_after_the_feedback(bench: Bench) -> None:
    number = _number(bench.store, Channel.STATE_GRID)
    agent1 = await bench.login("agent1")
    assert (await _act(agent1, number, "start"))[0] == 303
    before = _state(bench.store, number)
    status, error = await _act(agent1, number, "close", note="客户不再追究")
    assert status == 403 and "工单还没有反馈客户，不能结案" in error
    assert _state(bench.store, number) == before
    assert (await _act(agent1, number, "feedback", text="已联系供电所核实"))[0] == 303
    assert (await _act(agent1, number, "close"))[0] == 303
    view = _order(bench.store, number)
    assert view.status is WorkOrderStatus.CLOSED and view.history[-1].actor == "agent1"


@pytest.mark.asyncio
async def test_a_supervisor_closes_without_feedback_only_with_a_written_reason(
    bench: Bench,
) -> None:
    number = _number(bench.store, Channel.GOV_12345)  # new, overdue, no feedback
    supervisor = await bench.login("super1")
    before = _state(bench.store, number)
    status, error = await _act(supervisor, number, "close", note="   ")
    assert status == 409 and "未反馈结案必须填写理由" in error
    assert _state(bench.store, number) == before
    reason = "客户来电撤诉，经主管核实无需反馈"
    assert (await _act(supervisor, number, "close", note=reason))[0] == 303
    view = _order(bench.store, number)
    assert view.status is WorkOrderStatus.CLOSED and view.answered_at is None
    last = view.history[-1]
    assert (last.actor, last.action, last.detail) == ("super1", "closed",
                                                      wo.UNANSWERED_CLOSE + reason)
    page = await (await supervisor.get(f"/orders/{number}")).text()
    assert wo.UNANSWERED_CLOSE + reason in page


@pytest.mark.asyncio
async def test_only_a_supervisor_reopens_and_the_order_stays_with_its_agent(bench: Bench) -> None:
    number = _number(bench.store, Channel.PINDUODUO)
    agent1, supervisor = await bench.login("agent1"), await bench.login("super1")
    for action, fields in [("start", {}), ("feedback", {"text": "已赔付"}), ("close", {})]:
        assert (await _act(agent1, number, action, **fields))[0] == 303, action
    before = _state(bench.store, number)
    status, error = await _act(agent1, number, "reopen", reason="客户称未收到赔款")
    assert status == 403 and "只有主管可以重新打开工单" in error
    assert _state(bench.store, number) == before
    assert 'data-testid="action-reopen"' not in await (await agent1.get(f"/orders/{number}")).text()
    assert (await _act(supervisor, number, "reopen", reason="客户称未收到赔款"))[0] == 303
    view = _order(bench.store, number)
    assert (view.status, view.assigned_to) == (WorkOrderStatus.REOPENED, "agent1")
    assert view.history[-1].actor == "super1"
    # The agent carries on with it.
    assert (await _act(agent1, number, "start"))[0] == 303


@pytest.mark.asyncio
@pytest.mark.parametrize("username", ["super1", "admin1"])
async def test_supervisors_act_on_an_order_an_agent_holds(bench: Bench, username: str) -> None:
    number = _number(bench.store, Channel.CAINIAO)
    agent1, boss = await bench.login("agent1"), await bench.login(username)
    assert (await _act(agent1, number, "start"))[0] == 303
    assert (await _act(boss, number, "feedback", text="主管已代为答复"))[0] == 303
    assert (await _act(boss, number, "responsibility", unit="景洪市邮政分公司"))[0] == 303
    view = _order(bench.store, number)
    assert (view.status, view.assigned_to, view.responsible_unit) == (
        WorkOrderStatus.ANSWERED, "agent1", "景洪市邮政分公司")


def test_two_agents_starting_the_same_order_at_once_one_takes_it(tmp_path: Path) -> None:
    """Also on SQLite, where SELECT ... FOR UPDATE locks nothing: the take is conditional."""
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    rules = load_policy()
    number = wo.open_work_order(uows, rules, wo.NewWorkOrder(
        Channel.WECHAT, Category.DELAY, "快递一直不动"), NOW).order.number
    for _ in range(5):
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def attempt(agent: str) -> None:
            barrier.wait()
            try:
                results[agent] = wo.start_work(uows, rules, number, NOW, wo.Staff(agent)).assigned_to
            except wo.WorkOrderError as exc:
                results[agent] = exc

        threads = [threading.Thread(target=attempt, args=(a,)) for a in ("agent1", "agent2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        winners = [a for a, r in results.items() if r == a]
        assert len(winners) == 1, results
        view = wo.get_work_order(uows, rules, number, NOW)
        assert view.assigned_to == winners[0]
        assert [h.action for h in view.history].count("in_progress") == 1
        # Next round on a fresh order.
        number = wo.open_work_order(uows, rules, wo.NewWorkOrder(
            Channel.WECHAT, Category.DELAY, "快递一直不动"), NOW).order.number
    engine.dispose()


# --- conversations: corrections and request keys -----------------------------------------------


@pytest.mark.asyncio
async def test_a_correction_needs_the_conversation_to_be_held_by_the_agent(bench: Bench) -> None:
    hid = await _claimed(bench, "agent1", "web-correct")
    bench.rasa.customer_says("web-correct", "我那个件咋个还没得动静", "greet", 0.41)
    [ts] = [e["timestamp"] for e in bench.rasa.trackers["web-correct"]["events"]
            if e["event"] == "user"]
    body = {"ts": ts, "intent": "delivery_delay"}
    agent2 = await bench.login("agent2")
    status, answer = await _post_json(agent2, f"/api/conversations/{hid}/corrections", body)
    assert status == 403 and "只有接入这个会话的坐席" in answer["error"]
    # Nor on a conversation nobody holds.
    waiting = _handover(bench.uows, "web-waiting")
    bench.rasa.customer_says("web-waiting", "我那个件咋个还没得动静", "greet", 0.41)
    status, _ = await _post_json(agent2, f"/api/conversations/{waiting}/corrections", body)
    assert status == 403
    assert inbox.list_candidates(bench.uows) == []
    # Supervisors do not correct (as before); the holder and an admin do.
    supervisor = await bench.login("super1")
    assert (await _post_json(supervisor, f"/api/conversations/{hid}/corrections", body))[0] == 403
    agent1 = await bench.login("agent1")
    status, answer = await _post_json(agent1, f"/api/conversations/{hid}/corrections", body)
    assert status == 201, answer
    admin = await bench.login("admin1")
    status, _ = await _post_json(admin, f"/api/conversations/{waiting}/corrections", body)
    assert status == 201
    assert sorted(c.reported_by for c in inbox.list_candidates(bench.uows)) == ["admin1", "agent1"]


@pytest.mark.asyncio
async def test_a_request_key_of_one_conversation_does_not_touch_another(bench: Bench) -> None:
    first = await _claimed(bench, "agent1", "web-a")
    second = await _claimed(bench, "agent1", "web-b")
    agent1 = await bench.login("agent1")
    status, a = await _post_json(agent1, f"/api/conversations/{first}/replies",
                                 {"request_key": "same-key", "final_text": "给A的回复"})
    assert status == 201
    status, b = await _post_json(agent1, f"/api/conversations/{second}/replies",
                                 {"request_key": "same-key", "final_text": "给B的回复"})
    assert status == 201 and b["created"] is True and b["reply"]["id"] != a["reply"]["id"]
    assert [r.final_text for r in desk.replies_for(bench.uows, first)] == ["给A的回复"]
    assert [r.final_text for r in desk.replies_for(bench.uows, second)] == ["给B的回复"]
    # A repeat within its own conversation is still recognised.
    status, again = await _post_json(agent1, f"/api/conversations/{second}/replies",
                                     {"request_key": "same-key", "final_text": "给B的回复"})
    assert status == 200 and again["reply"]["id"] == b["reply"]["id"]


@pytest.mark.asyncio
async def test_a_non_holder_replaying_a_key_learns_nothing_of_the_reply(bench: Bench) -> None:
    hid = await _claimed(bench, "agent1", "web-k")
    agent1, agent2 = await bench.login("agent1"), await bench.login("agent2")
    status, _ = await _post_json(agent1, f"/api/conversations/{hid}/replies",
                                 {"request_key": "k-1", "final_text": "客户的地址是……"})
    assert status == 201
    status, answer = await _post_json(agent2, f"/api/conversations/{hid}/replies",
                                      {"request_key": "k-1", "final_text": "x"})
    assert status == 409 and "reply" not in answer and "agent1" in answer["error"]
    assert len(desk.replies_for(bench.uows, hid)) == 1


def test_the_store_checks_the_hold_before_the_key(uows: UowFactory) -> None:
    """On SQLite and PostgreSQL: the key is unique per conversation, not across them."""
    from tests.workbench.support import DESK_NOW, insert_accounts

    insert_accounts(uows, ("agent1", Role.AGENT, True), ("agent2", Role.AGENT, True))
    a = services.record_handover(uows, "wx-a", "rest", "request_human", "人工", None, DESK_NOW).id
    b = services.record_handover(uows, "wx-b", "rest", "request_human", "人工", None, DESK_NOW).id
    desk.claim(uows, a, "agent1", DESK_NOW)
    desk.claim(uows, b, "agent2", DESK_NOW)
    mine, created = desk.record_reply(uows, request_key="k", handover_id=a, agent="agent1",
                                      suggestion_kind=None, suggested_text=None,
                                      final_text="A", now=DESK_NOW)
    assert created
    with pytest.raises(desk.DeskForbidden):
        desk.record_reply(uows, request_key="k", handover_id=a, agent="agent2",
                          suggestion_kind=None, suggested_text=None, final_text="x",
                          now=DESK_NOW)
    theirs, created = desk.record_reply(uows, request_key="k", handover_id=b, agent="agent2",
                                        suggestion_kind=None, suggested_text=None,
                                        final_text="B", now=DESK_NOW)
    assert created and theirs.id != mine.id and theirs.final_text == "B"
    # After a transfer, the new holder cannot pick up the old holder's reply by its key.
    desk.transfer(uows, a, "agent1", "agent2", DESK_NOW)
    with pytest.raises(desk.DeskError, match="另一位坐席"):
        desk.record_reply(uows, request_key="k", handover_id=a, agent="agent2",
                          suggestion_kind=None, suggested_text=None, final_text="x",
                          now=DESK_NOW)


# --- ids in paths ------------------------------------------------------------------------------

BAD_IDS = [HUGE, "2147483648", "0", "-1", "007", "1e3", "%EF%BC%91", "%2B1", "abc"]
ID_ROUTES = [
    ("agent1", "GET", "/api/conversations/{id}"),
    ("agent1", "GET", "/api/conversations/{id}/stream"),
    ("agent1", "GET", "/conversations/{id}"),
    ("agent1", "POST", "/api/handovers/{id}/claim"),
    ("agent1", "POST", "/api/handovers/{id}/transfer"),
    ("agent1", "POST", "/api/handovers/{id}/release"),
    ("agent1", "POST", "/api/handovers/{id}/handback"),
    ("agent1", "POST", "/api/conversations/{id}/replies"),
    ("agent1", "POST", "/api/conversations/{id}/corrections"),
    ("trainer1", "POST", "/api/trainer/candidates/{id}/annotate"),
    ("trainer1", "POST", "/api/trainer/candidates/{id}/discard"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("user, method, route", ID_ROUTES)
async def test_an_id_that_cannot_be_a_store_id_is_a_404(
    bench: Bench, user: str, method: str, route: str,
) -> None:
    client = await bench.login(user)
    token = await csrf(client)
    body = {"request_key": "k", "final_text": "你好", "to": "agent2", "ts": 1.0,
            "intent": "greet", "entities": []}
    for bad in BAD_IDS:
        url = route.format(id=bad)
        if method == "GET":
            response = await client.get(url, allow_redirects=False)
        else:
            response = await client.post(url, json=body, headers={"X-CSRF-Token": token})
        assert response.status == 404, (url, response.status, await response.text())
        if url.startswith("/api/"):
            assert response.content_type == "application/json", url


@pytest.mark.asyncio
@pytest.mark.parametrize("number", [
    "GD" + HUGE * 2, "GD1", "x", "1", HUGE, "GD2025061000001%00", "GD" + "9" * 23,
])
async def test_a_malformed_order_number_is_a_404_also_for_actions(
    bench: Bench, number: str,
) -> None:
    agent1 = await bench.login("agent1")
    response = await agent1.get(f"/orders/{number}")
    assert response.status == 404 and "工单不存在" in await response.text()
    for action in ["start", "feedback", "callback", "responsibility", "close", "reopen"]:
        status, _ = await _act(agent1, number, action, text="t", result="satisfied", unit="u",
                               reason="r")
        assert status == 404, (number, action)


@pytest.mark.asyncio
async def test_the_largest_store_id_is_looked_up_and_not_found(bench: Bench) -> None:
    agent1 = await bench.login("agent1")
    assert (await agent1.get(f"/api/conversations/{keys.MAX_ID}")).status == 404
    hid = _handover(bench.uows, "web-real")
    assert (await agent1.get(f"/api/conversations/{hid}")).status == 200


# --- bounded JSON ------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return ('{"request_key": "n", "final_text": "hi", "x": ' + "[" * depth + "]" * depth
            + "}").encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("user, route", [
    ("agent1", "/api/conversations/{hid}/replies"),
    ("agent1", "/api/conversations/{hid}/corrections"),
    ("agent1", "/api/handovers/{hid}/transfer"),
    ("trainer1", "/api/trainer/candidates/1/annotate"),
])
async def test_a_body_nested_too_deep_is_a_400(bench: Bench, user: str, route: str) -> None:
    hid = await _claimed(bench, "agent1", "web-deep")
    client = await bench.login(user)
    url = route.format(hid=hid)
    for depth in (1000, 30_000, keys.MAX_JSON_DEPTH):  # the body's own object adds a level
        status, answer = await _post_json(client, url, raw=_nested(depth))
        assert status == 400, (url, depth, answer)
        assert answer["error"] == f"请求内容嵌套太深（最多 {keys.MAX_JSON_DEPTH} 层）"
    # Brackets inside strings are text, not nesting.
    status, answer = await _post_json(client, url, {"to": "[" * 5000, "intent": "{" * 50})
    assert status != 400 or "嵌套" not in answer["error"]
    assert desk.replies_for(bench.uows, hid) == []


@pytest.mark.asyncio
async def test_nesting_up_to_the_limit_is_read(bench: Bench) -> None:
    hid = await _claimed(bench, "agent1", "web-ok")
    agent1 = await bench.login("agent1")
    status, answer = await _post_json(agent1, f"/api/conversations/{hid}/replies",
                                      raw=_nested(keys.MAX_JSON_DEPTH - 1))
    assert status == 201, answer


@pytest.mark.asyncio
@pytest.mark.parametrize("field, size, message", [
    ("final_text", desk.MAX_REPLY_CHARS + 1, f"回复内容太长（最多 {desk.MAX_REPLY_CHARS} 字）"),
    ("request_key", 65, "请求编号太长（最多 64 字）"),
    ("suggestion_kind", 33, "建议类型太长（最多 32 字）"),
    ("suggested_text", 4001, "建议内容太长（最多 4000 字）"),
])
async def test_a_reply_field_over_its_limit_is_a_400(
    bench: Bench, field: str, size: int, message: str,
) -> None:
    hid = await _claimed(bench, "agent1", "web-long")
    agent1 = await bench.login("agent1")
    body = {"request_key": "long-1", "final_text": "您好", "suggestion_kind": "status",
            "suggested_text": "您好", field: "长" * size}
    status, answer = await _post_json(agent1, f"/api/conversations/{hid}/replies", body)
    assert (status, answer) == (400, {"error": message})
    assert desk.replies_for(bench.uows, hid) == []
    body[field] = "长" * (size - 1)
    status, _ = await _post_json(agent1, f"/api/conversations/{hid}/replies", body)
    assert status == 201


@pytest.mark.asyncio
async def test_other_json_fields_over_their_limit_are_a_400(bench: Bench) -> None:
    hid = await _claimed(bench, "agent1", "web-fields")
    agent1, trainer = await bench.login("agent1"), await bench.login("trainer1")
    status, answer = await _post_json(agent1, f"/api/handovers/{hid}/transfer", {"to": "a" * 65})
    assert (status, answer["error"]) == (400, "坐席用户名太长（最多 64 字）")
    status, answer = await _post_json(agent1, f"/api/conversations/{hid}/corrections",
                                      {"ts": 1.0, "intent": "g" * 65})
    assert (status, answer["error"]) == (400, "意图太长（最多 64 字）")
    status, answer = await _post_json(trainer, "/api/trainer/candidates/1/annotate",
                                      {"intent": "greet", "entities": [{}] * 51})
    assert (status, answer["error"]) == (400, "实体标注太多（最多 50 个）")
    assert desk.get_handover(bench.uows, hid).assigned_to == "agent1"  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_body_too_large_or_not_plain_json_is_a_400(bench: Bench) -> None:
    hid = await _claimed(bench, "agent1", "web-big")
    agent1 = await bench.login("agent1")
    url = f"/api/conversations/{hid}/replies"
    big = json.dumps({"request_key": "b", "final_text": "x", "pad": "x" * keys.MAX_JSON_BYTES})
    status, answer = await _post_json(agent1, url, raw=big.encode())
    assert (status, answer["error"]) == (400, "请求内容太大（最多 64 KB）")
    for raw in [b'{"request_key": "n", "final_text": NaN}', b"\xff\xfe{}", b"[1, 2]", b"{"]:
        status, answer = await _post_json(agent1, url, raw=raw)
        assert status == 400 and "JSON" in answer["error"], raw
    assert desk.replies_for(bench.uows, hid) == []


@pytest.mark.asyncio
async def test_a_request_body_over_the_app_limit_is_refused(bench: Bench) -> None:
    agent1 = await bench.login("agent1")
    number = _number(bench.store, Channel.PINDUODUO)
    response = await agent1.post(f"/orders/{number}/feedback",
                                 data={"csrf_token": await csrf(agent1),
                                       "text": "x" * (keys.MAX_REQUEST_BYTES + 1)})
    assert response.status == 413
    assert _order(bench.store, number).history[-1].action == "created"


@pytest.mark.asyncio
@pytest.mark.parametrize("action, field, limit, label", [
    ("feedback", "text", 2000, "反馈内容"),
    ("responsibility", "unit", 128, "责任单位"),
    ("responsibility", "note", 2000, "说明"),
    ("callback", "note", 2000, "说明"),
    ("close", "note", 2000, "说明"),
    ("reopen", "reason", 500, "原因"),
])
async def test_an_order_field_over_its_limit_is_a_400_page(
    bench: Bench, action: str, field: str, limit: int, label: str,
) -> None:
    number = _number(bench.store, Channel.DIRECT_11183)
    supervisor = await bench.login("super1")  # may take every step
    before = _state(bench.store, number)
    fields = {"text": "已答复", "unit": "昆明邮区中心局", "result": "satisfied", "reason": "r",
              "note": "n", field: "长" * (limit + 1)}
    status, error = await _act(supervisor, number, action, **fields)
    assert (status, error) == (400, f"{label}太长（最多 {limit} 字），未保存。")
    assert _state(bench.store, number) == before
