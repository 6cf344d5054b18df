"""What an agent needs to answer a work order: the responsible unit and the drafted texts.

This is where the store's data meets the work-order rules: it reads an order and its mail's
tracking trail through `bot.store` and hands them, as plain facts, to the responsibility rules
(`bot.workorders.responsibility`) and the drafts (`bot.workorders.drafts`). Nothing is written;
the agent confirms the unit with `bot.store.workorders.decide_responsibility`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.models import MailItem, as_store_time
from bot.store.uow import UowFactory
from bot.store.workorders import DeadlineRules, WorkOrderView, get_work_order
from bot.workorders.drafts import FollowupDrafts, draft_followups
from bot.workorders.responsibility import (
    MailFacts,
    ResponsibilitySuggestion,
    TrailEvent,
    WorkOrderFacts,
    suggest_responsibility,
)


@dataclass(frozen=True)
class OrderFollowup:
    """What an agent needs to answer an order: the responsibility suggestion and the drafts."""

    order: WorkOrderView
    suggestion: ResponsibilitySuggestion
    drafts: FollowupDrafts


def facts_of_mail(mail: MailItem | None) -> MailFacts | None:
    """A stored mail item with its trail as the responsibility and draft rules read it."""
    if mail is None:
        return None
    return MailFacts(
        number=mail.number, product=mail.product, status_code=mail.status,
        sender_area=mail.sender_area, recipient_area=mail.recipient_area,
        posted_at=mail.posted_at, promised_by=mail.promised_by,
        insured_value=mail.insured_value, postage=mail.postage, signed_by=mail.signed_by,
        trail=tuple(TrailEvent(e.occurred_at, e.place, e.unit, e.status_code, e.description)
                    for e in mail.events),
    )


def mail_facts(uow_factory: UowFactory, number: str) -> MailFacts | None:
    """The mail item with this number and its trail as the rules read it, or None."""
    with uow_factory() as uow:
        return facts_of_mail(uow.mail.get_by_number(number))


def facts_of_order(view: WorkOrderView) -> WorkOrderFacts:
    """A work order as the responsibility and draft rules read it."""
    return WorkOrderFacts(
        number=view.number, channel=view.channel.value, category=view.category.value,
        mail_number=view.mail_number, customer_phone=view.customer_phone,
        description=view.description, opened_at=view.opened_at, deadline=view.deadline,
        priority=view.priority.value,
    )


def draft_for_order(uow_factory: UowFactory, rules: DeadlineRules, number: str,
                    now: datetime) -> OrderFollowup:
    """Suggest the responsible unit and draft the feedback, callback script and note.

    The drafts are filled from the order and its mail's tracking trail; phone numbers in them
    are masked. Nothing is written: the agent confirms the unit with
    `bot.store.workorders.decide_responsibility`.

    Raises:
        WorkOrderNotFound: no such order.
    """
    now = as_store_time(now)
    view = get_work_order(uow_factory, rules, number, now)
    mail = mail_facts(uow_factory, view.mail_number) if view.mail_number else None
    facts = facts_of_order(view)
    suggestion = suggest_responsibility(facts, mail, now)
    return OrderFollowup(view, suggestion, draft_followups(facts, mail, suggestion, now))
