"""The call desk's store services on SQLite and PostgreSQL: calls, lines, decisions, orders."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.store import calls
from bot.store import workorders as wo
from bot.store.seed import SeedResult
from bot.store.status import Category, Channel
from bot.store.uow import UowFactory
from bot.workorders.policy import load_policy

PHONE = "138 1234 5678"


def test_a_call_keeps_what_the_caller_said_with_its_reading(uows: UowFactory,
                                                           now: datetime) -> None:
    call = calls.start_call(uows, PHONE, "11183", "agent1", now)
    assert (call.phone, call.line, call.agent, call.is_open) == ("13812345678", "11183",
                                                                  "agent1", True)
    reading = calls.Reading("damaged_item", 0.93,
                            ({"entity": "tracking_number", "value": "EA000000005CN"},))
    calls.add_line(uows, call.id, "agent1", "  EA000000005CN 包裹破了 ", reading,
                   now + timedelta(seconds=5))
    calls.add_line(uows, call.id, "agent1", "什么时候赔", None, now + timedelta(seconds=9))
    stored = calls.get_call(uows, call.id)
    assert [(x.text, x.intent, x.confidence) for x in stored.lines] == [
        ("EA000000005CN 包裹破了", "damaged_item", 0.93), ("什么时候赔", None, None)]
    assert stored.lines[0].entities == ({"entity": "tracking_number", "value": "EA000000005CN"},)


def test_only_the_agent_who_took_the_call_adds_to_it_and_not_after_it_ended(
        uows: UowFactory, now: datetime) -> None:
    call = calls.start_call(uows, PHONE, "11185", "agent1", now)
    with pytest.raises(calls.CallForbidden):
        calls.add_line(uows, call.id, "agent2", "你好", None, now)
    with pytest.raises(calls.CallError, match="最多"):
        calls.add_line(uows, call.id, "agent1", "长" * (calls.MAX_LINE_CHARS + 1), None, now)
    ended = calls.end_call(uows, call.id, "agent1", now + timedelta(minutes=3))
    assert ended.ended_at == now + timedelta(minutes=3)
    assert calls.end_call(uows, call.id, "agent1", now + timedelta(hours=1)).ended_at == \
        ended.ended_at
    with pytest.raises(calls.CallError, match="已结束"):
        calls.add_line(uows, call.id, "agent1", "还有一件事", None, now)
    assert calls.get_call(uows, call.id).lines == ()


@pytest.mark.parametrize("phone, line", [("12345", "11183"), ("138123456789", "11183"),
                                         (PHONE, "12345")])
def test_a_call_needs_a_phone_number_and_a_known_line(uows: UowFactory, now: datetime,
                                                     phone: str, line: str) -> None:
    with pytest.raises(calls.CallError):
        calls.start_call(uows, phone, line, "agent1", now)


def test_decisions_are_recorded_like_chat_replies_once_per_request_key(
        uows: UowFactory, now: datetime) -> None:
    call = calls.start_call(uows, PHONE, "11183", "agent1", now)
    common: dict[str, Any] = dict(call_id=call.id, agent="agent1", suggestion_kind="status",
                                  suggested_text="您好，邮件在途。", now=now)
    edited, created = calls.record_call_reply(uows, request_key="k1",
                                              final_text="您好，邮件正在途中。", **common)
    assert created and (edited.decision, edited.edit_distance) == ("edited", 2)
    again, created = calls.record_call_reply(uows, request_key="k1", final_text="别的", **common)
    assert not created and again.id == edited.id and again.final_text == "您好，邮件正在途中。"
    accepted, _ = calls.record_call_reply(uows, request_key="k2", final_text="您好，邮件在途。",
                                          **common)
    rejected, _ = calls.record_call_reply(uows, request_key="k3", final_text=None, **common)
    assert (accepted.decision, accepted.edit_distance) == ("accepted", 0)
    assert (rejected.decision, rejected.edit_distance) == ("rejected", None)
    with pytest.raises(calls.CallForbidden):
        calls.record_call_reply(uows, request_key="k4", final_text="x",
                                **{**common, "agent": "agent2"})
    assert [r.request_key for r in calls.get_call(uows, call.id).replies] == ["k1", "k2", "k3"]


def test_an_order_opened_from_a_call_names_it_in_its_history(
        uows: UowFactory, now: datetime, seeded: SeedResult) -> None:
    rules = load_policy()
    call = calls.start_call(uows, PHONE, "11183", "agent1", now)
    request = wo.NewWorkOrder(channel=Channel.HOTLINE_11183, category=Category.DAMAGED,
                              description="包裹破了", mail_number="EA000000005CN",
                              customer_phone=call.phone)
    opened = wo.open_work_order(uows, rules, request, now, actor="agent1")
    calls.link_work_order(uows, call.id, opened.order.number, "agent1", now, opened.created)
    calls.link_work_order(uows, call.id, opened.order.number, "agent1", now, opened.created)
    assert calls.get_call(uows, call.id).order_numbers == (opened.order.number,)
    history = wo.get_work_order(uows, rules, opened.order.number, now).history
    assert [(h.actor, h.action) for h in history] == [("agent1", "created"), ("agent1", "call")]
    assert f"来电记录 #{call.id}（11183" in history[1].detail
    # The caller's next call finds the first one by phone.
    second = calls.start_call(uows, "13812345678", "11185", "agent2", now + timedelta(days=1))
    earlier = calls.calls_for_phone(uows, PHONE, exclude=second.id)
    assert [(c.id, c.order_numbers) for c in earlier] == [(call.id, (opened.order.number,))]
    with pytest.raises(calls.CallForbidden):
        calls.link_work_order(uows, call.id, opened.order.number, "agent2", now, False)
