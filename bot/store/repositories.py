"""Repositories: the only code that queries the store's tables (cosmicpython style)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.models import (
    HandoverRequest,
    MailItem,
    PickupOrder,
    PickupReminder,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderSource,
)
from bot.store.status import (
    OPEN_HANDOVER_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    HandoverStatus,
    PickupStatus,
    StatusCode,
    WorkOrderStatus,
)
from bot.text.tracking import normalise

_OPEN = [s.value for s in OPEN_HANDOVER_STATUSES]
_OPEN_ORDERS = [s.value for s in OPEN_WORK_ORDER_STATUSES]


class MailRepository:
    """Mail items with their tracking events."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, mail: MailItem) -> None:
        """Stage a new mail item (and its events) for the next commit."""
        self.session.add(mail)

    def remove(self, mail: MailItem) -> None:
        """Delete a mail item and its events."""
        self.session.delete(mail)
        # Flush now: the session would otherwise insert a replacement before deleting this row.
        self.session.flush()

    def get_by_number(self, number: str) -> MailItem | None:
        """Find a mail item by its number as a customer typed it (any case, spaces, dashes)."""
        stmt = select(MailItem).where(MailItem.number == normalise(number))
        return self.session.execute(stmt).scalar_one_or_none()

    def list(self, status: StatusCode | None = None) -> list[MailItem]:
        """All mail items, newest posting first, optionally only those in one status."""
        stmt = select(MailItem).order_by(MailItem.posted_at.desc(), MailItem.id.desc())
        if status is not None:
            stmt = stmt.where(MailItem.status == StatusCode(status).value)
        return list(self.session.execute(stmt).scalars())


class HandoverRepository:
    """Requests to hand a conversation over to an agent."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, request: HandoverRequest) -> None:
        """Stage a new handover request for the next commit."""
        self.session.add(request)

    def open_for_sender(self, sender_id: str) -> HandoverRequest | None:
        """The sender's request that is still waiting or being handled, if any."""
        stmt = select(HandoverRequest).where(
            HandoverRequest.sender_id == sender_id, HandoverRequest.status.in_(_OPEN)
        )
        return self.session.execute(stmt).scalars().first()

    def count_waiting_ahead(self, request: HandoverRequest) -> int:
        """How many waiting requests were made before `request` (0 if it is not waiting)."""
        if request.status != HandoverStatus.WAITING.value:
            return 0
        stmt = select(func.count(HandoverRequest.id)).where(
            HandoverRequest.status == HandoverStatus.WAITING.value,
            or_(
                HandoverRequest.created_at < request.created_at,
                and_(HandoverRequest.created_at == request.created_at, HandoverRequest.id < request.id),
            ),
        )
        return int(self.session.execute(stmt).scalar_one())

    def list_waiting(self) -> list[HandoverRequest]:
        """Waiting requests, oldest first (the agents' queue)."""
        stmt = (
            select(HandoverRequest)
            .where(HandoverRequest.status == HandoverStatus.WAITING.value)
            .order_by(HandoverRequest.created_at, HandoverRequest.id)
        )
        return list(self.session.execute(stmt).scalars())


