"""The agents' desk in the store: claim, transfer, release, hand back, replies and the outbox.

Every test runs on SQLite and on a real PostgreSQL server (fixtures of tests/store).
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.store import desk, services
from bot.store.accounts import Role
from bot.store.uow import UowFactory
from tests.workbench.support import DESK_NOW as NOW
from tests.workbench.support import insert_accounts


@pytest.fixture
def queued(uows: UowFactory) -> int:
    """A waiting hand-over of sender wx-1; agents agent1, agent2, a trainer, an inactive agent."""
    insert_accounts(uows, ("agent1", Role.AGENT, True), ("agent2", Role.AGENT, True),
                    ("trainer1", Role.TRAINER, True), ("gone", Role.AGENT, False))
    ticket = services.record_handover(uows, "wx-1", "wechat", "request_human", "转人工", None, NOW)
    return ticket.id


def test_edit_distance_counts_characters() -> None:
    assert desk.edit_distance("您好", "您好") == 0
    assert desk.edit_distance("", "您好") == 2
    assert desk.edit_distance("明天送到", "后天送到") == 1
    assert desk.edit_distance("已登记工单", "已经登记了工单") == 2
    assert desk.edit_distance("abc", "") == 3


def test_claim_takes_a_waiting_conversation_once(uows: UowFactory, queued: int) -> None:
    view = desk.claim(uows, queued, "agent1", NOW)
    assert (view.status, view.assigned_to, view.claimed_at) == ("taken", "agent1", NOW)
    assert desk.claim(uows, queued, "agent1", NOW + timedelta(minutes=1)).claimed_at == NOW
    with pytest.raises(desk.DeskError, match="agent1"):
        desk.claim(uows, queued, "agent2", NOW)
    assert [e.action for e in desk.handover_events(uows, queued)] == ["claimed"]


def test_two_agents_claiming_at_once_one_wins(engine: Engine, uows: UowFactory,
                                              queued: int) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("in-memory SQLite shares one connection: concurrency is tested on PostgreSQL")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def attempt(agent: str) -> None:
        barrier.wait()
        try:
            results[agent] = desk.claim(uows, queued, agent, NOW).assigned_to
        except desk.DeskError as exc:
            results[agent] = exc

    threads = [threading.Thread(target=attempt, args=(a,)) for a in ("agent1", "agent2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [a for a, r in results.items() if r == a]
    assert len(winners) == 1, results
    assert len(desk.handover_events(uows, queued)) == 1


def test_transfer_goes_only_to_an_active_agent(uows: UowFactory, queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    for target in ("trainer1", "gone", "nobody", "agent1", " "):
        with pytest.raises(desk.DeskError):
            desk.transfer(uows, queued, "agent1", target, NOW)
    with pytest.raises(desk.DeskError, match="agent1"):
        desk.transfer(uows, queued, "agent2", "agent2", NOW)  # not held by agent2
    view = desk.transfer(uows, queued, "agent1", "Agent2", NOW)
    assert view.assigned_to == "agent2"
    events = desk.handover_events(uows, queued)
    assert (events[-1].action, events[-1].detail) == ("transferred", "agent1 → agent2")


def test_a_supervisor_may_move_a_conversation_held_by_someone_else(uows: UowFactory,
                                                                   queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    assert desk.transfer(uows, queued, "super1", "agent2", NOW, supervisor=True).assigned_to == "agent2"
    assert desk.hand_back(uows, queued, "super1", NOW, supervisor=True).status == "closed"


def test_release_puts_it_back_and_hand_back_closes_it(uows: UowFactory, queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    view = desk.release(uows, queued, "agent1", NOW)
    assert (view.status, view.assigned_to) == ("waiting", None)
    with pytest.raises(desk.DeskError):
        desk.hand_back(uows, queued, "agent1", NOW)  # nobody holds it now
    desk.claim(uows, queued, "agent2", NOW)
    closed = desk.hand_back(uows, queued, "agent2", NOW + timedelta(minutes=5))
    assert (closed.status, closed.closed_at) == ("closed", NOW + timedelta(minutes=5))
    assert desk.open_queue(uows) == []
    with pytest.raises(desk.DeskError, match="交还"):
        desk.claim(uows, queued, "agent1", NOW)
    # A new request of the same customer is a new hand-over.
    again = services.record_handover(uows, "wx-1", "wechat", "request_human", "又来了", None, NOW)
    assert again.created and again.id != queued


def test_queue_lists_waiting_first_then_taken(uows: UowFactory, queued: int) -> None:
    second = services.record_handover(uows, "wx-2", "rest", "fallback", "？？", None,
                                      NOW + timedelta(minutes=1)).id
    third = services.record_handover(uows, "wx-3", "rest", "escalate_complaint", "投诉升级",
                                     None, NOW + timedelta(minutes=2)).id
    desk.claim(uows, queued, "agent1", NOW)
    views = desk.open_queue(uows)
    assert [v.id for v in views] == [second, third, queued]
    assert [v.reason_label for v in views] == ["机器人多次没听懂", "投诉升级", "客户要求人工"]


def test_a_reply_records_the_decision_and_how_much_was_edited(uows: UowFactory,
                                                              queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    accepted, created = desk.record_reply(
        uows, request_key="k1", handover_id=queued, agent="agent1", suggestion_kind="greeting",
        suggested_text="您好，我是人工客服", final_text="您好，我是人工客服", now=NOW)
    assert created and (accepted.decision, accepted.edit_distance) == ("accepted", 0)
    assert accepted.delivery == "pending"
    edited, _ = desk.record_reply(
        uows, request_key="k2", handover_id=queued, agent="agent1", suggestion_kind="status",
        suggested_text="明天送到", final_text="  后天上午送到 ", now=NOW)
    assert (edited.decision, edited.edit_distance, edited.final_text) == ("edited", 3, "后天上午送到")
    rejected, _ = desk.record_reply(
        uows, request_key="k3", handover_id=queued, agent="agent1", suggestion_kind="ask_info",
        suggested_text="请发单号", final_text=None, now=NOW)
    assert (rejected.decision, rejected.delivery, rejected.final_text) == ("rejected", "none", None)
    written, _ = desk.record_reply(
        uows, request_key="k4", handover_id=queued, agent="agent1", suggestion_kind=None,
        suggested_text=None, final_text="我自己写的", now=NOW)
    assert written.decision == "written"
    assert [r.request_key for r in desk.replies_for(uows, queued)] == ["k1", "k2", "k3", "k4"]


def test_the_same_request_key_is_recorded_once(uows: UowFactory, queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    first, created = desk.record_reply(uows, request_key="same", handover_id=queued,
                                       agent="agent1", suggestion_kind=None, suggested_text=None,
                                       final_text="一次", now=NOW)
    again, created_again = desk.record_reply(uows, request_key="same", handover_id=queued,
                                             agent="agent1", suggestion_kind=None,
                                             suggested_text=None, final_text="一次", now=NOW)
    assert created and not created_again and again.id == first.id
    assert len(desk.replies_for(uows, queued)) == 1


@pytest.mark.parametrize("final, message", [("   ", "不能为空"), ("长" * 2001, "太长")])
def test_empty_or_too_long_replies_are_refused(uows: UowFactory, queued: int, final: str,
                                               message: str) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    with pytest.raises(desk.DeskError, match=message):
        desk.record_reply(uows, request_key="k", handover_id=queued, agent="agent1",
                          suggestion_kind=None, suggested_text=None, final_text=final, now=NOW)
    assert desk.replies_for(uows, queued) == []


def test_only_the_holder_may_reply(uows: UowFactory, queued: int) -> None:
    with pytest.raises(desk.DeskError):  # nobody holds it yet
        desk.record_reply(uows, request_key="k", handover_id=queued, agent="agent1",
                          suggestion_kind=None, suggested_text=None, final_text="你好", now=NOW)
    desk.claim(uows, queued, "agent1", NOW)
    with pytest.raises(desk.DeskError, match="agent1"):
        desk.record_reply(uows, request_key="k", handover_id=queued, agent="agent2",
                          suggestion_kind=None, suggested_text=None, final_text="你好", now=NOW)
    assert desk.replies_for(uows, queued) == []


def test_the_outbox_hands_each_reply_out_once(uows: UowFactory) -> None:
    insert_accounts(uows, ("agent1", Role.AGENT, True))
    handover = services.record_handover(uows, "web-7", "rest", "request_human", "人工", None, NOW).id
    desk.claim(uows, handover, "agent1", NOW)
    for key, text in [("a", "第一条"), ("b", "第二条")]:
        desk.record_reply(uows, request_key=key, handover_id=handover, agent="agent1",
                          suggestion_kind=None, suggested_text=None, final_text=text, now=NOW)
    taken = desk.take_outbox(uows, "web-7", "rest", NOW + timedelta(seconds=3))
    assert [r.final_text for r in taken] == ["第一条", "第二条"]
    assert desk.take_outbox(uows, "web-7", "rest", NOW) == []
    assert {(r.delivery, r.delivered_at) for r in desk.replies_for(uows, handover)} == {
        ("sent", NOW + timedelta(seconds=3))}
    assert desk.take_outbox(uows, "someone-else", "rest", NOW) == []


def test_mark_delivery_and_customer_messages_while_held(uows: UowFactory, queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    reply, _ = desk.record_reply(uows, request_key="k", handover_id=queued, agent="agent1",
                                 suggestion_kind=None, suggested_text=None, final_text="在的",
                                 now=NOW)
    failed = desk.mark_delivery(uows, reply.id, False, "45015", NOW)
    assert (failed.delivery, failed.delivery_error, failed.delivered_at) == ("failed", "45015", None)
    sent = desk.mark_delivery(uows, reply.id, True, "", NOW)
    assert (sent.delivery, sent.delivered_at) == ("sent", NOW)
    later = NOW + timedelta(minutes=2)
    assert desk.note_customer_message(uows, "wx-1", "还在吗", later)
    view = desk.get_handover(uows, queued)
    assert view is not None and (view.last_message, view.updated_at) == ("还在吗", later)
    assert not desk.note_customer_message(uows, "wx-unknown", "你好", later)


def test_history_rows_are_never_changed(uows: UowFactory, queued: int) -> None:
    desk.claim(uows, queued, "agent1", NOW)
    with uows() as uow:
        event = uow.session.execute(select(desk.HandoverEvent)).scalars().one()
        event.detail = "changed"
        with pytest.raises(RuntimeError, match="never changed"):
            uow.commit()


def test_customer_messages_are_counted_per_sender_channel_and_day(uows: UowFactory) -> None:
    for at, sender, channel in [(NOW, "wx-1", "wechat"), (NOW, "wx-1", "wechat"),
                                (NOW, "wx-1", "rest"), (NOW + timedelta(days=1), "wx-1", "wechat"),
                                (NOW, "wx-2", "wechat")]:
        desk.count_conversation(uows, sender, channel, at)
    with uows() as uow:
        rows = uow.session.execute(
            select(desk.ConversationDay.sender_id, desk.ConversationDay.channel,
                   desk.ConversationDay.day, desk.ConversationDay.messages)
            .order_by(desk.ConversationDay.day, desk.ConversationDay.sender_id,
                      desk.ConversationDay.channel)).all()
    today, tomorrow = NOW.date(), (NOW + timedelta(days=1)).date()
    assert [tuple(r) for r in rows] == [("wx-1", "rest", today, 1), ("wx-1", "wechat", today, 2),
                                        ("wx-2", "wechat", today, 1),
                                        ("wx-1", "wechat", tomorrow, 1)]
