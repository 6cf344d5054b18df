"""Suggested replies: built from the bot's reading, the customer's mail and work orders."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Iterator

import pytest

from bot.store import services
from bot.store import workorders as wo
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import DELIVERED_TO_GATEKEEPER, seed_demo_mail, seed_demo_work_orders
from bot.store.uow import UowFactory, uow_factory
from bot.workbench.suggest import LatestMessage, suggest
from bot.workorders.followup import draft_for_order
from bot.workorders.policy import load_policy

NOW = datetime(2025, 6, 10, 10, 0)  # a Tuesday morning
RULES = load_policy()


@pytest.fixture(scope="module")
def store() -> Iterator[UowFactory]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    seed_demo_mail(uows, NOW)
    seed_demo_work_orders(uows, RULES, NOW)
    yield uows
    engine.dispose()


def said(text: str, intent: str) -> LatestMessage:
    return LatestMessage(text=text, intent=intent, confidence=0.9)


def test_a_status_question_gets_the_greeting_and_the_mail_status(store: UowFactory) -> None:
    mail = services.lookup_mail(store, "EA000000005CN", NOW)
    drafts = suggest(said("EA000000005CN到哪了", "track_mail"), mail, [], None, "小李", greeted=False)
    assert [d.kind for d in drafts] == ["greeting", "status"]
    assert "人工客服小李" in drafts[0].text
    assert "EA000000005CN" in drafts[1].text and "运输中" in drafts[1].text
    # One date format for customers (bot.text.dates): "6月9日 15:20", with the space.
    assert re.search(r"最新记录：\d{1,2}月\d{1,2}日 \d{2}:\d{2} ", drafts[1].text), drafts[1].text


def test_a_stuck_mail_with_an_open_order_gets_the_order_draft_too(store: UowFactory) -> None:
    mail = services.lookup_mail(store, "EA000000014CN", NOW)
    assert mail is not None and mail.is_stuck
    orders = wo.find_work_orders(store, RULES, NOW, mail_number="EA000000014CN")
    open_orders = [o for o in orders if o.is_open]
    assert open_orders
    followup = draft_for_order(store, RULES, open_orders[0].number, NOW).drafts.feedback
    drafts = suggest(said("怎么还不到", "delivery_delay"), mail, orders, followup, "小李", True)
    assert [d.kind for d in drafts] == ["status", "followup"]
    assert "没有新的动态" in drafts[0].text and "催查" in drafts[0].text
    assert drafts[1].text == followup and open_orders[0].number in drafts[1].label
    # A complaint puts the order first.
    drafts = suggest(said("我要投诉", "delivery_service"), mail, orders, None, "小李", True)
    assert [d.kind for d in drafts] == ["acknowledgement", "status"]
    assert open_orders[0].number in drafts[0].text
    deadline = open_orders[0].deadline
    assert f"{deadline.month}月{deadline.day}日 {deadline:%H:%M}前给您答复" in drafts[0].text


def test_with_nothing_known_the_agent_is_offered_to_ask_for_the_number() -> None:
    drafts = suggest(said("你好", "greet"), None, [], None, "小李", greeted=False)
    assert [d.kind for d in drafts] == ["greeting", "ask_info"]
    assert suggest(None, None, [], None, "小李", greeted=True)[0].kind == "ask_info"


def test_a_delivered_mail_is_answered_with_the_masked_signer(store: UowFactory) -> None:
    mail = services.lookup_mail(store, DELIVERED_TO_GATEKEEPER, NOW)
    assert mail is not None and mail.status_label == "已妥投"
    [_, status] = suggest(said("显示签收了但我没收到", "not_received"), mail, [], None, "小李", False)
    assert "妥投" in status.text and "核实" in status.text
    assert mail.signed_by_masked and mail.signed_by_masked in status.text
    assert "张建平" not in status.text
