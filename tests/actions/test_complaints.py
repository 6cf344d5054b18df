"""Complaint, progress, escalation and compensation actions on a real SQLite store."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.complaints import (
    NO_MAIL,
    ActionAskComplaintConfirmed,
    ActionComplaintProgress,
    ActionDraftFollowup,
    ActionEscalateComplaint,
    ActionExplainCompensation,
    ActionOpenClaim,
    ActionOpenComplaint,
    ValidateComplaintForm,
    ValidateProgressForm,
)
from bot.store import services
from bot.store import workorders as wo
from bot.store.db import make_engine, make_session_factory
from bot.store.status import Category, Priority
from bot.store.uow import uow_factory
from tests.actions.conftest import NOW, make_tracker, run, slots_of

DAMAGED = "EA000000005CN 包裹破了我要投诉"
NUMBER_ENTITY = {"entity": "tracking_number", "value": "EA000000005CN", "start": 0, "end": 13}
PHONE_ENTITY = {"entity": "phone_number", "value": "13812345678", "start": 0, "end": 11}


def confirmed(**slots):
    values = {"complaint_category": "damaged", "complaint_mail": "EA000000005CN",
              "contact_phone": "13812345678", "complaint_description": DAMAGED,
              "complaint_confirmed": True}
    values.update(slots)
    return values


@pytest.mark.asyncio
async def test_the_complaint_message_fills_mail_and_description(domain):
    tracker = make_tracker(DAMAGED, intent="damaged_item", entities=[NUMBER_ENTITY],
                           active_loop="complaint_form",
                           slots={"tracking_number": "EA000000005CN",
                                  "complaint_category": "damaged"},
                           slots_from_message=("tracking_number", "complaint_category"))
    messages, events = await run(ValidateComplaintForm(), tracker, domain)
    slots = slots_of(events)
    assert slots["complaint_mail"] == "EA000000005CN"
    assert slots["complaint_description"] == DAMAGED
    assert "contact_phone" not in slots or slots["contact_phone"] is None
    assert messages == []


@pytest.mark.asyncio
async def test_a_bare_complaint_says_too_little_to_be_the_description(domain):
    tracker = make_tracker("我要投诉", intent="damaged_item", active_loop="complaint_form",
                           slots={"complaint_category": "damaged"})
    _, events = await run(ValidateComplaintForm(), tracker, domain)
    assert "complaint_description" not in slots_of(events)


@pytest.mark.asyncio
async def test_no_number_is_accepted_when_asked(domain):
    tracker = make_tracker("没有单号", intent="deny", active_loop="complaint_form",
                           slots={"requested_slot": "complaint_mail",
                                  "complaint_category": "attitude"})
    _, events = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_of(events)["complaint_mail"] == NO_MAIL


@pytest.mark.asyncio
async def test_a_mistyped_number_is_pointed_out_once(domain):
    validator = ValidateComplaintForm()
    tracker = make_tracker("RR123456789CN", intent="inform", active_loop="complaint_form")
    dispatcher = CollectingDispatcher()
    first = await validator.validate_complaint_mail("RR123456789CN", dispatcher, tracker, domain)
    assert first["complaint_mail"] is None
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking_mistyped"]
    tracker = make_tracker("RR123456789CN", intent="inform", active_loop="complaint_form",
                           slots={"tracking_attempts": first["tracking_attempts"]})
    second = await validator.validate_complaint_mail("RR123456789CN", CollectingDispatcher(),
                                                     tracker, domain)
    assert second["complaint_mail"] == "RR123456789CN"


@pytest.mark.asyncio
@pytest.mark.parametrize("text, expected", [
    ("13812345678", "13812345678"),
    ("我的电话 138 1234 5678", "13812345678"),
    ("0873-3712345", "08733712345"),
])
async def test_phone_is_taken_when_asked(domain, text, expected):
    tracker = make_tracker(text, intent="inform", active_loop="complaint_form",
                           slots={"requested_slot": "contact_phone",
                                  "complaint_mail": "EA000000005CN"})
    messages, events = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_of(events)["contact_phone"] == expected
    assert messages == []


@pytest.mark.asyncio
async def test_a_wrong_phone_is_asked_again(domain):
    tracker = make_tracker("1234567", intent="inform", active_loop="complaint_form",
                           slots={"requested_slot": "contact_phone"})
    messages, events = await run(ValidateComplaintForm(), tracker, domain)
    assert slots_of(events)["contact_phone"] is None
    assert [m["response"] for m in messages] == ["utter_phone_invalid"]


@pytest.mark.asyncio
async def test_confirmation_reads_back_with_the_phone_masked(domain):
    tracker = make_tracker("", active_loop="complaint_form", slots=confirmed(
        complaint_confirmed=None, complaint_description="电话13812345678 盒子压扁了"))
    messages, _ = await run(ActionAskComplaintConfirmed(), tracker, domain)
    assert messages[0]["response"] == "utter_ask_complaint_confirmed"
    assert messages[0]["phone"] == "138****5678"
    assert messages[0]["category"] == "损毁"
    assert "13812345678" not in str(messages)


@pytest.mark.asyncio
async def test_a_confirmed_complaint_opens_one_work_order_with_a_deadline(uows, domain):
    messages, events = await run(ActionOpenComplaint(), make_tracker("对", intent="affirm",
                                                                      slots=confirmed()), domain)
    assert [m["response"] for m in messages] == ["utter_complaint_opened"]
    number = messages[0]["number"]
    assert number.startswith("GD20261125")
    assert messages[0]["deadline"] == "11月26日 10:00"  # WeChat: 24 hours
    slots = slots_of(events)
    assert slots["last_work_order"] == number
    assert slots["complaint_mail"] is None and slots["complaint_confirmed"] is None
    order = wo.get_work_order(uows, deps.deadline_rules(), number, NOW)
    assert order.category is Category.DAMAGED and order.customer_phone == "13812345678"
    assert order.sender_id == "customer-1"

    again, _ = await run(ActionOpenComplaint(), make_tracker("对", intent="affirm",
                                                             slots=confirmed()), domain)
    assert [m["response"] for m in again] == ["utter_complaint_linked"]
    assert again[0]["number"] == number


@pytest.mark.asyncio
async def test_an_unconfirmed_complaint_opens_nothing(uows, domain):
    messages, _ = await run(ActionOpenComplaint(), make_tracker(
        "不用了", intent="deny", slots=confirmed(complaint_confirmed=False)), domain)
    assert [m["response"] for m in messages] == ["utter_complaint_cancelled"]
    assert wo.find_work_orders(uows, deps.deadline_rules(), NOW, sender_id="customer-1") == []


@pytest.mark.asyncio
async def test_database_down_loses_nothing_silently(domain, caplog):
    engine = make_engine("sqlite:////nonexistent-dir/postdesk.db")
    deps.override(uow_factory(make_session_factory(engine)))
    try:
        messages, _ = await run(ActionOpenComplaint(), make_tracker(
            "对", intent="affirm", slots=confirmed()), domain)
    finally:
        deps.override()
    assert [m["response"] for m in messages] == ["utter_workorder_failed"]
    assert "complaint not recorded" in caplog.text
    assert "13812345678" not in caplog.text


@pytest.mark.asyncio
async def test_drafts_are_kept_for_the_agent_and_masked(uows, domain):
    messages, events = await run(ActionOpenComplaint(), make_tracker(
        "对", intent="affirm", slots=confirmed()), domain)
    number = slots_of(events)["last_work_order"]
    said, events = await run(ActionDraftFollowup(), make_tracker(
        "对", intent="affirm", slots={"last_work_order": number}), domain)
    assert said == []  # nothing for the customer
    draft = slots_of(events)["followup_draft"]
    assert draft["work_order"] == number
    assert draft["responsible_unit"] == "西双版纳州邮区中心局"
    for text in (draft["feedback"], draft["callback_script"]):
        assert "EA000000005CN" in text and "西双版纳州邮区中心局" in text
    assert "13812345678" not in str(draft)


@pytest.mark.asyncio
async def test_progress_lists_the_customers_orders(uows, domain):
    await run(ActionOpenComplaint(), make_tracker("对", intent="affirm", slots=confirmed()), domain)
    messages, _ = await run(ActionComplaintProgress(), make_tracker(
        "我投诉的事怎么样了", intent="complaint_progress"), domain)
    assert [m["response"] for m in messages] == ["utter_progress"]
    assert "EA000000005CN" in messages[0]["orders"] and "11月26日 10:00" in messages[0]["orders"]
    # Another conversation finds it by the phone.
    by_phone, _ = await run(ActionComplaintProgress(), make_tracker(
        "13812345678", intent="inform", entities=[PHONE_ENTITY], sender_id="someone-else"),
        domain)
    assert "EA000000005CN" in by_phone[0]["orders"]
    nothing, _ = await run(ActionComplaintProgress(), make_tracker(
        "我投诉的事呢", intent="complaint_progress", sender_id="stranger"), domain)
    assert [m["response"] for m in nothing] == ["utter_progress_none"]


@pytest.mark.asyncio
async def test_an_overdue_order_is_hurried_when_asked_about(uows, domain):
    _, events = await run(ActionOpenComplaint(), make_tracker("对", intent="affirm",
                                                              slots=confirmed()), domain)
    number = slots_of(events)["last_work_order"]
    deps.override(uows, clock=lambda: NOW + timedelta(hours=30), stuck=48)
    messages, _ = await run(ActionComplaintProgress(), make_tracker(
        "怎么还没人回复", intent="complaint_progress"), domain)
    assert "已超过答复时限" in messages[0]["orders"]
    order = wo.get_work_order(uows, deps.deadline_rules(), number, NOW + timedelta(hours=30))
    assert order.priority is Priority.HIGH


@pytest.mark.asyncio
async def test_progress_form_asks_only_without_a_known_order(uows, domain):
    form = ValidateProgressForm()
    ask = await form.required_slots(["progress_key"], CollectingDispatcher(),
                                    make_tracker("进度呢", intent="complaint_progress"), domain)
    assert ask == ["progress_key"]
    await run(ActionOpenComplaint(), make_tracker("对", intent="affirm", slots=confirmed()), domain)
    known = await form.required_slots(["progress_key"], CollectingDispatcher(),
                                      make_tracker("进度呢", intent="complaint_progress"), domain)
    assert known == []


@pytest.mark.asyncio
async def test_escalation_raises_open_orders_and_queues_for_a_supervisor(uows, domain):
    _, events = await run(ActionOpenComplaint(), make_tracker("对", intent="affirm",
                                                              slots=confirmed()), domain)
    number = slots_of(events)["last_work_order"]
    messages, _ = await run(ActionEscalateComplaint(), make_tracker(
        "再不处理我就打12305", intent="escalate_complaint"), domain)
    assert [m["response"] for m in messages] == ["utter_escalated"]
    assert messages[0]["orders"] == number
    assert wo.get_work_order(uows, deps.deadline_rules(), number, NOW).priority is Priority.URGENT
    queue = services.list_waiting_handovers(uows)
    assert [(h.sender_id, h.reason) for h in queue] == [("customer-1", "escalate_complaint")]


@pytest.mark.asyncio
async def test_escalation_without_orders_still_reaches_a_person(uows, domain):
    messages, _ = await run(ActionEscalateComplaint(), make_tracker(
        "叫你们领导来", intent="escalate_complaint", sender_id="new-customer"), domain)
    assert [m["response"] for m in messages] == ["utter_escalate_complaint",
                                                 "utter_handover_created"]


@pytest.mark.asyncio
async def test_compensation_for_a_known_mail_then_a_claim(uows, domain):
    with uows() as uow:
        mail = uow.mail.get_by_number("EA000000005CN")
        postage, insured = mail.postage, mail.insured_value
    messages, events = await run(ActionExplainCompensation(), make_tracker(
        "EA000000005CN丢了能赔多少", intent="claim_compensation", entities=[NUMBER_ENTITY]),
        domain)
    assert [m["response"] for m in messages] == ["utter_claim_for_mail"]
    if insured is None:
        assert f"{postage * 3:.2f}" in messages[0]["rule"]
    else:
        assert f"{insured:.2f}" in messages[0]["rule"]
    assert slots_of(events)["claim_mail"] == "EA000000005CN"

    claim, events = await run(ActionOpenClaim(), make_tracker(
        "要的", intent="affirm", slots={"claim_mail": "EA000000005CN"}), domain)
    assert [m["response"] for m in claim] == ["utter_claim_opened"]
    order = wo.get_work_order(uows, deps.deadline_rules(), claim[0]["number"], NOW)
    assert order.mail_number == "EA000000005CN" and order.category is Category.LOST
    assert any(e["event"] == "followup" and e["name"] == "action_listen" for e in events)


@pytest.mark.asyncio
async def test_compensation_without_a_mail_explains_the_general_rules(uows, domain):
    messages, events = await run(ActionExplainCompensation(), make_tracker(
        "丢件怎么赔", intent="claim_compensation"), domain)
    assert [m["response"] for m in messages] == ["utter_claim_compensation"]
    assert slots_of(events)["claim_mail"] is None