class WorkOrderRepository:
    """Work orders and their append-only history."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order: WorkOrder) -> None:
        """Stage a new work order; ``flush`` gives it an id."""
        self.session.add(order)

    def flush(self) -> None:
        self.session.flush()

    def log(self, order: WorkOrder, at: datetime, actor: str, action: str, detail: str = "") -> None:
        """Append one line to the order's history."""
        order.history.append(WorkOrderEvent(at=at, actor=actor, action=action, detail=detail))

    def get_by_number(self, number: str, lock: bool = False) -> WorkOrder | None:
        """The order with this number (``lock``: row-locked until commit where supported)."""
        stmt = select(WorkOrder).where(WorkOrder.number == number.strip().upper())
        if lock:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def take(self, order: WorkOrder, username: str) -> bool:
        """Make `username` the order's holder if nobody holds it; False if someone does.

        A conditional update, so that of two agents taking the same order at once exactly one
        wins also where row locks are not available (SQLite).
        """
        result = self.session.execute(
            update(WorkOrder)
            .where(WorkOrder.id == order.id, WorkOrder.assigned_to.is_(None))
            .values(assigned_to=username)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return False
        set_committed_value(order, "assigned_to", username)
        return True

    def open_for_mail(self, mail_number: str, category: str) -> WorkOrder | None:
        """The open order for this mail and category, if any."""
        stmt = select(WorkOrder).where(
            WorkOrder.mail_number == normalise(mail_number),
            WorkOrder.category == category,
            WorkOrder.status.in_(_OPEN_ORDERS),
        )
        return self.session.execute(stmt).scalars().first()

    def by_external_id(self, channel: str, external_id: str) -> WorkOrder | None:
        """The order that `channel`'s order `external_id` was imported into or linked to."""
        stmt = select(WorkOrder).join(WorkOrderSource).where(
            WorkOrderSource.channel == channel, WorkOrderSource.external_id == external_id
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def add_source(self, order: WorkOrder, channel: str, external_id: str,
                   received_at: datetime) -> None:
        """Remember that `channel`'s order `external_id` went into `order`."""
        self.session.add(WorkOrderSource(work_order=order, channel=channel,
                                         external_id=external_id, received_at=received_at))

    def for_pickup(self, pickup_id: int) -> WorkOrder | None:
        """The escalation order of a pickup, if one was opened."""
        stmt = select(WorkOrder).where(WorkOrder.pickup_id == pickup_id)
        return self.session.execute(stmt).scalar_one_or_none()

    def find(
        self,
        mail_number: str | None = None,
        phone: str | None = None,
        sender_id: str | None = None,
    ) -> list[WorkOrder]:
        """Orders matching any of the given keys, newest first."""
        conditions = []
        if mail_number:
            conditions.append(WorkOrder.mail_number == normalise(mail_number))
        if phone:
            conditions.append(WorkOrder.customer_phone == phone)
        if sender_id:
            conditions.append(WorkOrder.sender_id == sender_id)
        if not conditions:
            return []
        stmt = (
            select(WorkOrder)
            .where(or_(*conditions))
            .order_by(WorkOrder.opened_at.desc(), WorkOrder.id.desc())
        )
        return list(self.session.execute(stmt).scalars())

    def list(self) -> list[WorkOrder]:
        """Every order, soonest deadline first."""
        stmt = select(WorkOrder).order_by(WorkOrder.deadline, WorkOrder.id)
        return list(self.session.execute(stmt).scalars())

    @staticmethod
    def overdue_at(now: datetime) -> Any:
        """SQL for `bot.store.workorders.is_overdue`: open, unanswered, past the deadline."""
        return and_(WorkOrder.status != WorkOrderStatus.CLOSED.value,
                    WorkOrder.answered_at.is_(None), WorkOrder.deadline < now)

    def page(self, now: datetime, *, channel: str | None = None, status: str | None = None,
             county: str | None = None, category: str | None = None,
             overdue_only: bool = False, limit: int = 200) -> tuple[list[WorkOrder], int]:
        """Orders passing the filters: overdue first, then open, then by deadline; and how many.

        Two queries (the page, the count); histories are not loaded.
        """
        conditions = [column == value for column, value in (
            (WorkOrder.channel, channel), (WorkOrder.status, status),
            (WorkOrder.county, county), (WorkOrder.category, category)) if value is not None]
        overdue = self.overdue_at(now)
        if overdue_only:
            conditions.append(overdue)
        is_closed = WorkOrder.status == WorkOrderStatus.CLOSED.value
        stmt = (select(WorkOrder).where(*conditions)
                .order_by(case((overdue, 0), else_=1), case((is_closed, 1), else_=0),
                          WorkOrder.deadline, WorkOrder.id)
                .limit(limit))
        total = self.session.execute(
            select(func.count(WorkOrder.id)).where(*conditions)).scalar_one()
        return list(self.session.execute(stmt).scalars()), int(total)

    def counties(self) -> list[str]:
        """Every county an order is filed under, sorted."""
        stmt = select(WorkOrder.county).where(WorkOrder.county.is_not(None)).distinct()
        return sorted(c for c in self.session.execute(stmt).scalars() if c)


class PickupRepository:
    """Pickup bookings and the customers' reminders."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, pickup: PickupOrder) -> None:
        self.session.add(pickup)

    def flush(self) -> None:
        self.session.flush()

    def get_by_number(self, number: str) -> PickupOrder | None:
        stmt = select(PickupOrder).where(PickupOrder.number == number.strip().upper())
        return self.session.execute(stmt).scalar_one_or_none()

    def latest_open(self, sender_id: str | None = None, phone: str | None = None) -> PickupOrder | None:
        """The customer's most recent booking that is still waiting to be collected."""
        conditions = []
        if sender_id:
            conditions.append(PickupOrder.sender_id == sender_id)
        if phone:
            conditions.append(PickupOrder.phone == phone)
        if not conditions:
            return None
        stmt = (
            select(PickupOrder)
            .where(or_(*conditions), PickupOrder.status == PickupStatus.BOOKED.value)
            .order_by(PickupOrder.created_at.desc(), PickupOrder.id.desc())
        )
        return self.session.execute(stmt).scalars().first()

    def count_reminders(self, pickup_id: int) -> int:
        stmt = select(func.count(PickupReminder.id)).where(PickupReminder.pickup_id == pickup_id)
        return int(self.session.execute(stmt).scalar_one())

    def add_reminder(self, reminder: PickupReminder) -> None:
        self.session.add(reminder)
