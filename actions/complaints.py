"""Complaints become work orders: the complaint form, progress, escalation, compensation.

The form (``complaint_form``) collects the mail number, a contact phone and a short
description, reads them back (phone masked) and asks for confirmation; ``action_open_complaint``
then opens the work order, or links the complaint to the open one for the same mail and
category, and tells the customer its number and deadline.

The store is reached through the blocking functions below, which the actions run with
`actions.deps.off_loop` so that the action server's event loop is never held up.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import deps
from actions.clarify import MAX_CUSTOMER_TEXT, customer_text
from actions.handover import queue_for_agent
from bot.store import services
from bot.store import workorders as wo
from bot.store.status import Category, Channel, Priority
from bot.text import phones, tracking
from bot.text.dates import customer_moment
from bot.text.masking import mask_phone, mask_text
from bot.workorders import followup as followups
from bot.workorders.drafts import compensation_for
from bot.workorders.responsibility import MailFacts

logger = logging.getLogger(__name__)

# The complaint intents of the taxonomy and the work-order category each opens.
COMPLAINT_CATEGORIES: Dict[str, Category] = {
    "delivery_service": Category.DELIVERY_SERVICE,
    "lost_item": Category.LOST,
    "damaged_item": Category.DAMAGED,
    "staff_attitude": Category.ATTITUDE,
    "fee_dispute": Category.IMPROPER_FEE,
}
# Problems a long message may mention beside the main one, noted for the agent.
MENTIONED_PROBLEMS: Dict[str, Category] = {
    **COMPLAINT_CATEGORIES,
    "delivery_delay": Category.DELAY,
    "not_received": Category.DELIVERY_SERVICE,
}
# Another problem counts as mentioned when the classifier gives it at least this much.
MENTION_CONFIDENCE = 0.12
NO_MAIL = "none"
# A description shorter than this (numbers removed) is asked for instead of taken from the
# message that started the complaint ("我要投诉" says nothing yet).
MIN_DESCRIPTION = 6
_NO_NUMBER_RE = re.compile(r"没有|没单号|无单号|不知道|忘了|找不到|不记得|没有单号|无")
_NUMBERS_RE = re.compile(r"[A-Za-z]{2}\s*\d[\d\s]{7,}\d\s*[A-Za-z]{2}|\d[\d\s-]{9,}\d")

COMPLAINT_SLOTS = ("complaint_mail", "contact_phone", "complaint_description",
                   "complaint_confirmed", "complaint_category", "clarify_text")


# Work orders the bot opens come from the WeChat account (the REST demo stands in for it).
BOT_CHANNEL = Channel.WECHAT


def latest_entity(tracker: Tracker, name: str) -> Optional[str]:
    """The first value of entity `name` in the customer's latest message, if any."""
    values = [e.get("value") for e in tracker.latest_message.get("entities", [])
              if e.get("entity") == name and e.get("value")]
    return str(values[0]) if values else None


def strongest_complaint(parse: Dict[str, Any]) -> Optional[str]:
    """The complaint intent ranked highest in a parse (the main problem of a long message)."""
    for entry in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        if entry.get("name") in COMPLAINT_CATEGORIES:
            return str(entry["name"])
    return None


def other_problems(parse: Dict[str, Any], main: Optional[str]) -> List[str]:
    """Category names of the other problems the message also mentions, strongest first."""
    main_category = COMPLAINT_CATEGORIES.get(main or "")
    seen: List[str] = []
    for entry in parse.get("intent_ranking") or []:
        category = MENTIONED_PROBLEMS.get(entry.get("name") or "")
        if (category is None or category == main_category
                or float(entry.get("confidence") or 0.0) < MENTION_CONFIDENCE):
            continue
        if category.label not in seen:
            seen.append(category.label)
    return seen


