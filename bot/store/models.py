"""SQLAlchemy models of the operational store: mail items, their tracking events, handovers.

Times are stored as naive Beijing time (UTC+8, no daylight saving), the clock customers and
agents read; `as_store_time` brings any datetime into that convention.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declarative_base, relationship, validates

from bot.config import TIMEZONE, local_now
from bot.store.status import (
    OPEN_HANDOVER_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    HandoverStatus,
    PickupStatus,
    Priority,
    WorkOrderStatus,
)
from bot.text.tracking import normalise

Base = declarative_base()


def as_store_time(moment: datetime) -> datetime:
    """Return `moment` as naive Beijing time; naive input is taken to be Beijing time already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(TIMEZONE).replace(tzinfo=None)


class Money(TypeDecorator):
    """An exact decimal amount: NUMERIC where the database has it, text on SQLite.

    SQLite has no decimal type and would round-trip amounts through floats.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 12, scale: int = 2) -> None:
        super().__init__(precision, scale)
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(self._quantum)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value).quantize(self._quantum)


class MailItem(Base):
    """One mail item (letter or parcel) and its current state."""

    __tablename__ = "mail_item"
    __table_args__ = (
        # The daily report watches the items posted in the last weeks.
        Index("ix_mail_item_posted_at", "posted_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str] = Column(String(32), nullable=False, unique=True, index=True)
    product: Mapped[str] = Column(String(32), nullable=False)
    sender_area: Mapped[str] = Column(String(64), nullable=False)
    sender_prefecture: Mapped[str] = Column(String(64), nullable=False)
    recipient_area: Mapped[str] = Column(String(64), nullable=False)
    recipient_prefecture: Mapped[str] = Column(String(64), nullable=False)
    recipient_name: Mapped[str] = Column(String(64), nullable=False)
    recipient_phone: Mapped[str] = Column(String(32), nullable=False)
    recipient_address: Mapped[str] = Column(String(255), nullable=False)
    posted_at: Mapped[datetime] = Column(DateTime, nullable=False)
    promised_by: Mapped[datetime | None] = Column(DateTime, nullable=True)
    insured_value: Mapped[Decimal | None] = Column(Money(12, 2), nullable=True)
    postage: Mapped[Decimal] = Column(Money(10, 2), nullable=False)
    weight_g: Mapped[int] = Column(Integer, nullable=False)
    status: Mapped[str] = Column(String(24), nullable=False)
    signed_by: Mapped[str | None] = Column(String(64), nullable=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False, default=local_now)

    events: Mapped[list[TrackingEvent]] = relationship(
        "TrackingEvent",
        back_populates="mail",
        order_by="[TrackingEvent.occurred_at, TrackingEvent.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @validates("number")
    def _normalise_number(self, _key: str, number: str) -> str:
        return normalise(number)

    def __repr__(self) -> str:
        return f"<MailItem {self.number} {self.status}>"


class TrackingEvent(Base):
    """One scan of a mail item, as shown in its tracking trail."""

    __tablename__ = "tracking_event"
    __table_args__ = (
        # The daily report: the scans of one day, and each item's last scan before a moment.
        Index("ix_tracking_event_occurred_at", "occurred_at"),
        Index("ix_tracking_event_mail_occurred", "mail_id", "occurred_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    mail_id: Mapped[int] = Column(
        Integer, ForeignKey("mail_item.id", ondelete="CASCADE"), nullable=False, index=True
    )
    occurred_at: Mapped[datetime] = Column(DateTime, nullable=False)
    place: Mapped[str] = Column(String(128), nullable=False)
    unit: Mapped[str] = Column(String(128), nullable=False)
    status_code: Mapped[str] = Column(String(24), nullable=False)
    description: Mapped[str] = Column(Text, nullable=False)

    mail: Mapped[MailItem] = relationship("MailItem", back_populates="events")

    def __repr__(self) -> str:
        return f"<TrackingEvent {self.occurred_at:%Y-%m-%d %H:%M} {self.status_code} {self.place}>"


_OPEN_HANDOVER = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_HANDOVER_STATUSES))


class HandoverRequest(Base):
    """A customer's conversation waiting for, or taken by, a human agent."""

    __tablename__ = "handover_request"
    __table_args__ = (
        # At most one open request per sender, even when two bot workers race.
        Index(
            "uq_handover_open_sender",
            "sender_id",
            unique=True,
            sqlite_where=text(_OPEN_HANDOVER),
            postgresql_where=text(_OPEN_HANDOVER),
        ),
        Index("ix_handover_status_created", "status", "created_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    sender_id: Mapped[str] = Column(String(128), nullable=False, index=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    reason: Mapped[str] = Column(String(32), nullable=False)
    last_message: Mapped[str] = Column(Text, nullable=False, default="")
    intent: Mapped[str | None] = Column(String(64), nullable=True)
    status: Mapped[str] = Column(String(16), nullable=False, default=HandoverStatus.WAITING.value)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = Column(DateTime, nullable=False)
    # The agent (username) holding the conversation while it is taken.
    assigned_to: Mapped[str | None] = Column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<HandoverRequest {self.id} {self.sender_id} {self.status}>"


_OPEN_WORK_ORDER = "status IN ({}) AND mail_number IS NOT NULL".format(
    ", ".join(f"'{s.value}'" for s in OPEN_WORK_ORDER_STATUSES)
)


class WorkOrder(Base):
    """A work order (工单): a complaint or query that a seat must answer before its deadline.

    The deadline is fixed when the order is opened (from the channel's limit); remaining time
    and overdue state are computed when read. ``customer_phone`` is stored raw and shown
    masked wherever it leaves the store.
    """

    __tablename__ = "work_order"
    __table_args__ = (
        # One open order per mail and category: a second complaint links to the first.
        Index(
            "uq_work_order_open_mail_category",
            "mail_number",
            "category",
            unique=True,
            sqlite_where=text(_OPEN_WORK_ORDER),
            postgresql_where=text(_OPEN_WORK_ORDER),
        ),
        Index("ix_work_order_status_deadline", "status", "deadline"),
        Index("ix_work_order_customer_phone", "customer_phone"),
        # Reports: the orders received in a month, the orders still open at a moment.
        Index("ix_work_order_opened_at", "opened_at"),
        Index("ix_work_order_closed_at", "closed_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str | None] = Column(String(24), nullable=True, unique=True)
    # The originating channel's own number of the order that opened it (see WorkOrderSource).
    external_id: Mapped[str | None] = Column(String(64), nullable=True)
    channel: Mapped[str] = Column(String(24), nullable=False)
    category: Mapped[str] = Column(String(24), nullable=False)
    mail_number: Mapped[str | None] = Column(String(32), nullable=True, index=True)
    customer_phone: Mapped[str | None] = Column(String(32), nullable=True)
    customer_name: Mapped[str | None] = Column(String(64), nullable=True)
    sender_id: Mapped[str | None] = Column(String(128), nullable=True, index=True)
    description: Mapped[str] = Column(Text, nullable=False, default="")
    priority: Mapped[str] = Column(String(16), nullable=False, default=Priority.NORMAL.value)
    assigned_unit: Mapped[str | None] = Column(String(128), nullable=True)
    # The agent (username) handling the order: whoever started it first (see
    # bot.store.workorders for who may act on an order).
    assigned_to: Mapped[str | None] = Column(String(64), nullable=True)
    county: Mapped[str | None] = Column(String(64), nullable=True)
    status: Mapped[str] = Column(String(16), nullable=False, default=WorkOrderStatus.NEW.value)
    opened_at: Mapped[datetime] = Column(DateTime, nullable=False)
    deadline: Mapped[datetime] = Column(DateTime, nullable=False)
    answered_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    callback_satisfied: Mapped[bool | None] = Column(Boolean, nullable=True)
    responsible_unit: Mapped[str | None] = Column(String(128), nullable=True)
    contacts: Mapped[int] = Column(Integer, nullable=False, default=1)
    # The escalation order of a chased pickup (at most one per pickup).
    pickup_id: Mapped[int | None] = Column(
        Integer, ForeignKey("pickup_order.id", ondelete="SET NULL"), nullable=True, unique=True
    )

    history: Mapped[list[WorkOrderEvent]] = relationship(
        "WorkOrderEvent",
        back_populates="work_order",
        order_by="[WorkOrderEvent.at, WorkOrderEvent.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    @validates("mail_number")
    def _normalise_mail_number(self, _key: str, number: str | None) -> str | None:
        return normalise(number) if number else None

    def __repr__(self) -> str:
        return f"<WorkOrder {self.number} {self.channel}/{self.category} {self.status}>"


class WorkOrderSource(Base):
    """A channel's order (its own number) that was imported into, or linked to, a work order.

    Unique per channel and number, so importing the same export again writes nothing twice,
    also for rows that were linked to an order another row had opened.
    """

    __tablename__ = "work_order_source"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_work_order_source_channel_external"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    work_order_id: Mapped[int] = Column(
        Integer, ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False, index=True
    )
    channel: Mapped[str] = Column(String(24), nullable=False)
    external_id: Mapped[str] = Column(String(64), nullable=False)
    received_at: Mapped[datetime] = Column(DateTime, nullable=False)

    work_order: Mapped[WorkOrder] = relationship("WorkOrder")


class WorkOrderEvent(Base):
    """One line of a work order's history: who did what, when. Never changed once written."""

    __tablename__ = "work_order_event"

    id: Mapped[int] = Column(Integer, primary_key=True)
    work_order_id: Mapped[int] = Column(
        Integer, ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[datetime] = Column(DateTime, nullable=False)
    actor: Mapped[str] = Column(String(64), nullable=False)
    action: Mapped[str] = Column(String(24), nullable=False)
    detail: Mapped[str] = Column(Text, nullable=False, default="")

    work_order: Mapped[WorkOrder] = relationship("WorkOrder", back_populates="history")

    def __repr__(self) -> str:
        return f"<WorkOrderEvent {self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}>"


class PickupOrder(Base):
    """A booked collection (派揽) at a customer's address within a time window."""

    __tablename__ = "pickup_order"
    __table_args__ = (
        # Monthly statistics: the pickups booked in a month.
        Index("ix_pickup_order_created_at", "created_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str | None] = Column(String(24), nullable=True, unique=True)
    sender_id: Mapped[str | None] = Column(String(128), nullable=True, index=True)
    channel: Mapped[str] = Column(String(24), nullable=False)
    address: Mapped[str] = Column(String(255), nullable=False)
    phone: Mapped[str] = Column(String(32), nullable=False, index=True)
    time_window: Mapped[str] = Column(String(64), nullable=False)
    status: Mapped[str] = Column(String(16), nullable=False, default=PickupStatus.BOOKED.value)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = Column(DateTime, nullable=False)

    reminders: Mapped[list[PickupReminder]] = relationship(
        "PickupReminder",
        back_populates="pickup",
        order_by="[PickupReminder.at, PickupReminder.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def __repr__(self) -> str:
        return f"<PickupOrder {self.number} {self.status}>"


class PickupReminder(Base):
    """One chase (催) of a pickup; ``turn_key`` makes a customer turn count once."""

    __tablename__ = "pickup_reminder"
    __table_args__ = (
        UniqueConstraint("pickup_id", "turn_key", name="uq_pickup_reminder_turn"),
        # The daily report: the chases of one day.
        Index("ix_pickup_reminder_at", "at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    pickup_id: Mapped[int] = Column(
        Integer, ForeignKey("pickup_order.id", ondelete="CASCADE"), nullable=False, index=True
    )
    turn_key: Mapped[str] = Column(String(128), nullable=False)
    at: Mapped[datetime] = Column(DateTime, nullable=False)

    pickup: Mapped[PickupOrder] = relationship("PickupOrder", back_populates="reminders")


@event.listens_for(WorkOrderEvent, "before_update")
def _history_is_append_only(_mapper: Any, _connection: Any, target: WorkOrderEvent) -> None:
    raise ValueError(f"work-order history is append-only (event {target.id})")
