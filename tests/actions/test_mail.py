"""Mail query actions with a real CollectingDispatcher, real trackers, the real domain and SQLite."""
from __future__ import annotations

from datetime import datetime

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.mail import ActionChaseMail, ActionQueryMail, ValidateMailQueryForm
from bot.store import services
from bot.store import workorders as wo
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail
from bot.store.status import Category
from bot.store.uow import uow_factory
from tests.actions.conftest import NOW, make_tracker, run, slots_of


@pytest.mark.asyncio
async def test_in_transit_mail_answers_with_status_and_events(uows, domain):
    tracker = make_tracker("EA000000005CN到哪了", slots={"tracking_number": "EA000000005CN"})
    messages, events = await run(ActionQueryMail(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_mail_status"]
    assert messages[0]["number"] == "EA000000005CN"
    assert messages[0]["status"] == "运输中"
    assert "西双版纳" in messages[0]["events"]
    assert slots_of(events) == {
        "tracking_number": None, "tracking_attempts": 0.0,
        "last_tracking_number": "EA000000005CN", "mail_state": "normal",
    }


@pytest.mark.asyncio
async def test_stuck_mail_offers_a_chase(uows, domain):
    tracker = make_tracker("我的件一直不动", intent="delivery_delay",
                           slots={"tracking_number": "EA000000014CN"})
    messages, events = await run(ActionQueryMail(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_mail_stuck"]
    assert messages[0]["days"] >= 4
    assert slots_of(events)["mail_state"] == "problem"


@pytest.mark.asyncio
async def test_delivered_but_not_received_offers_to_check_and_masks_the_signer(uows, domain):
    tracker = make_tracker("EA305127681CN", intent="inform",
                           slots={"tracking_number": "EA305127681CN"},
                           earlier_intents=("not_received",))
    messages, events = await run(ActionQueryMail(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_mail_delivered"]
    assert messages[0]["signer"] == "陈**"
    assert slots_of(events)["mail_state"] == "problem"


@pytest.mark.asyncio
async def test_delivered_mail_on_a_plain_query_is_normal(uows, domain):
    tracker = make_tracker("查一下1151238971060", slots={"tracking_number": "1151238971060"})
    _, events = await run(ActionQueryMail(), tracker, domain)
    assert slots_of(events)["mail_state"] == "normal"


@pytest.mark.asyncio
@pytest.mark.parametrize("number,response", [
    ("9812345678901", "utter_mail_at_station"),
    ("RR123456785CN", "utter_mail_returned"),
])
async def test_station_and_returned_mail(uows, domain, number, response):
    tracker = make_tracker(number, slots={"tracking_number": number})
    messages, _ = await run(ActionQueryMail(), tracker, domain)
    assert [m["response"] for m in messages] == [response]


@pytest.mark.asyncio
async def test_unknown_number_gets_a_clear_answer(uows, domain):
    tracker = make_tracker("EA123456785CN", slots={"tracking_number": "EA123456785CN"})
    messages, events = await run(ActionQueryMail(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_mail_not_found"]
    assert slots_of(events)["mail_state"] == "unknown"


@pytest.mark.asyncio
async def test_database_down_gets_a_reply_and_a_log_line(domain, caplog):
    engine = make_engine("sqlite:////nonexistent-dir/postdesk.db")
    deps.override(uow_factory(make_session_factory(engine)))
    try:
        tracker = make_tracker("EA000000005CN", slots={"tracking_number": "EA000000005CN"})
        messages, events = await run(ActionQueryMail(), tracker, domain)
    finally:
        deps.override()
    assert [m["response"] for m in messages] == ["utter_mail_lookup_failed"]
    assert "mail lookup failed" in caplog.text


@pytest.mark.asyncio
async def test_valid_number_is_accepted(domain):
    tracker = make_tracker("EA000000005CN", intent="inform", active_loop="mail_query_form")
    dispatcher = CollectingDispatcher()
    result = await ValidateMailQueryForm().validate_tracking_number(
        "ea000000005cn", dispatcher, tracker, domain)
    assert result == {"tracking_number": "EA000000005CN", "tracking_attempts": 0.0}
    assert dispatcher.messages == []


@pytest.mark.asyncio
async def test_mistyped_number_is_asked_again_twice_then_accepted(domain):
    validator = ValidateMailQueryForm()
    attempts = 0.0
    replies = []
    for _ in range(3):
        tracker = make_tracker("RR123456789CN", intent="inform", active_loop="mail_query_form",
                               slots={"tracking_attempts": attempts})
        dispatcher = CollectingDispatcher()
        result = await validator.validate_tracking_number(
            "RR123456789CN", dispatcher, tracker, domain)
        replies.append([m["response"] for m in dispatcher.messages])
        attempts = result.get("tracking_attempts", attempts)
        if result["tracking_number"]:
            break
    assert replies == [["utter_tracking_mistyped"], ["utter_tracking_mistyped"],
                       ["utter_tracking_gave_up"]]
    assert result["tracking_number"] == "RR123456789CN"


@pytest.mark.asyncio
async def test_form_run_validates_the_number_from_the_message(domain):
    tracker = make_tracker("RR123456789CN到哪了", active_loop="mail_query_form",
                           slots={"tracking_number": "RR123456789CN",
                                  "requested_slot": "tracking_number"},
                           slots_from_message=("tracking_number",))
    dispatcher = CollectingDispatcher()
    events = await ValidateMailQueryForm().run(dispatcher, tracker, domain)
    assert slots_of(events)["tracking_number"] is None
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking_mistyped"]


@pytest.mark.asyncio
async def test_chase_is_recorded_once(uows, domain):
    tracker = make_tracker("好的", intent="affirm",
                           slots={"last_tracking_number": "EA000000014CN", "mail_state": "problem"})
    first, events = await run(ActionChaseMail(), tracker, domain)
    second, _ = await run(ActionChaseMail(), tracker, domain)
    assert [m["response"] for m in first + second] == ["utter_chase_recorded", "utter_chase_already"]
    assert first[0]["order"] == second[0]["order"] == slots_of(events)["last_work_order"]
    assert first[0]["deadline"] == "11月26日 10:00"  # WeChat orders: 24 hours
    orders = wo.find_work_orders(uows, deps.deadline_rules(), NOW, mail_number="EA000000014CN")
    assert [(o.category, o.contacts, o.sender_id) for o in orders] == [
        (Category.DELAY, 2, "customer-1")]
    assert services.list_waiting_handovers(uows) == []


@pytest.mark.asyncio
async def test_a_signed_but_missing_mail_is_chased_as_a_delivery_complaint(uows, domain):
    tracker = make_tracker("好的", intent="affirm", earlier_intents=("not_received",),
                           slots={"last_tracking_number": "EA305127681CN", "mail_state": "problem"})
    messages, _ = await run(ActionChaseMail(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_chase_recorded"]
    order = wo.get_work_order(uows, deps.deadline_rules(), messages[0]["order"], NOW)
    assert order.category is Category.DELIVERY_SERVICE and order.mail_number == "EA305127681CN"


@pytest.mark.asyncio
@pytest.mark.parametrize("state,intent,response,queued", [
    ("unknown", "affirm", "utter_handover_created", "request_human"),
    ("normal", "affirm", "utter_anything_else", None),
    ("normal", "thank", "utter_you_are_welcome", None),
])
async def test_a_yes_does_what_the_answer_offered(uows, domain, state, intent, response, queued):
    tracker = make_tracker("好的", intent=intent,
                           slots={"last_tracking_number": "EA000000005CN", "mail_state": state})
    messages, events = await run(ActionChaseMail(), tracker, domain)
    assert [m["response"] for m in messages] == [response]
    assert slots_of(events) == {"mail_state": None}
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_listen"]
    assert [w.reason for w in services.list_waiting_handovers(uows)] == ([queued] if queued else [])


@pytest.mark.asyncio
async def test_dates_are_shown_in_the_one_customer_format(domain):
    """'3月4日 08:00' and '3月4日', never '03月04日': the format of bot.text.dates."""
    early = datetime(2026, 3, 5, 10, 0)
    engine = make_engine("sqlite://")
    create_schema(engine)
    factory = uow_factory(make_session_factory(engine))
    seed_demo_mail(factory, early)
    deps.override(factory, clock=lambda: early, stuck=48)
    try:
        delivered, _ = await run(ActionQueryMail(), make_tracker(
            "EA305127681CN", slots={"tracking_number": "EA305127681CN"}), domain)
        overdue, _ = await run(ActionQueryMail(), make_tracker(
            "9834216570482", slots={"tracking_number": "9834216570482"}), domain)
    finally:
        deps.override()
        engine.dispose()
    assert [m["response"] for m in delivered + overdue] == ["utter_mail_delivered",
                                                            "utter_mail_overdue"]
    assert delivered[0]["when"] == "3月4日 08:00"
    assert overdue[0]["promised"] == "3月4日"
    # The trail lines carry the same format.
    assert delivered[0]["events"].splitlines()[0].startswith("· 3月4日 08:00 ")
    assert "-0" not in delivered[0]["events"] and "03月" not in delivered[0]["events"]