def extract_contact_phone(tracker: Tracker) -> Dict[Text, Any]:
    """A phone number in this message (entity, or digits typed when asked for one)."""
    if tracker.get_slot("contact_phone"):
        return {}
    phone = latest_entity(tracker, "phone_number")
    if phone:
        return {"contact_phone": phone}
    if tracker.get_slot("requested_slot") == "contact_phone":
        if len(re.sub(r"\D", "", customer_text(tracker))) >= 7:
            return {"contact_phone": customer_text(tracker)}
    return {}


def validate_contact_phone(value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    """A mainland mobile or landline, kept as digits; anything else is asked again."""
    phone = phones.the_one_in(str(value))
    if phone is None:
        dispatcher.utter_message(response="utter_phone_invalid")
        return {"contact_phone": None}
    return {"contact_phone": phone}


class ValidateComplaintForm(FormValidationAction):
    """Fills and checks the complaint form's slots from what the customer wrote."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "validate_complaint_form"

    async def extract_complaint_mail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The number in this message, else the one just looked up; '没有' means none."""
        if tracker.get_slot("complaint_mail"):
            return {}
        number = latest_entity(tracker, "tracking_number") or tracker.get_slot("tracking_number")
        if number:
            return {"complaint_mail": number}
        requested = tracker.get_slot("requested_slot") == "complaint_mail"
        if requested and (tracker.get_intent_of_latest_message() == "deny"
                          or _NO_NUMBER_RE.search(customer_text(tracker))):
            return {"complaint_mail": NO_MAIL}
        if not requested and tracker.get_slot("last_tracking_number"):
            return {"complaint_mail": tracker.get_slot("last_tracking_number")}
        return {}

    async def validate_complaint_mail(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """A well-formed number (a failed check digit is pointed out once); or none."""
        if slot_value == NO_MAIL:
            return {"complaint_mail": NO_MAIL}
        number = tracking.parse(str(slot_value))
        if number is None:
            dispatcher.utter_message(response="utter_ask_complaint_mail")
            return {"complaint_mail": None, "tracking_number": None}
        attempts = int(tracker.get_slot("tracking_attempts") or 0)
        if number.looks_mistyped and attempts < 1:
            dispatcher.utter_message(response="utter_tracking_mistyped",
                                     tracking_number=number.value)
            return {"complaint_mail": None, "tracking_number": None, "tracking_attempts": 1.0}
        return {"complaint_mail": number.value, "tracking_attempts": 0.0}

    async def extract_contact_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A phone number in this message (entity, or digits typed when asked for one)."""
        return extract_contact_phone(tracker)

    async def validate_contact_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """A mainland mobile or landline, as digits; anything else is asked again."""
        return validate_contact_phone(slot_value, dispatcher)

    async def extract_complaint_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """The customer's own words: asked for, or the complaint message if it says enough."""
        if tracker.get_slot("complaint_description"):
            return {}
        text = customer_text(tracker)
        if tracker.get_slot("requested_slot") == "complaint_description":
            return {"complaint_description": text} if text else {}
        if tracker.get_intent_of_latest_message() in COMPLAINT_CATEGORIES:
            said = _NUMBERS_RE.sub("", text)
            if len(re.sub(r"[\s\W_]", "", said)) >= MIN_DESCRIPTION:
                return describe_problems(tracker, text)
        return {}

    async def validate_complaint_description(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """The description, trimmed and cut to 1000 characters; empty asks again."""
        text = str(slot_value or "").strip()
        return {"complaint_description": text[:MAX_CUSTOMER_TEXT] or None}

    async def validate_complaint_confirmed(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Yes or no, as a boolean (the open action checks for ``True``)."""
        return {"complaint_confirmed": bool(slot_value)}


def describe_problems(tracker: Tracker, text: str) -> Dict[Text, Any]:
    """The complaint from the message that started it, several problems and all.

    The category is the strongest complaint intent of the message; the description keeps the
    customer's whole text and names the other problems it mentions, so the agent sees them.
    """
    parse = tracker.latest_message
    main = strongest_complaint(parse)
    slots: Dict[Text, Any] = {"complaint_description": text}
    if main is not None:
        slots["complaint_category"] = COMPLAINT_CATEGORIES[main].value
        others = other_problems(parse, main)
        if others:
            slots["complaint_description"] = f"{text}（同时反映：{'、'.join(others)}）"
    return slots


class ActionAskComplaintConfirmed(Action):
    """Reads the complaint back (phone masked) and asks whether to submit it."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_ask_complaint_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Read back category, mail, masked phone and description, and ask to submit."""
        category = Category(tracker.get_slot("complaint_category") or Category.OTHER.value)
        mail = tracker.get_slot("complaint_mail")
        dispatcher.utter_message(
            response="utter_ask_complaint_confirmed",
            category=category.label,
            mail=mail if mail and mail != NO_MAIL else "无",
            phone=mask_phone(tracker.get_slot("contact_phone") or ""),
            description=mask_text(tracker.get_slot("complaint_description") or ""),
        )
        return []


def _reset() -> List[EventType]:
    return [SlotSet(s, None) for s in COMPLAINT_SLOTS] + [SlotSet("tracking_number", None)]


class ActionOpenComplaint(Action):
    """Opens the confirmed complaint as a work order and tells its number and deadline."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_open_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Open or link the order when confirmed, then clear the form's slots either way."""
        if tracker.get_slot("complaint_confirmed") is not True:
            dispatcher.utter_message(response="utter_complaint_cancelled")
            return _reset()
        mail = tracker.get_slot("complaint_mail")
        request = wo.NewWorkOrder(
            channel=BOT_CHANNEL,
            category=tracker.get_slot("complaint_category") or Category.OTHER.value,
            description=tracker.get_slot("complaint_description") or "",
            mail_number=mail if mail and mail != NO_MAIL else None,
            customer_phone=tracker.get_slot("contact_phone"),
            sender_id=tracker.sender_id,
        )
        try:
            opened = await deps.off_loop(open_work_order, request)
        except SQLAlchemyError:
            logger.exception("complaint not recorded for %s (mail %s)",
                             mask_text(tracker.sender_id), request.mail_number)
            dispatcher.utter_message(response="utter_workorder_failed")
            return _reset()
        order = opened.order
        logger.info("complaint %s %s for %s (mail %s)", order.number,
                    "opened" if opened.created else "linked", mask_text(tracker.sender_id),
                    order.mail_number)
        dispatcher.utter_message(
            response="utter_complaint_opened" if opened.created else "utter_complaint_linked",
            number=order.number, category=order.category.label,
            deadline=customer_moment(order.deadline),
        )
        return _reset() + [SlotSet("last_work_order", order.number)]


class ActionDraftFollowup(Action):
    """Drafts the feedback, callback script and responsibility note of the conversation's
    latest work order for the agents; the customer sees nothing of it.

    The drafts (phones masked) are kept in the ``followup_draft`` slot, where the workbench
    reads them with the conversation.
    """

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_draft_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Set ``followup_draft`` for the latest work order; nothing when there is none."""
        number = tracker.get_slot("last_work_order")
        if not number:
            return []
        try:
            followup = await deps.off_loop(draft_followup, number)
        except (SQLAlchemyError, wo.WorkOrderNotFound):
            logger.exception("no drafts for work order %s", number)
            return []
        return [SlotSet("followup_draft", {
            "work_order": number,
            "responsible_unit": followup.suggestion.unit,
            "feedback": followup.drafts.feedback,
            "callback_script": followup.drafts.callback_script,
            "responsibility_note": followup.drafts.responsibility_note,
        })]


def _customer_keys(tracker: Tracker) -> Dict[str, Optional[str]]:
    return {
        "mail_number": (latest_entity(tracker, "tracking_number")
                        or tracker.get_slot("progress_key_mail")),
        "phone": phones.normalise(latest_entity(tracker, "phone_number") or "") or
        tracker.get_slot("progress_key_phone"),
        "sender_id": tracker.sender_id,
    }


class ValidateProgressForm(FormValidationAction):
    """Asks for a mail number or phone only when the conversation has no work order yet."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "validate_progress_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        """None when the message or the conversation already identifies the customer's orders."""
        keys = _customer_keys(tracker)
        if keys["mail_number"] or keys["phone"]:
            return []
        try:
            known = await deps.off_loop(find_work_orders, sender_id=tracker.sender_id)
        except SQLAlchemyError:
            logger.exception("work orders of %s not readable", mask_text(tracker.sender_id))
            return []
        return [] if known else domain_slots

    async def extract_progress_key(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        """A mail number or a phone from the answer to the form's question."""
        if tracker.get_slot("requested_slot") != "progress_key":
            return {}
        number = latest_entity(tracker, "tracking_number")
        if number:
            return {"progress_key": number, "progress_key_mail": number}
        phone = phones.the_one_in(latest_entity(tracker, "phone_number") or customer_text(tracker))
        if phone:
            return {"progress_key": phone, "progress_key_phone": phone}
        return {}


class ActionComplaintProgress(Action):
    """Tells the customer where their work orders stand; an overdue one is hurried along."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_complaint_progress"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """List up to five of the customer's orders and clear the progress form's slots."""
        reset = [SlotSet("progress_key", None), SlotSet("progress_key_mail", None),
                 SlotSet("progress_key_phone", None)]
        try:
            orders = await deps.off_loop(hurry_overdue, **_customer_keys(tracker))
        except SQLAlchemyError:
            logger.exception("progress lookup failed for %s", mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_workorder_failed")
            return reset
        if not orders:
            dispatcher.utter_message(response="utter_progress_none")
            return reset
        dispatcher.utter_message(response="utter_progress",
                                 orders="\n".join(progress_line(o) for o in orders[:5]))
        return reset


def progress_line(order: wo.WorkOrderView) -> str:
    """One order for the customer: number, kind, mail, status and the promise."""
    mail = f"（{order.mail_number}）" if order.mail_number else ""
    head = f"· {order.number} {order.category.label}{mail}：{order.status.label}"
    if not order.is_open:
        return head
    if order.answered_at is not None:
        return head + "，已答复，如有疑问可以直接回复我"
    if order.overdue:
        return head + "，已超过答复时限，已为您加急催办"
    return head + f"，将在 {customer_moment(order.deadline)} 前答复您"


class ActionEscalateComplaint(Action):
    """Raises the customer's open work orders to urgent and queues them for a supervisor."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_escalate_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Raise the open orders, queue the customer, and say which orders were raised."""
        text = customer_text(tracker)
        try:
            raised, ticket = await deps.off_loop(escalate, tracker, _customer_keys(tracker), text)
        except SQLAlchemyError:
            logger.exception("escalation failed for %s", mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_handover_failed")
            return []
        if raised:
            dispatcher.utter_message(response="utter_escalated",
                                     orders="、".join(o.number for o in raised),
                                     ticket=ticket.id)
        else:
            dispatcher.utter_message(response="utter_escalate_complaint")
            dispatcher.utter_message(response="utter_handover_created", ticket=ticket.id,
                                     ahead=ticket.waiting_ahead)
        return []


class ActionExplainCompensation(Action):
    """Explains the compensation rule that applies to the customer's mail, and offers a claim."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_explain_compensation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """The rule for a known mail (kept in ``claim_mail``), else the general answer."""
        number = (latest_entity(tracker, "tracking_number") or tracker.get_slot("tracking_number")
                  or tracker.get_slot("last_tracking_number"))
        facts = None
        if number:
            try:
                facts = await deps.off_loop(mail_facts, number)
            except SQLAlchemyError:
                logger.exception("mail %s not readable for compensation", number)
        if facts is None:
            dispatcher.utter_message(response="utter_claim_compensation")
            return [SlotSet("claim_mail", None)]
        rule = compensation_for(facts, Category.LOST)
        dispatcher.utter_message(response="utter_claim_for_mail", number=facts.number,
                                 rule=rule.rule)
        return [SlotSet("claim_mail", facts.number)]


class ActionOpenClaim(Action):
    """The customer accepted the claim offer: open (or link) a work order for it."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_open_claim"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Open or link the claim's order, tell its number and deadline, end the turn."""
        mail = tracker.get_slot("claim_mail")
        request = wo.NewWorkOrder(
            channel=BOT_CHANNEL, category=Category.LOST if mail else Category.OTHER,
            description=f"申请理赔：{customer_text(tracker)}", mail_number=mail,
            customer_phone=phones.normalise(latest_entity(tracker, "phone_number") or "")
            or tracker.get_slot("contact_phone"),
            sender_id=tracker.sender_id,
        )
        done: List[EventType] = [SlotSet("claim_mail", None), FollowupAction("action_listen")]
        try:
            opened = await deps.off_loop(open_claim, request)
        except SQLAlchemyError:
            logger.exception("claim not recorded for %s", mask_text(tracker.sender_id))
            dispatcher.utter_message(response="utter_workorder_failed")
            return done
        dispatcher.utter_message(response="utter_claim_opened", number=opened.order.number,
                                 deadline=customer_moment(opened.order.deadline))
        return done + [SlotSet("last_work_order", opened.order.number)]


# --- the store, blocking: the actions run these through deps.off_loop -----------------------


def open_work_order(request: wo.NewWorkOrder) -> wo.Opened:
    """Open the request as a work order, or link it to the open one for its mail and category."""
    return wo.open_work_order(deps.uow_factory(), deps.deadline_rules(), request, deps.now())


def find_work_orders(**keys: Optional[str]) -> List[wo.WorkOrderView]:
    """The work orders of a customer, by mail number, phone or sender id (any that is given)."""
    return wo.find_work_orders(deps.uow_factory(), deps.deadline_rules(), deps.now(), **keys)


def draft_followup(number: str) -> followups.OrderFollowup:
    """The agents' drafts (feedback, callback script, responsibility note) for an order."""
    return followups.draft_for_order(deps.uow_factory(), deps.deadline_rules(), number,
                                     deps.now())


def mail_facts(number: str) -> Optional[MailFacts]:
    """What the store knows of a mail for the compensation rules; None when it is unknown."""
    return followups.mail_facts(deps.uow_factory(), number)


def hurry_overdue(**keys: Optional[str]) -> List[wo.WorkOrderView]:
    """The customer's work orders; the overdue ones among the first five are raised to high."""
    uows, rules, now = deps.uow_factory(), deps.deadline_rules(), deps.now()
    orders = wo.find_work_orders(uows, rules, now, **keys)
    for order in orders[:5]:
        if order.overdue:
            wo.raise_priority(uows, rules, order.number, now, "bot", Priority.HIGH,
                              "客户查询进度时工单已超时")
    return orders


def escalate(tracker: Tracker, keys: Dict[str, Optional[str]],
             text: str) -> Tuple[List[wo.WorkOrderView], services.HandoverTicket]:
    """Raise the customer's open work orders to urgent and queue them for a supervisor."""
    uows, rules, now = deps.uow_factory(), deps.deadline_rules(), deps.now()
    raised = [wo.raise_priority(uows, rules, o.number, now, "bot", Priority.URGENT,
                                f"客户要求升级：{text}")
              for o in wo.find_work_orders(uows, rules, now, **keys) if o.is_open]
    return raised, queue_for_agent(tracker, "escalate_complaint", text)


def open_claim(request: wo.NewWorkOrder) -> wo.Opened:
    """Open a compensation claim; with an open order for its mail, in that order's category."""
    if request.mail_number:
        existing = [o for o in find_work_orders(mail_number=request.mail_number) if o.is_open]
        if existing:
            request = wo.NewWorkOrder(**{**request.__dict__, "category": existing[0].category})
    return open_work_order(request)

