"""Work-order and pickup services on SQLite and PostgreSQL, with the real deadline policy."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.store import workorders as wo
from bot.store.models import WorkOrderEvent
from bot.store.repositories import WorkOrderRepository
from bot.store.status import Category, Channel, Priority, WorkOrderStatus
from bot.store.uow import UowFactory
from bot.workorders.followup import draft_for_order
from bot.workorders.policy import DeadlinePolicy, load_policy

# Wednesday 2025-06-11 10:00, an ordinary working day.
NOW = datetime(2025, 6, 11, 10, 0)


@pytest.fixture(scope="module")
def rules() -> DeadlinePolicy:
    return load_policy()


def damaged(**kw: object) -> wo.NewWorkOrder:
    values = dict(channel=Channel.WECHAT, category=Category.DAMAGED,
                  description="包裹破了，里面的杯子碎了", mail_number="EA000000005CN",
                  customer_phone="13812345678", sender_id="wx-1")
    values.update(kw)
    return wo.NewWorkOrder(**values)  # type: ignore[arg-type]


def test_open_gives_a_number_deadline_and_history(uows: UowFactory, rules: DeadlinePolicy) -> None:
    opened = wo.open_work_order(uows, rules, damaged(), NOW)
    order = opened.order
    assert opened.created
    assert order.number.startswith("GD20250611")
    assert order.status is WorkOrderStatus.NEW
    assert order.deadline == NOW + timedelta(hours=24)  # WeChat: 24 clock hours
    assert order.customer_phone_masked == "138****5678"
    assert [h.action for h in order.history] == ["created"]
    assert not order.overdue


def test_direct_11183_order_counts_working_hours(uows: UowFactory, rules: DeadlinePolicy) -> None:
    # Wed 10:00 + 10 working hours: 2 h to noon, 3.5 h in the afternoon (5.5), Thu 3.5 h
    # in the morning (9.0), then 1 h after 14:00 → Thu 15:00.
    order = wo.open_work_order(uows, rules, damaged(channel=Channel.DIRECT_11183), NOW).order
    assert order.deadline == datetime(2025, 6, 12, 15, 0)


def test_second_complaint_on_same_mail_and_category_links(uows: UowFactory,
                                                           rules: DeadlinePolicy) -> None:
    first = wo.open_work_order(uows, rules, damaged(), NOW).order
    again = wo.open_work_order(uows, rules, damaged(channel=Channel.HOTLINE_11183,
                                                    description="又打电话问破损的事"),
                               NOW + timedelta(hours=1))
    assert not again.created
    assert again.order.number == first.number
    assert again.order.contacts == 2
    assert again.order.history[-1].action == "linked"
    assert "又打电话问破损的事" in again.order.history[-1].detail
    other = wo.open_work_order(uows, rules, damaged(category=Category.DELAY), NOW)
    assert other.created and other.order.number != first.number


def test_after_closing_a_new_complaint_opens_a_new_order(uows: UowFactory,
                                                         rules: DeadlinePolicy) -> None:
    first = wo.open_work_order(uows, rules, damaged(), NOW).order
    wo.close_work_order(uows, rules, first.number, NOW + timedelta(hours=2), "agent:li")
    second = wo.open_work_order(uows, rules, damaged(), NOW + timedelta(hours=3))
    assert second.created and second.order.number != first.number


def test_import_of_the_same_channel_order_writes_nothing_twice(uows: UowFactory,
                                                                rules: DeadlinePolicy) -> None:
    request = damaged(channel=Channel.GOV_12345, external_id="12345-2025-000187",
                      sender_id=None)
    first = wo.open_work_order(uows, rules, request, NOW, actor="import:12345")
    again = wo.open_work_order(uows, rules, request, NOW, actor="import:12345")
    assert first.created and not again.created and again.duplicate_import
    assert again.order.history == first.order.history
    assert len(wo.find_work_orders(uows, rules, NOW, mail_number="EA000000005CN")) == 1


def test_life_cycle_with_history(uows: UowFactory, rules: DeadlinePolicy) -> None:
    number = wo.open_work_order(uows, rules, damaged(), NOW).order.number
    t = NOW
    wo.start_work(uows, rules, number, t + timedelta(minutes=5), "agent:li")
    answered = wo.record_feedback(uows, rules, number, t + timedelta(hours=3), "agent:li",
                                  "已联系景洪揽投部核实，按保价赔付")
    assert answered.status is WorkOrderStatus.ANSWERED
    assert answered.answered_at == t + timedelta(hours=3)
    called = wo.record_callback(uows, rules, number, t + timedelta(hours=5), "agent:li",
                                satisfied=True)
    assert called.callback_satisfied is True
    wo.decide_responsibility(uows, rules, number, t + timedelta(hours=5), "agent:li",
                             "西双版纳州邮区中心局")
    closed = wo.close_work_order(uows, rules, number, t + timedelta(hours=6), "agent:li")
    assert closed.status is WorkOrderStatus.CLOSED and not closed.overdue
    assert closed.responsible_unit == "西双版纳州邮区中心局"
    assert [h.action for h in closed.history] == [
        "created", "in_progress", "feedback", "callback", "responsibility", "closed"]
    assert all(h.actor == "agent:li" for h in closed.history[1:])

    with pytest.raises(wo.WorkOrderError, match="已结案"):
        wo.record_callback(uows, rules, number, t + timedelta(hours=7), "agent:li", True)
    reopened = wo.reopen_work_order(uows, rules, number, t + timedelta(days=2), "agent:wang",
                                    "客户来电说赔付还没到账")
    assert reopened.status is WorkOrderStatus.REOPENED
    assert reopened.deadline == t + timedelta(days=2, hours=24)
    assert reopened.answered_at is None and reopened.closed_at is None


def test_invalid_transitions_and_unknown_numbers_are_refused(uows: UowFactory,
                                                             rules: DeadlinePolicy) -> None:
    number = wo.open_work_order(uows, rules, damaged(), NOW).order.number
    with pytest.raises(wo.WorkOrderError):
        wo.record_callback(uows, rules, number, NOW, "agent:li", satisfied=False)
    with pytest.raises(wo.WorkOrderError):
        wo.reopen_work_order(uows, rules, number, NOW, "agent:li", "")
    with pytest.raises(wo.WorkOrderError):
        wo.record_feedback(uows, rules, number, NOW, "agent:li", "   ")
    with pytest.raises(wo.WorkOrderNotFound):
        wo.get_work_order(uows, rules, "GD20990101-99999", NOW)
    # Nothing of the refused requests reached the history.
    assert [h.action for h in wo.get_work_order(uows, rules, number, NOW).history] == ["created"]


def test_overdue_is_computed_when_read(uows: UowFactory, rules: DeadlinePolicy) -> None:
    number = wo.open_work_order(uows, rules, damaged(), NOW).order.number
    early = wo.get_work_order(uows, rules, number, NOW + timedelta(hours=20))
    assert not early.overdue and early.remaining == timedelta(hours=4)
    late = wo.get_work_order(uows, rules, number, NOW + timedelta(hours=26))
    assert late.overdue and late.remaining == timedelta(hours=-2)
    wo.record_feedback(uows, rules, number, NOW + timedelta(hours=27), "agent:li", "已答复")
    assert not wo.get_work_order(uows, rules, number, NOW + timedelta(hours=30)).overdue
    listed = wo.list_work_orders(uows, rules, NOW + timedelta(hours=26))
    assert listed[0].number == number


def test_overdue_orders_are_listed_first(uows: UowFactory, rules: DeadlinePolicy) -> None:
    wechat = wo.open_work_order(uows, rules, damaged(), NOW).order.number
    spb = wo.open_work_order(uows, rules, damaged(channel=Channel.SPB_TRANSFER,
                                                  category=Category.LOST), NOW).order.number
    # Seven hours later the State Post Bureau transfer (6 clock hours) is overdue.
    listed = [v.number for v in wo.list_work_orders(uows, rules, NOW + timedelta(hours=7))]
    assert listed == [spb, wechat]


def test_history_is_append_only(uows: UowFactory, rules: DeadlinePolicy) -> None:
    wo.open_work_order(uows, rules, damaged(), NOW)
    with uows() as uow:
        line = uow.session.execute(select(WorkOrderEvent)).scalars().first()
        line.detail = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            uow.commit()


def test_find_by_phone_and_mail(uows: UowFactory, rules: DeadlinePolicy) -> None:
    wo.open_work_order(uows, rules, damaged(), NOW)
    wo.open_work_order(uows, rules, damaged(mail_number="1151238971060", category=Category.LOST),
                       NOW + timedelta(minutes=1))
    wo.open_work_order(uows, rules, damaged(mail_number="9812345678901",
                                            customer_phone="13900001111", sender_id="wx-2"), NOW)
    by_phone = wo.find_work_orders(uows, rules, NOW, phone="13812345678")
    assert [o.mail_number for o in by_phone] == ["1151238971060", "EA000000005CN"]
    assert [o.mail_number for o in wo.find_work_orders(uows, rules, NOW,
                                                       mail_number="ea 0000 0000 5cn")] == [
        "EA000000005CN"]
    assert wo.find_work_orders(uows, rules, NOW) == []


def test_priority_only_rises(uows: UowFactory, rules: DeadlinePolicy) -> None:
    number = wo.open_work_order(uows, rules, damaged(), NOW).order.number
    high = wo.raise_priority(uows, rules, number, NOW, "bot", Priority.URGENT, "客户要求升级")
    assert high.priority is Priority.URGENT
    same = wo.raise_priority(uows, rules, number, NOW, "bot", Priority.HIGH, "再次催促")
    assert same.priority is Priority.URGENT


def test_pickup_reminders_escalate_at_three_and_four(uows: UowFactory,
                                                     rules: DeadlinePolicy) -> None:
    pickup, created = wo.book_pickup(uows, channel="wechat", address="蒙自市天马路18号",
                                     phone="13812345678", time_window="明天上午",
                                     now=NOW, sender_id="wx-9")
    assert created and pickup.number.startswith("LS") and pickup.phone_masked == "138****5678"
    again, created_again = wo.book_pickup(uows, channel="wechat", address="蒙自市天马路18号",
                                          phone="13812345678", time_window="明天上午",
                                          now=NOW, sender_id="wx-9")
    assert not created_again and again.number == pickup.number

    def chase(turn: str) -> wo.Reminder:
        return wo.remind_pickup(uows, rules, turn_key=turn, now=NOW, sender_id="wx-9")

    first = chase("t1")
    assert first.count == 1 and first.counted and first.escalation is None
    retry = chase("t1")  # the same customer turn again (e.g. an action retried)
    assert retry.count == 1 and not retry.counted
    assert chase("t2").escalation is None
    third = chase("t3")
    assert third.count == 3 and third.escalated_now == "opened"
    assert third.escalation is not None
    assert third.escalation.priority is Priority.HIGH
    assert third.escalation.category is Category.PICKUP_SERVICE
    assert pickup.number in third.escalation.description
    fourth = chase("t4")
    assert fourth.escalated_now == "raised" and fourth.escalation.priority is Priority.URGENT
    assert fourth.escalation.number == third.escalation.number
    fifth = chase("t5")
    assert fifth.count == 5 and fifth.escalated_now is None
    assert fifth.escalation.priority is Priority.URGENT
    assert [h.action for h in fifth.escalation.history] == [
        "created", "priority", "reminder"]


def test_chasing_without_a_booking_counts_nothing(uows: UowFactory, rules: DeadlinePolicy) -> None:
    outcome = wo.remind_pickup(uows, rules, turn_key="t1", now=NOW, sender_id="nobody")
    assert outcome.pickup is None and outcome.count == 0 and not outcome.counted


def test_concurrent_creations_give_one_order(engine: Engine, uows: UowFactory,
                                             rules: DeadlinePolicy,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("concurrent writers need a server database")
    # Both workers look for an open order before either inserts: the real race.
    barrier = threading.Barrier(2, timeout=10)
    waited: set[str] = set()
    original = WorkOrderRepository.open_for_mail

    def racing_lookup(self: WorkOrderRepository, mail_number: str, category: str):  # type: ignore[no-untyped-def]
        found = original(self, mail_number, category)
        name = threading.current_thread().name
        if name.startswith("racer") and name not in waited:
            waited.add(name)
            barrier.wait()
        return found

    monkeypatch.setattr(WorkOrderRepository, "open_for_mail", racing_lookup)
    results: list[wo.Opened] = []
    errors: list[BaseException] = []

    def racer(k: int) -> None:
        try:
            results.append(wo.open_work_order(
                uows, rules, damaged(description=f"第{k}个窗口"), NOW))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=racer, args=(k,), name=f"racer-{k}") for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(r.created for r in results) == [False, True]
    orders = wo.find_work_orders(uows, rules, NOW, mail_number="EA000000005CN")
    assert len(orders) == 1 and orders[0].contacts == 2
    assert [h.action for h in orders[0].history] == ["created", "linked"]


def test_drafts_for_a_damaged_parcel_name_mail_damage_and_unit(uows: UowFactory, seeded,
                                                               now: datetime,
                                                               rules: DeadlinePolicy) -> None:
    # What the bot opens for "EA000000005CN 包裹破了我要投诉" (seeded: in transit, last at
    # 西双版纳州邮区中心局).
    number = wo.open_work_order(uows, rules, damaged(description="EA000000005CN 包裹破了我要投诉，"
                                                                 "电话13812345678"), now).order.number
    followup = draft_for_order(uows, rules, number, now + timedelta(hours=1))
    assert followup.order.county == "景洪市"  # filed under the mail's destination
    assert followup.suggestion.unit == "西双版纳州邮区中心局"
    texts = (followup.drafts.feedback, followup.drafts.callback_script,
             followup.drafts.responsibility_note)
    for text in texts[:2]:
        assert "EA000000005CN" in text
        assert "破损" in text or "损毁" in text
        assert "西双版纳州邮区中心局" in text
    assert all("13812345678" not in t for t in texts)
    assert "5678" in followup.drafts.callback_script
    with pytest.raises(wo.WorkOrderNotFound):
        draft_for_order(uows, rules, "GD00000000-00000", now)


def test_drafts_for_an_order_without_mail(uows: UowFactory, now: datetime,
                                          rules: DeadlinePolicy) -> None:
    number = wo.open_work_order(uows, rules, damaged(mail_number=None, category=Category.ATTITUDE,
                                                     description="营业厅的人爱理不理"), now).order.number
    followup = draft_for_order(uows, rules, number, now)
    assert followup.suggestion.role == "unknown"
    assert number in followup.drafts.feedback


def test_a_linked_import_row_is_not_linked_again(uows: UowFactory, rules: DeadlinePolicy) -> None:
    first = damaged(channel=Channel.GOV_12345, external_id="A-1", sender_id=None)
    second = damaged(channel=Channel.GOV_12345, external_id="A-2", sender_id=None,
                     description="同一件又来投诉")
    opened = wo.open_work_order(uows, rules, first, NOW, actor="import:12345")
    linked = wo.open_work_order(uows, rules, second, NOW, actor="import:12345")
    assert opened.created and not linked.created and linked.order.contacts == 2
    for request in (first, second):  # the same export imported again
        again = wo.open_work_order(uows, rules, request, NOW, actor="import:12345")
        assert again.duplicate_import and again.order.number == opened.order.number
    assert wo.get_work_order(uows, rules, opened.order.number, NOW).contacts == 2
