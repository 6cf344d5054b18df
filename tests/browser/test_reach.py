"""Work orders held by someone else, in the browser: an agent whose page is out of date is
refused with the reason in the page and the order stays as it was; a supervisor closes an order
without feedback by writing the reason, which the history shows."""
from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect

from bot.config import local_now
from bot.store import workorders as wo
from bot.store.db import make_engine, make_session_factory
from bot.store.status import Category, Channel, WorkOrderStatus
from bot.store.uow import UowFactory, uow_factory
from bot.workorders.policy import DeadlinePolicy, load_policy
from tests.browser.conftest import Live, login


@pytest.fixture
def store(live: Live) -> Iterator[tuple[UowFactory, DeadlinePolicy]]:
    """The live store (the workbench's own SQLite file), opened by the test as well."""
    engine = make_engine(live.database_url)
    try:
        yield uow_factory(make_session_factory(engine)), load_policy()
    finally:
        engine.dispose()


def _state(uows: UowFactory, rules: DeadlinePolicy, number: str) -> tuple[Any, ...]:
    view = wo.get_work_order(uows, rules, number, local_now())
    return (view.status, view.assigned_to, view.answered_at, view.closed_at, view.history)


def test_an_agent_cannot_take_an_order_another_agent_took_meanwhile(
    agent_page: Page, live: Live, store: tuple[UowFactory, DeadlinePolicy],
) -> None:
    uows, rules = store
    page = agent_page
    number = wo.open_work_order(uows, rules, wo.NewWorkOrder(
        Channel.WECHAT, Category.OTHER, "浏览器测试：两位坐席同时想接的工单",
        customer_phone="13800002222"), local_now(), actor="browser-test").order.number

    # Nobody holds the order: the agent is offered to take it, and nothing else.
    page.goto(live.url(f"/orders/{number}"))
    expect(page.get_by_test_id("order-holder")).to_have_text("未接手")
    expect(page.get_by_test_id("order-reach")).to_contain_text("还没有人负责")
    expect(page.get_by_test_id("action-start")).to_be_visible()
    expect(page.get_by_test_id("action-feedback")).to_have_count(0)
    expect(page.get_by_test_id("action-close")).to_have_count(0)

    # Meanwhile another agent takes it.
    wo.start_work(uows, rules, number, local_now(), wo.Staff("agent-b"))
    before = _state(uows, rules, number)

    # The agent's page is out of date: the click is refused, with the reason, and nothing
    # changes.
    with page.expect_navigation() as navigation:
        page.get_by_test_id("action-start").click()
    response = navigation.value
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("order-error")).to_have_text(
        f"工单 {number} 已由 agent-b 负责处理，您不能接手")
    expect(page.get_by_test_id("order-holder")).to_have_text("agent-b")
    expect(page.get_by_test_id("order-status")).to_have_text(WorkOrderStatus.IN_PROGRESS.label)
    assert _state(uows, rules, number) == before

    # Reloaded, the page says whose order it is and offers no action.
    page.goto(live.url(f"/orders/{number}"))
    expect(page.get_by_test_id("order-reach")).to_have_text("此工单由 agent-b 负责处理，您只能查看。")
    expect(page.locator("[data-testid^=action-]")).to_have_count(0)
    expect(page.get_by_test_id("order-error")).to_have_count(0)
    assert _state(uows, rules, number) == before


def test_a_supervisor_closes_an_unanswered_order_with_a_written_reason(
    page: Page, live: Live, store: tuple[UowFactory, DeadlinePolicy],
) -> None:
    uows, rules = store
    number = wo.open_work_order(uows, rules, wo.NewWorkOrder(
        Channel.WECHAT, Category.OTHER, "浏览器测试：客户撤回的投诉"), local_now(),
        actor="browser-test").order.number
    wo.start_work(uows, rules, number, local_now(), wo.Staff("agent-b"))

    login(page, live.base_url, "supervisor", "demo-supervisor-2026")
    page.goto(live.url(f"/orders/{number}"))
    reason = page.get_by_test_id("close-reason")
    expect(reason).to_have_attribute("required", "")
    reason.fill("客户来电撤回投诉，无需反馈")
    page.get_by_test_id("action-close").click()
    expect(page.get_by_test_id("order-status")).to_have_text(WorkOrderStatus.CLOSED.label)
    expect(page.get_by_test_id("history-row").filter(has_text="结案")).to_contain_text(
        re.compile(r"未反馈客户即结案（主管决定），理由：客户来电撤回投诉，无需反馈"))
    view = wo.get_work_order(uows, rules, number, local_now())
    assert (view.status, view.assigned_to, view.answered_at) == (
        WorkOrderStatus.CLOSED, "agent-b", None)


@pytest.mark.parametrize("path", ["/conversations/99999999999999999999", "/conversations/-1",
                                  "/orders/GD99999999999999999999999999", "/orders/%3Cscript%3E"])
def test_an_id_that_cannot_exist_is_a_not_found_page(agent_page: Page, live: Live,
                                                      path: str) -> None:
    response = agent_page.goto(live.url(path))
    assert response is not None and response.status == 404, path
    assert "Internal Server Error" not in agent_page.content()
