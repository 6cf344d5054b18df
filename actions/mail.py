"""Mail query: the form that asks for and checks the number, the lookup, and the chase.

The store is reached in worker threads (`actions.deps.off_loop`), never on the event loop.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import deps
from actions.complaints import BOT_CHANNEL, open_work_order
from actions.handover import queue_for_agent
from bot.store import services
from bot.store import workorders as wo
from bot.store.status import Category
from bot.text import tracking
from bot.text.dates import customer_day, customer_moment
from bot.text.masking import mask_text

logger = logging.getLogger(__name__)

MAX_REASKS = 2
QUERY_INTENTS = ("track_mail", "delivery_delay", "not_received", "inform")


class ValidateMailQueryForm(FormValidationAction):
    """Checks the tracking number: format first, then the check digit (two re-asks at most)."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "validate_mail_query_form"

    async def validate_tracking_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Accept a well-formed number; say so when its check digit fails and ask again."""
        value = slot_value[0] if isinstance(slot_value, list) else slot_value
        number = tracking.parse(str(value or ""))
        attempts = int(tracker.get_slot("tracking_attempts") or 0)
        if number is None:
            dispatcher.utter_message(response="utter_ask_tracking_number")
            return {"tracking_number": None}
        if number.looks_mistyped:
            attempts += 1
            if attempts <= MAX_REASKS:
                dispatcher.utter_message(
                    response="utter_tracking_mistyped", tracking_number=number.value
                )
                return {"tracking_number": None, "tracking_attempts": float(attempts)}
            dispatcher.utter_message(response="utter_tracking_gave_up",
                                     tracking_number=number.value)
        return {"tracking_number": number.value, "tracking_attempts": 0.0}


def format_events(events: Sequence[services.EventView]) -> str:
    """The newest events, one line each: '· 11月25日 14:20 【place】description'."""
    return "\n".join(
        f"· {customer_moment(e.occurred_at)} {e.description}" for e in events
    ) or "· 暂无动态"


def query_reason(tracker: Tracker) -> Optional[str]:
    """The intent that started this query (track_mail, delivery_delay or not_received)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if intent in QUERY_INTENTS and intent != "inform":
                return intent
    return None


