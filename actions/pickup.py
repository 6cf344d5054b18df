"""Pickup dispatch (派揽): booking a collection, and the customer's reminders (催揽收).

Each chase counts once per customer turn; the 3rd opens a supervisor work order, the 4th makes
it top priority (`bot.store.workorders.remind_pickup`).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import deps
from actions.clarify import customer_text
from actions.complaints import (
    BOT_CHANNEL,
    extract_contact_phone,
    latest_entity,
    validate_contact_phone,
)
from actions.handover import queue_for_agent
from bot.store import services
from bot.store import workorders as wo
from bot.text import phones
from bot.text.dates import customer_moment
from bot.text.masking import mask_text

logger = logging.getLogger(__name__)

PICKUP_SLOTS = ("pickup_address", "contact_phone", "pickup_window")
# A time window names a day or a part of the day or a clock time.
_WINDOW_RE = re.compile(
    r"今天|今日|明天|明早|后天|大后天|周[一二三四五六日天末]|星期[一二三四五六日天]|礼拜[一二三四五六日天]"
    r"|上午|中午|下午|傍晚|晚上|早上|白天|[0-9一二三四五六七八九十两]+\s*[点时:：]|\d+\s*[号日]|随时|尽快|马上"
)
MIN_ADDRESS = 6


class ValidatePickupForm(FormValidationAction):
    """Address, phone and time window of a pickup booking."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "validate_pickup_form"

    async def extract_pickup_address(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Dict[Text, Any]:
        """The whole message is the address, when the form asked for one."""
        if tracker.get_slot("requested_slot") != "pickup_address":
            return {}
        return {"pickup_address": customer_text(tracker)}

    async def validate_pickup_address(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """An address of at least six characters (kept to 255); a shorter one is asked again."""
        address = str(slot_value or "").strip()
        if len(re.sub(r"\s", "", address)) < MIN_ADDRESS:
            dispatcher.utter_message(response="utter_pickup_address_short")
            return {"pickup_address": None}
        return {"pickup_address": address[:255]}

    async def extract_contact_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        """A phone number in this message, as the complaint form takes it."""
        return extract_contact_phone(tracker)

    async def validate_contact_phone(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A mainland mobile or landline, as digits; anything else is asked again."""
        return validate_contact_phone(slot_value, dispatcher)

    async def extract_pickup_window(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        """The whole message is the time window, when the form asked for one."""
        if tracker.get_slot("requested_slot") != "pickup_window":
            return {}
        return {"pickup_window": customer_text(tracker)}

    async def validate_pickup_window(self, slot_value: Any, dispatcher: CollectingDispatcher,
                                     tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A window that names a day, part of a day or a time (kept to 64); else asked again."""
        window = str(slot_value or "").strip()
        if not _WINDOW_RE.search(window):
            dispatcher.utter_message(response="utter_pickup_window_unclear")
            return {"pickup_window": None}
        return {"pickup_window": window[:64]}


class ActionBookPickup(Action):
    """Books the collection the form gathered and tells the booking number."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_book_pickup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Book it (or find the same open booking) and clear the form's slots either way."""
        reset = [SlotSet(s, None) for s in PICKUP_SLOTS]
        try:
            pickup, created = await deps.off_loop(
                book_pickup, address=tracker.get_slot("pickup_address") or "",
                phone=tracker.get_slot("contact_phone") or "",
                time_window=tracker.get_slot("pickup_window") or "", sender_id=tracker.sender_id,
            )
        except wo.WorkOrderError as e:
            dispatcher.utter_message(text=str(e))
            return reset
        except SQLAlchemyError:
            logger.exception("pickup not booked for %s", mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_workorder_failed")
            return reset
        dispatcher.utter_message(
            response="utter_pickup_booked" if created else "utter_pickup_already",
            number=pickup.number, window=pickup.time_window, phone=pickup.phone_masked,
        )
        return reset


class ActionCancelPickup(Action):
    """The customer stopped the pickup form: forget what it gathered."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_cancel_pickup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Confirm the cancellation and clear the form's slots."""
        dispatcher.utter_message(response="utter_pickup_cancelled")
        return [SlotSet(s, None) for s in PICKUP_SLOTS]


def turn_key(tracker: Tracker) -> str:
    """This customer turn: the sender and the id (or time) of their latest message."""
    message_id = tracker.latest_message.get("message_id")
    if not message_id:
        users = [e for e in tracker.events if e.get("event") == "user"]
        message_id = str(users[-1].get("timestamp")) if users else "0"
    return f"{tracker.sender_id}:{message_id}"


class ActionUrgePickup(Action):
    """Counts the customer's chase of their pickup and escalates at the 3rd and 4th."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_urge_pickup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Record the chase and say what follows; with no booking, queue for a person."""
        phone = phones.normalise(latest_entity(tracker, "phone_number") or "")
        try:
            outcome, ticket = await deps.off_loop(remind_pickup, tracker, phone)
        except SQLAlchemyError:
            logger.exception("pickup reminder not recorded for %s", mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_workorder_failed")
            return []
        if outcome.pickup is None:
            assert ticket is not None  # remind_pickup queues the customer when nothing is booked
            dispatcher.utter_message(response="utter_urge_no_booking", ticket=ticket.id)
            return []
        pickup, order = outcome.pickup, outcome.escalation
        if order is None:
            dispatcher.utter_message(response="utter_urge_recorded", number=pickup.number,
                                     count=outcome.count, window=pickup.time_window)
        elif outcome.count >= wo.TOP_PRIORITY_AT:
            dispatcher.utter_message(response="utter_urge_top_priority", number=pickup.number,
                                     order=order.number, count=outcome.count,
                                     deadline=customer_moment(order.deadline))
        else:
            dispatcher.utter_message(response="utter_urge_escalated", number=pickup.number,
                                     order=order.number, count=outcome.count,
                                     deadline=customer_moment(order.deadline))
        return []


# --- the store, blocking: the actions run these through deps.off_loop -----------------------


def book_pickup(*, address: str, phone: str, time_window: str,
                sender_id: str) -> Tuple[wo.PickupView, bool]:
    """Book the collection (the same open booking is not booked twice); True when new."""
    return wo.book_pickup(deps.uow_factory(), channel=BOT_CHANNEL, address=address, phone=phone,
                          time_window=time_window, now=deps.now(), sender_id=sender_id)


def remind_pickup(tracker: Tracker,
                  phone: str | None) -> Tuple[wo.Reminder, Optional[services.HandoverTicket]]:
    """Count this turn's chase of the customer's booking; with no booking, queue them instead."""
    outcome = wo.remind_pickup(deps.uow_factory(), deps.deadline_rules(),
                               turn_key=turn_key(tracker), now=deps.now(),
                               sender_id=tracker.sender_id, phone=phone)
    if outcome.pickup is not None:
        return outcome, None
    return outcome, queue_for_agent(tracker, "urge_pickup", customer_text(tracker))
