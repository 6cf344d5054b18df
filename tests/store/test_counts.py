"""The repositories' counts (what the workbench's /metrics gauges read) count exactly the rows
of the lists they stand for, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.store import workorders as wo
from bot.store.models import HandoverRequest, WorkOrder
from bot.store.services import record_handover
from bot.store.status import Category, Channel, HandoverStatus
from bot.store.uow import UowFactory
from bot.workorders.policy import load_policy

# Wednesday 2025-06-11 10:00, an ordinary working day.
NOW = datetime(2025, 6, 11, 10, 0)


def _rows(uows: UowFactory, model: type) -> int:
    with uows() as uow:
        return int(uow.session.execute(select(func.count(model.id))).scalar_one())


def test_count_waiting_is_the_length_of_the_waiting_list(uows: UowFactory) -> None:
    ids = [record_handover(uows, f"o{i}", "wechat", "request_human", "转人工", "request_human",
                           NOW + timedelta(minutes=i)).id for i in range(5)]
    with uows() as uow:
        assert uow.handovers.count_waiting() == len(uow.handovers.list_waiting()) == 5
        uow.session.get(HandoverRequest, ids[0]).status = HandoverStatus.TAKEN.value
        uow.session.get(HandoverRequest, ids[3]).status = HandoverStatus.CLOSED.value
        uow.commit()
    with uows() as uow:
        waiting = uow.handovers.list_waiting()
        assert [h.sender_id for h in waiting] == ["o1", "o2", "o4"]
        assert uow.handovers.count_waiting() == len(waiting) == 3
    assert _rows(uows, HandoverRequest) == 5


def test_count_waiting_of_an_empty_queue_is_zero(uows: UowFactory) -> None:
    with uows() as uow:
        assert uow.handovers.count_waiting() == len(uow.handovers.list_waiting()) == 0


def test_count_overdue_is_the_length_of_the_overdue_list(uows: UowFactory) -> None:
    rules = load_policy()

    def order(channel: Channel, category: Category) -> str:
        request = wo.NewWorkOrder(channel=channel, category=category, description="包裹没收到",
                                  mail_number="EA000000005CN", customer_phone="13812345678",
                                  sender_id="wx-1")
        return wo.open_work_order(uows, rules, request, NOW).order.number

    # Four State Post Bureau transfers (6 clock hours) and one WeChat order (24 clock hours).
    order(Channel.SPB_TRANSFER, Category.LOST)
    order(Channel.SPB_TRANSFER, Category.DELAY)
    answered = order(Channel.SPB_TRANSFER, Category.CONTENTS_MISSING)
    closed = order(Channel.SPB_TRANSFER, Category.ATTITUDE)
    order(Channel.WECHAT, Category.DAMAGED)
    wo.record_feedback(uows, rules, answered, NOW + timedelta(hours=1), "agent:li", "已答复")
    wo.close_work_order(uows, rules, closed, NOW + timedelta(hours=1), "system")
    assert _rows(uows, WorkOrder) == 5

    def counted(at: datetime) -> tuple[int, int, int]:
        with uows() as uow:
            rows, total = uow.work_orders.page(at, overdue_only=True, limit=1000)
            return uow.work_orders.count_overdue(at), len(rows), total

    assert counted(NOW) == (0, 0, 0)
    assert counted(NOW + timedelta(hours=7)) == (2, 2, 2)   # the two open transfers
    assert counted(NOW + timedelta(hours=25)) == (3, 3, 3)  # and the WeChat order