class ActionQueryMail(Action):
    """Looks the number up in the mail store and answers with its status and last events."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_query_mail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Answer with the mail's state; remember the number and whether a chase is offered."""
        number = tracker.get_slot("tracking_number")
        reset = [SlotSet("tracking_number", None), SlotSet("tracking_attempts", 0.0)]
        if not number:
            dispatcher.utter_message(response="utter_ask_tracking_number")
            return reset
        try:
            status = await deps.off_loop(lookup_mail, number)
        except SQLAlchemyError:
            logger.exception("mail lookup failed for %s", number)
            dispatcher.utter_message(response="utter_mail_lookup_failed", tracking_number=number)
            return reset + [SlotSet("mail_state", "unknown")]
        if status is None:
            logger.info("unknown tracking number %s", number)
            dispatcher.utter_message(response="utter_mail_not_found", tracking_number=number)
            return reset + [SlotSet("mail_state", "unknown")]

        state = self._answer(dispatcher, status, query_reason(tracker))
        return reset + [
            SlotSet("last_tracking_number", status.number),
            SlotSet("mail_state", state),
        ]

    @staticmethod
    def _answer(
        dispatcher: CollectingDispatcher, status: services.MailStatus, reason: Optional[str]
    ) -> str:
        """Send the reply that fits the mail's state; return 'problem' when a chase is offered."""
        events = format_events(status.last_events)
        last = status.last_events[0] if status.last_events else None
        place = last.place if last else "未知"
        if status.returned:
            dispatcher.utter_message(
                response="utter_mail_returned", number=status.number,
                status=status.status_label, events=events,
            )
            return "problem"
        if status.status_code == "DELIVERED":
            dispatcher.utter_message(
                response="utter_mail_delivered", number=status.number,
                when=customer_moment(last.occurred_at) if last else "",
                signer=status.signed_by_masked or "本人", events=events,
            )
            return "problem" if reason == "not_received" else "normal"
        if status.at_station:
            dispatcher.utter_message(
                response="utter_mail_at_station", number=status.number, place=place,
                events=events,
            )
            return "normal"
        if status.is_stuck:
            dispatcher.utter_message(
                response="utter_mail_stuck", number=status.number,
                days=max(1, int(status.hours_since_update // 24)), place=place, events=events,
            )
            return "problem"
        if status.is_overdue:
            dispatcher.utter_message(
                response="utter_mail_overdue", number=status.number,
                promised=customer_day(status.promised_by) if status.promised_by else "",
                status=status.status_label, events=events,
            )
            return "problem"
        route = f"（{status.sender_area} → {status.recipient_area}）" if status.sender_area else ""
        dispatcher.utter_message(
            response="utter_mail_status", product=status.product, number=status.number,
            route=route, status=status.status_label, events=events,
        )
        return "normal"


def done() -> List[EventType]:
    """Close the offer and end the bot's turn.

    The rules that lead here start at ``action_query_mail``; Rasa 3.6's RulePolicy does not find
    their end again after this action, so the turn is ended explicitly instead of falling back.
    """
    return [SlotSet("mail_state", None), FollowupAction("action_listen")]


class ActionChaseMail(Action):
    """The customer said yes (or thanks) to the mail answer: do what the answer offered.

    A stuck, overdue, returned or not-received mail is chased: a work order (delay, or delivery
    service for a false 'delivered') with a deadline, one per mail however often the customer
    asks; an unknown number goes to a person; a mail that is fine needs nothing more.
    """

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_chase_mail"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Open the chase order, or queue an unknown number for a person, then end the turn."""
        state = tracker.get_slot("mail_state")
        number = tracker.get_slot("last_tracking_number") or ""
        if state not in ("problem", "unknown"):
            thanked = tracker.get_intent_of_latest_message() == "thank"
            dispatcher.utter_message(
                response="utter_you_are_welcome" if thanked else "utter_anything_else")
            return done()
        text = tracker.latest_message.get("text") or ""
        try:
            if state == "problem":
                signed_not_received = query_reason(tracker) == "not_received"
                opened = await deps.off_loop(
                    open_work_order, chase_request(tracker, number, text, signed_not_received))
                return self._chased(dispatcher, number, opened)
            ticket = await deps.off_loop(queue_for_agent, tracker, "request_human", text)
        except SQLAlchemyError:
            logger.exception("follow-up for %s not recorded (sender %s)", number,
                             mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_handover_failed")
            return done()
        response = "utter_handover_created" if ticket.created else "utter_handover_waiting"
        dispatcher.utter_message(response=response, tracking_number=number, ticket=ticket.id,
                                 ahead=ticket.waiting_ahead)
        return done()

    @staticmethod
    def _chased(dispatcher: CollectingDispatcher, number: str,
                opened: wo.Opened) -> List[EventType]:
        """Tell the customer the chase order's number and deadline (new, or the one open)."""
        order = opened.order
        dispatcher.utter_message(
            response="utter_chase_recorded" if opened.created else "utter_chase_already",
            tracking_number=number, order=order.number,
            deadline=customer_moment(order.deadline),
        )
        return done() + [SlotSet("last_work_order", order.number)]


def chase_request(tracker: Tracker, number: str, text: str,
                  signed_not_received: bool) -> wo.NewWorkOrder:
    """The mail's chase work order: a delay, or a false 'delivered' (signed, not received)."""
    return wo.NewWorkOrder(
        channel=BOT_CHANNEL,
        category=Category.DELIVERY_SERVICE if signed_not_received else Category.DELAY,
        description=("客户称显示签收但未收到，要求核实" if signed_not_received
                     else "客户催查：邮件停滞或超时未到") + (f"（{text}）" if text else ""),
        mail_number=number, sender_id=tracker.sender_id,
    )


def lookup_mail(number: str) -> Optional[services.MailStatus]:
    """The mail's status from the store, None when unknown (blocking: run it off the loop)."""
    return services.lookup_mail(deps.uow_factory(), number, deps.now(),
                                stuck_hours=deps.stuck_hours())
