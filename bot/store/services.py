"""Domain services of the store: plain functions the Rasa actions and the workbench call.

Each takes a unit-of-work factory (see `bot.store.uow.uow_factory`) and, where time matters,
the current time `now`, so that rules are tested without a clock or a Rasa server.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from bot.store.models import HandoverRequest, MailItem, as_store_time
from bot.store.status import HandoverStatus, StatusCode
from bot.store.uow import UowFactory
from bot.text.masking import mask_signer

STUCK_HOURS = 48
LAST_EVENTS = 3


@dataclass(frozen=True)
class EventView:
    """One tracking event as shown to a customer."""

    occurred_at: datetime
    place: str
    unit: str
    description: str


@dataclass(frozen=True)
class MailStatus:
    """What a customer may be told about a mail item.

    Attributes:
        number: the canonical number.
        product: EMS, 邮政快递包裹, 挂号信, ...
        status_code: the current status.
        status_label: its Chinese label (运输中, 已妥投, ...).
        last_events: up to three events, newest first.
        hours_since_update: whole hours since the last event (or since posting if none).
        is_stuck: not final and no event for at least the stuck threshold.
        is_overdue: not final and the promised delivery time has passed.
        signed_by_masked: who signed, names masked (张**, 门卫代收), or None.
        recipient_area: official name of the destination county/city.
        sender_area: official name of the origin county/city.
        at_station: waiting for pickup at a station, parcel locker or agent.
        returned: on its way back to, or back with, the sender.
        promised_by: the promised delivery time, if any.
    """

    number: str
    product: str
    status_code: StatusCode
    status_label: str
    last_events: tuple[EventView, ...]
    hours_since_update: int
    is_stuck: bool
    is_overdue: bool
    signed_by_masked: str | None
    recipient_area: str
    sender_area: str
    at_station: bool
    returned: bool
    promised_by: datetime | None = None


@dataclass(frozen=True)
class HandoverTicket:
    """The outcome of asking for an agent.

    Attributes:
        id: the handover request's id.
        created: False when the sender already had an open request (nothing new was written).
        waiting_ahead: waiting requests made before this one.
    """

    id: int
    created: bool
    waiting_ahead: int


@dataclass(frozen=True)
class WaitingHandover:
    """A request in the agents' queue (raw: the workbench is part of the operational side)."""

    id: int
    sender_id: str
    channel: str
    reason: str
    intent: str | None
    last_message: str
    created_at: datetime


def _mail_status(mail: MailItem, now: datetime, stuck_hours: float) -> MailStatus:
    status = StatusCode(mail.status)
    events = list(mail.events)
    last_update = events[-1].occurred_at if events else mail.posted_at
    quiet = now - last_update
    active = not status.is_final
    return MailStatus(
        number=mail.number,
        product=mail.product,
        status_code=status,
        status_label=status.label,
        last_events=tuple(
            EventView(e.occurred_at, e.place, e.unit, e.description)
            for e in reversed(events[-LAST_EVENTS:])
        ),
        hours_since_update=max(0, int(quiet.total_seconds() // 3600)),
        is_stuck=active and quiet >= timedelta(hours=stuck_hours),
        is_overdue=active and mail.promised_by is not None and now > mail.promised_by,
        signed_by_masked=mask_signer(mail.signed_by) if mail.signed_by else None,
        recipient_area=mail.recipient_area,
        sender_area=mail.sender_area,
        at_station=status is StatusCode.AT_STATION,
        returned=status in (StatusCode.RETURNING, StatusCode.RETURNED),
        promised_by=mail.promised_by,
    )


def lookup_mail(
    uow_factory: UowFactory, number: str, now: datetime, stuck_hours: float = STUCK_HOURS
) -> MailStatus | None:
    """Look a mail item up and judge whether it is stuck or overdue.

    Args:
        uow_factory: opens a unit of work.
        number: the number as typed; case, spaces and dashes do not matter.
        now: the current time (aware, or naive Beijing time).
        stuck_hours: hours without a scan after which a moving item counts as stuck.

    Returns:
        The item's status, or None when no such number is in the store.
    """
    with uow_factory() as uow:
        mail = uow.mail.get_by_number(number)
        if mail is None:
            return None
        return _mail_status(mail, as_store_time(now), stuck_hours)


def record_handover(
    uow_factory: UowFactory,
    sender_id: str,
    channel: str,
    reason: str,
    last_message: str,
    intent: str | None,
    now: datetime,
) -> HandoverTicket:
    """Queue a conversation for an agent, at most once per sender.

    If the sender already has an open (waiting or taken) request, that one is returned with
    ``created=False`` and nothing is written.

    Args:
        uow_factory: opens a unit of work.
        sender_id: the channel's id of the customer.
        channel: "rest", "wechat", ...
        reason: "request_human", "fallback", "complaint", ...
        last_message: the customer's last message, stored raw.
        intent: the last recognised intent, if any.
        now: the current time.

    Returns:
        The ticket: request id, whether it was created now, and how many wait ahead of it.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        existing = uow.handovers.open_for_sender(sender_id)
        if existing is not None:
            return HandoverTicket(existing.id, False, uow.handovers.count_waiting_ahead(existing))
        request = HandoverRequest(
            sender_id=sender_id,
            channel=channel,
            reason=reason,
            last_message=last_message,
            intent=intent,
            status=HandoverStatus.WAITING.value,
            created_at=now,
            updated_at=now,
        )
        uow.handovers.add(request)
        try:
            uow.commit()
        except IntegrityError:
            # Another worker queued this sender between our check and our insert.
            uow.rollback()
            existing = uow.handovers.open_for_sender(sender_id)
            if existing is None:
                raise
            return HandoverTicket(existing.id, False, uow.handovers.count_waiting_ahead(existing))
        return HandoverTicket(request.id, True, uow.handovers.count_waiting_ahead(request))


def list_waiting_handovers(uow_factory: UowFactory) -> list[WaitingHandover]:
    """The agents' queue: waiting requests, oldest first."""
    with uow_factory() as uow:
        return [
            WaitingHandover(r.id, r.sender_id, r.channel, r.reason, r.intent, r.last_message,
                            r.created_at)
            for r in uow.handovers.list_waiting()
        ]
