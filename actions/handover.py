"""Hand-over to a person: recorded once per waiting customer, for the workbench to show."""
from __future__ import annotations

import logging
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import deps
from bot.store import services
from bot.text.masking import mask_text

logger = logging.getLogger(__name__)

COMPLAINT_INTENTS = (
    "delivery_service", "lost_item", "damaged_item", "staff_attitude", "fee_dispute",
    "complaint_progress", "escalate_complaint", "urge_pickup", "change_delivery",
    "return_intercept", "claim_compensation", "unsatisfied",
)


def handover_reason(intent: str | None) -> str:
    """Why the customer goes to a person: the complaint intent, or a plain request."""
    if intent in COMPLAINT_INTENTS:
        return intent
    if intent == "nlu_fallback" or intent == "affirm":
        return "fallback"
    return "request_human"


def queue_for_agent(tracker: Tracker, reason: str, last_message: str) -> services.HandoverTicket:
    """Record that this conversation waits for an agent (once per waiting customer).

    Blocking: the actions run it through `actions.deps.off_loop`.

    Raises:
        SQLAlchemyError: when the store cannot be reached; the caller tells the customer.
    """
    return services.record_handover(
        deps.uow_factory(),
        sender_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "rest",
        reason=reason,
        last_message=last_message,
        intent=tracker.get_intent_of_latest_message(),
        now=deps.now(),
    )


class ActionRequestHuman(Action):
    """Queues the conversation for an agent; asking twice does not queue it twice."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Queue the customer and tell them their ticket and place; say so if the store fails."""
        # nlu_fallback itself, not the guess behind it: a second miss is a fallback hand-over.
        intent = tracker.get_intent_of_latest_message(skip_fallback_intent=False)
        text = tracker.latest_message.get("text") or ""
        try:
            ticket = await deps.off_loop(queue_for_agent, tracker, handover_reason(intent), text)
        except SQLAlchemyError:
            logger.exception("handover not recorded for %s: %s",
                             mask_text(tracker.sender_id), mask_text(text))
            dispatcher.utter_message(response="utter_handover_failed")
            return []
        response = "utter_handover_created" if ticket.created else "utter_handover_waiting"
        dispatcher.utter_message(response=response, ticket=ticket.id, ahead=ticket.waiting_ahead)
        return [SlotSet("mail_state", None)]
