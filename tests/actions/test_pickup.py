"""Pickup booking and reminder actions on a real SQLite store."""
from __future__ import annotations

import pytest

from actions import deps
from actions.pickup import ActionBookPickup, ActionCancelPickup, ActionUrgePickup, ValidatePickupForm
from bot.store import services
from bot.store import workorders as wo
from bot.store.status import Category, Priority
from tests.actions.conftest import NOW, make_tracker, run, slots_of

BOOKING = {"pickup_address": "蒙自市天马路18号邮政小区3栋", "contact_phone": "13987654321",
           "pickup_window": "明天上午"}


def chase(message_id: str, sender: str = "customer-1", text: str = "约好的取件还没来"):
    tracker = make_tracker(text, intent="urge_pickup", sender_id=sender)
    tracker.latest_message["message_id"] = message_id
    return tracker


@pytest.mark.asyncio
@pytest.mark.parametrize("slot, text, ok, complaint", [
    ("pickup_address", "蒙自", False, "utter_pickup_address_short"),
    ("pickup_address", "蒙自市天马路18号邮政小区3栋", True, None),
    ("pickup_window", "随便你们", False, "utter_pickup_window_unclear"),
    ("pickup_window", "明天下午三点以后", True, None),
    ("pickup_window", "周六上午", True, None),
])
async def test_pickup_form_checks_address_and_window(domain, slot, text, ok, complaint):
    tracker = make_tracker(text, intent="inform", active_loop="pickup_form",
                           slots={"requested_slot": slot})
    messages, events = await run(ValidatePickupForm(), tracker, domain)
    value = slots_of(events)[slot]
    assert (value == text) if ok else (value is None)
    assert [m["response"] for m in messages] == ([complaint] if complaint else [])


@pytest.mark.asyncio
async def test_booking_gives_a_number_and_masks_the_phone(uows, domain):
    messages, events = await run(ActionBookPickup(), make_tracker("明天上午", slots=BOOKING),
                                 domain)
    assert [m["response"] for m in messages] == ["utter_pickup_booked"]
    assert messages[0]["number"].startswith("LS20261125")
    assert messages[0]["phone"] == "139****4321"
    assert all(v is None for v in slots_of(events).values())
    again, _ = await run(ActionBookPickup(), make_tracker("明天上午", slots=BOOKING), domain)
    assert [m["response"] for m in again] == ["utter_pickup_already"]


@pytest.mark.asyncio
async def test_cancel_forgets_the_booking_details(domain):
    messages, events = await run(ActionCancelPickup(), make_tracker("不用了", intent="deny",
                                                                     slots=BOOKING), domain)
    assert [m["response"] for m in messages] == ["utter_pickup_cancelled"]
    assert slots_of(events) == {"pickup_address": None, "contact_phone": None,
                                "pickup_window": None}


@pytest.mark.asyncio
async def test_reminders_escalate_at_the_third_and_fourth_turn(uows, domain):
    await run(ActionBookPickup(), make_tracker("明天上午", slots=BOOKING), domain)
    replies = []
    for message_id in ("m1", "m2", "m2", "m3", "m4"):  # m2 twice: one turn, counted once
        messages, _ = await run(ActionUrgePickup(), chase(message_id), domain)
        replies.append((messages[0]["response"], messages[0].get("count")))
    assert replies == [
        ("utter_urge_recorded", 1), ("utter_urge_recorded", 2), ("utter_urge_recorded", 2),
        ("utter_urge_escalated", 3), ("utter_urge_top_priority", 4),
    ]
    orders = wo.find_work_orders(uows, deps.deadline_rules(), NOW, sender_id="customer-1")
    assert len(orders) == 1
    assert orders[0].category is Category.PICKUP_SERVICE
    assert orders[0].priority is Priority.URGENT


@pytest.mark.asyncio
async def test_a_chase_without_a_booking_goes_to_a_person(uows, domain):
    messages, _ = await run(ActionUrgePickup(), chase("m1", sender="walk-in"), domain)
    assert [m["response"] for m in messages] == ["utter_urge_no_booking"]
    assert [h.reason for h in services.list_waiting_handovers(uows)] == ["urge_pickup"]
