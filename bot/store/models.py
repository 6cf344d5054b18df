"""Every table of the operational store, on one ``Base.metadata``.

This module is the schema's registry: the engine setup (`bot.store.db`) and the Alembic
environment (``bot/store/migrations/env.py``) both read `Base.metadata` from here, so they see
the same tables. Sections: mail items and their tracking events, hand-overs, work orders and
pickups; workbench accounts and failed-login throttles (services in `bot.store.accounts`) and
the workbench's browser sessions (`web_session`, used by `bot.workbench.auth`); the
agents' desk (`bot.store.desk`); the trainers' NLU inbox (services in `bot.trainer.inbox`).
Queries live in `bot.store.repositories`.

Times are stored as naive Beijing time (UTC+8, no daylight saving), the clock customers and
agents read; `as_store_time` brings any datetime into that convention.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, registry, relationship, validates

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

_registry = registry()


@_registry.as_declarative_base()
class Base:
    """The declarative base of every table here; ``Base.metadata`` is the whole schema.

    The annotations tell type checkers what the declarative machinery adds at run time
    (SQLAlchemy 1.4 ships no type information).
    """

    metadata: ClassVar[MetaData]
    __table__: ClassVar[Table]

    if TYPE_CHECKING:
        def __init__(self, **columns: Any) -> None: ...


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
        """A string column on SQLite (no exact decimals there), NUMERIC elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """The amount rounded to the column's scale (as text on SQLite)."""
        if value is None:
            return None
        amount = Decimal(value).quantize(self._quantum)
        return str(amount) if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """The stored amount as a `Decimal` of the column's scale."""
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


# --- workbench accounts (bot.store.accounts) ------------------------------------------------

USERNAME_MAX = 64
DISPLAY_NAME_MAX = 64
ROLE_MAX = 16
HASH_MAX = 255
THROTTLE_KIND_MAX = 8
# Room for any username (64 characters) or client address (IPv6 with a zone included).
THROTTLE_KEY_MAX = 255


class Account(Base):
    """A person who logs in to the workbench."""

    __tablename__ = "account"

    id: Mapped[int] = Column(Integer, primary_key=True)
    username: Mapped[str] = Column(String(USERNAME_MAX), nullable=False, unique=True)
    password_hash: Mapped[str] = Column(String(HASH_MAX), nullable=False)
    role: Mapped[str] = Column(String(ROLE_MAX), nullable=False)
    display_name: Mapped[str] = Column(String(DISPLAY_NAME_MAX), nullable=False, default="")
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False, default=local_now)
    last_login_at: Mapped[datetime | None] = Column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"<Account {self.username} {self.role}{'' if self.active else ' inactive'}>"


class LoginThrottle(Base):
    """Recent failed logins of one username or one client address.

    A username is counted whether or not an account has it (see the module docstring).
    A row is forgotten once `LoginPolicy.lockout` has passed since its last failure.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_login_throttle"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    kind: Mapped[str] = Column(String(THROTTLE_KIND_MAX), nullable=False)
    key: Mapped[str] = Column(String(THROTTLE_KEY_MAX), nullable=False)
    failures: Mapped[int] = Column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime] = Column(DateTime, nullable=False)
    # No login is heard for this username or address before this time (None: no wait).
    blocked_until: Mapped[datetime | None] = Column(DateTime, nullable=True)


# A SHA-256 in hex; secrets.token_urlsafe(32) is 43 characters.
SESSION_KEY_MAX = 64
CSRF_TOKEN_MAX = 64


class WebSession(Base):
    """A workbench browser session, logged in or anonymous, shared by every workbench process.

    Only the SHA-256 of the id in the cookie is kept (`key`), so a copy of this table cannot
    be replayed as a login. The policy (idle and absolute timeouts) is the workbench's
    (`bot.workbench.auth.SessionStore`); the row only carries its outcome, `expires_at`.
    """

    __tablename__ = "web_session"

    key: Mapped[str] = Column(String(SESSION_KEY_MAX), primary_key=True)
    csrf_token: Mapped[str] = Column(String(CSRF_TOKEN_MAX), nullable=False)
    # None: an anonymous session (it only carries the login form's CSRF token).
    account_id: Mapped[int | None] = Column(
        Integer, ForeignKey("account.id", ondelete="CASCADE"), nullable=True, index=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False)
    last_seen_at: Mapped[datetime] = Column(DateTime, nullable=False)
    # The session is over from this moment on (expired rows are purged by this index).
    expires_at: Mapped[datetime] = Column(DateTime, nullable=False, index=True)


# --- the agents' desk (bot.store.desk) ----------------------------------------------------


class HandoverEvent(Base):
    """One step of a hand-over: queued, claimed, transferred, released, handed back, replied."""

    __tablename__ = "handover_event"

    id: Mapped[int] = Column(Integer, primary_key=True)
    handover_id: Mapped[int] = Column(
        Integer, ForeignKey("handover_request.id", ondelete="CASCADE"), nullable=False, index=True
    )
    at: Mapped[datetime] = Column(DateTime, nullable=False)
    actor: Mapped[str] = Column(String(64), nullable=False)
    action: Mapped[str] = Column(String(24), nullable=False)
    detail: Mapped[str] = Column(Text, nullable=False, default="")


@event.listens_for(HandoverEvent, "before_update")
def _events_are_append_only(*_: object) -> None:
    raise RuntimeError("handover_event rows are never changed")


class AgentReply(Base):
    """An agent's decision on a suggested reply (or a reply of their own) and its delivery."""

    __tablename__ = "agent_reply"
    __table_args__ = (
        # A request key means something only within its conversation.
        UniqueConstraint("handover_id", "request_key", name="uq_agent_reply_handover_key"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    request_key: Mapped[str] = Column(String(64), nullable=False)
    handover_id: Mapped[int] = Column(
        Integer, ForeignKey("handover_request.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sender_id: Mapped[str] = Column(String(128), nullable=False, index=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    agent: Mapped[str] = Column(String(64), nullable=False, index=True)
    suggestion_kind: Mapped[str | None] = Column(String(32), nullable=True)
    suggested_text: Mapped[str | None] = Column(Text, nullable=True)
    final_text: Mapped[str | None] = Column(Text, nullable=True)
    decision: Mapped[str] = Column(String(12), nullable=False)
    edit_distance: Mapped[int | None] = Column(Integer, nullable=True)
    delivery: Mapped[str] = Column(String(12), nullable=False)
    delivery_error: Mapped[str] = Column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = Column(DateTime, nullable=False, index=True)
    delivered_at: Mapped[datetime | None] = Column(DateTime, nullable=True)


class ConversationDay(Base):
    """A customer who wrote to the bot on a day, per channel: the base of bot containment.

    One row per (sender, channel, day); ``messages`` counts what they sent that day.
    """

    __tablename__ = "conversation_day"
    __table_args__ = (UniqueConstraint("sender_id", "channel", "day",
                                       name="uq_conversation_day"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    sender_id: Mapped[str] = Column(String(128), nullable=False)
    channel: Mapped[str] = Column(String(32), nullable=False)
    day: Mapped[date] = Column(Date, nullable=False, index=True)
    messages: Mapped[int] = Column(Integer, nullable=False, default=0)


# --- the trainers' NLU inbox (bot.trainer.inbox) -------------------------------------------


class NluCandidate(Base):
    """A customer message waiting for (or done with) a trainer's review."""

    __tablename__ = "nlu_candidate"
    __table_args__ = (Index("ix_nlu_candidate_status_received", "status", "received_at"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    # Where it came from: "tracker:<sender>:<timestamp>" or "correction:<sender>:<time>:<hash>".
    source_key: Mapped[str] = Column(String(320), nullable=False, unique=True)
    sender_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)  # raw; shown masked (review_text)
    received_at: Mapped[datetime] = Column(DateTime, nullable=False, index=True)
    reason: Mapped[str] = Column(String(24), nullable=False)
    predicted_intent: Mapped[str | None] = Column(String(64), nullable=True)
    confidence: Mapped[float | None] = Column(Float, nullable=True)
    predicted_entities: Mapped[str] = Column(Text, nullable=False, default="[]")  # JSON
    suggested_intent: Mapped[str | None] = Column(String(64), nullable=True)  # an agent's
    reported_by: Mapped[str | None] = Column(String(64), nullable=True)  # that agent
    status: Mapped[str] = Column(String(12), nullable=False)
    intent: Mapped[str | None] = Column(String(64), nullable=True)  # the trainer's choice
    entities: Mapped[str] = Column(Text, nullable=False, default="[]")  # JSON spans
    note: Mapped[str | None] = Column(Text, nullable=True)  # why in conflict / not written
    reviewed_by: Mapped[str | None] = Column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    exported_at: Mapped[datetime | None] = Column(DateTime, nullable=True)


class CollectCursor(Base):
    """How far `collect` has read a source (the tracker's events, the agents' replies)."""

    __tablename__ = "nlu_collect_cursor"

    source: Mapped[str] = Column(String(32), primary_key=True)
    origin: Mapped[str] = Column(String(64), nullable=False)  # SHA-256 of the tracker URL
    position: Mapped[int] = Column(Integer, nullable=False)  # the last id read
    updated_at: Mapped[datetime] = Column(DateTime, nullable=False)


# --- Call desk (issue 17): tables below this line -------------------------------------------

CALL_LINE_MAX = 8  # "11183" or "11185"


class CallRecord(Base):
    """A telephone call an agent took (11183 or 11185); services in `bot.store.calls`.

    ``phone`` is stored raw (the agent calls back) and shown masked to every other role.
    """

    __tablename__ = "call_record"
    __table_args__ = (
        # Monthly statistics: the calls of a month.
        Index("ix_call_record_started_at", "started_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    phone: Mapped[str] = Column(String(32), nullable=False, index=True)
    line: Mapped[str] = Column(String(CALL_LINE_MAX), nullable=False)
    agent: Mapped[str] = Column(String(64), nullable=False, index=True)
    started_at: Mapped[datetime] = Column(DateTime, nullable=False)
    ended_at: Mapped[datetime | None] = Column(DateTime, nullable=True)

    lines: Mapped[list[CallLine]] = relationship(
        "CallLine", order_by="CallLine.id", cascade="all, delete-orphan", passive_deletes=True)


class CallLine(Base):
    """One thing the caller said, as the agent typed it, with the bot's reading of it."""

    __tablename__ = "call_line"

    id: Mapped[int] = Column(Integer, primary_key=True)
    call_id: Mapped[int] = Column(
        Integer, ForeignKey("call_record.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[datetime] = Column(DateTime, nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)
    intent: Mapped[str | None] = Column(String(64), nullable=True)
    confidence: Mapped[float | None] = Column(Float, nullable=True)
    entities: Mapped[str] = Column(Text, nullable=False, default="[]")  # JSON


class CallReply(Base):
    """An agent's decision on a suggested answer during a call (as `AgentReply` for chats)."""

    __tablename__ = "call_reply"
    __table_args__ = (
        UniqueConstraint("call_id", "request_key", name="uq_call_reply_call_key"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    call_id: Mapped[int] = Column(
        Integer, ForeignKey("call_record.id", ondelete="CASCADE"), nullable=False, index=True)
    request_key: Mapped[str] = Column(String(64), nullable=False)
    agent: Mapped[str] = Column(String(64), nullable=False)
    suggestion_kind: Mapped[str | None] = Column(String(32), nullable=True)
    suggested_text: Mapped[str | None] = Column(Text, nullable=True)
    final_text: Mapped[str | None] = Column(Text, nullable=True)
    decision: Mapped[str] = Column(String(12), nullable=False)
    edit_distance: Mapped[int | None] = Column(Integer, nullable=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False, index=True)


class CallWorkOrder(Base):
    """A work order opened (or linked to) from a call."""

    __tablename__ = "call_work_order"
    __table_args__ = (
        UniqueConstraint("call_id", "work_order_id", name="uq_call_work_order"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    call_id: Mapped[int] = Column(
        Integer, ForeignKey("call_record.id", ondelete="CASCADE"), nullable=False, index=True)
    work_order_id: Mapped[int] = Column(
        Integer, ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[datetime] = Column(DateTime, nullable=False)



# --- Proactive service (issue 16): tables below this line -----------------------------------

# Who and what the proactive service (主动客服) watches, its tasks and its notices; services in
# `bot.store.proactive`, rules and the scan in `bot.proactive`.

VIP_NAME_MAX = 128
OPENID_MAX = 64
NOTICE_KEY_MAX = 96
PROJECT_MAX = 64


class VipCustomer(Base):
    """A VIP customer (大客户): a business or institution whose mail the seats follow.

    Notices go only to a customer with ``consent`` who has not opted out (``opted_out``, set
    when they reply 退订) and whose WeChat ``openid`` is bound.
    """

    __tablename__ = "vip_customer"

    id: Mapped[int] = Column(Integer, primary_key=True)
    name: Mapped[str] = Column(String(VIP_NAME_MAX), nullable=False, unique=True)
    contact_name: Mapped[str] = Column(String(64), nullable=False, default="")
    contact_phone: Mapped[str] = Column(String(32), nullable=False, default="")
    unit: Mapped[str] = Column(String(128), nullable=False, default="")
    account_manager: Mapped[str] = Column(String(64), nullable=False, default="")
    openid: Mapped[str | None] = Column(String(OPENID_MAX), nullable=True, unique=True)
    consent: Mapped[bool] = Column(Boolean, nullable=False, default=False)
    opted_out: Mapped[bool] = Column(Boolean, nullable=False, default=False)
    opted_out_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = Column(DateTime, nullable=False)


class WatchedMail(Base):
    """A mail number the proactive scan follows, and why: ``vip``, ``te_an`` (特安), ``project``."""

    __tablename__ = "watched_mail"
    __table_args__ = (
        UniqueConstraint("mail_number", "reason", name="uq_watched_mail_number_reason"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    mail_number: Mapped[str] = Column(String(32), nullable=False, index=True)
    reason: Mapped[str] = Column(String(16), nullable=False)
    project: Mapped[str | None] = Column(String(PROJECT_MAX), nullable=True)
    vip_id: Mapped[int | None] = Column(
        Integer, ForeignKey("vip_customer.id", ondelete="SET NULL"), nullable=True, index=True)
    added_at: Mapped[datetime] = Column(DateTime, nullable=False)

    @validates("mail_number")
    def _normalise_number(self, _key: str, number: str) -> str:
        return normalise(number)


class ProactiveTask(Base):
    """A proactive task (主动客服任务): one exception of one watched mail for an agent to follow.

    At most one open task per mail and exception (the partial unique index), however many
    scans run at once; a closed task stays as history and a later relapse opens a new one.
    """

    __tablename__ = "proactive_task"
    __table_args__ = (
        Index(
            "uq_proactive_task_open_mail_exception",
            "mail_number",
            "exception",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_proactive_task_status_deadline", "status", "deadline"),
        Index("ix_proactive_task_opened_at", "opened_at"),
        Index("ix_proactive_task_closed_by", "closed_by"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    mail_number: Mapped[str] = Column(String(32), nullable=False)
    exception: Mapped[str] = Column(String(24), nullable=False)
    status: Mapped[str] = Column(String(8), nullable=False, default="open")
    detail: Mapped[str] = Column(Text, nullable=False, default="")
    # Why the mail is watched, e.g. "vip,te_an", and the key project and VIP customer, if any.
    watch_reasons: Mapped[str] = Column(String(48), nullable=False, default="")
    project: Mapped[str | None] = Column(String(PROJECT_MAX), nullable=True)
    vip_id: Mapped[int | None] = Column(
        Integer, ForeignKey("vip_customer.id", ondelete="SET NULL"), nullable=True, index=True)
    responsible_unit: Mapped[str | None] = Column(String(128), nullable=True, index=True)
    opened_at: Mapped[datetime] = Column(DateTime, nullable=False)
    # The scan (or person) that opened it: how a scan finds the rows it inserted itself.
    opened_by: Mapped[str] = Column(String(64), nullable=False, index=True)
    deadline: Mapped[datetime] = Column(DateTime, nullable=False)
    assigned_to: Mapped[str | None] = Column(String(64), nullable=True)
    # The first action an agent recorded (notified, called, unit contacted, resolved).
    handled_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = Column(String(64), nullable=True)
    # "recovered" (the trail came right) or "resolved" (an agent closed it).
    close_reason: Mapped[str | None] = Column(String(12), nullable=True)

    history: Mapped[list[ProactiveTaskEvent]] = relationship(
        "ProactiveTaskEvent",
        order_by="[ProactiveTaskEvent.at, ProactiveTaskEvent.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ProactiveTaskEvent(Base):
    """One line of a proactive task's history. Never changed once written."""

    __tablename__ = "proactive_task_event"

    id: Mapped[int] = Column(Integer, primary_key=True)
    task_id: Mapped[int] = Column(
        Integer, ForeignKey("proactive_task.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[datetime] = Column(DateTime, nullable=False)
    actor: Mapped[str] = Column(String(64), nullable=False)
    action: Mapped[str] = Column(String(24), nullable=False)
    detail: Mapped[str] = Column(Text, nullable=False, default="")


@event.listens_for(ProactiveTaskEvent, "before_update")
def _task_history_is_append_only(*_: object) -> None:
    raise RuntimeError("proactive_task_event rows are never changed")


class ProactiveNotice(Base):
    """One intended notice to a VIP customer (the outbox): written once per ``key``.

    ``status``: pending (waiting for ``due_at``), sending (claimed by one sender), sent,
    failed (refused or retries spent), skipped (no consent any more, opted out, or the day's
    cap reached) or unknown (a send interrupted, or one WeChat may have received: never
    retried, so never sent twice).
    ``text`` is already masked.
    """

    __tablename__ = "proactive_notice"
    __table_args__ = (
        Index("ix_proactive_notice_status_due", "status", "due_at"),
        Index("ix_proactive_notice_vip_sent", "vip_id", "sent_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    key: Mapped[str] = Column(String(NOTICE_KEY_MAX), nullable=False, unique=True)
    task_id: Mapped[int | None] = Column(
        Integer, ForeignKey("proactive_task.id", ondelete="SET NULL"), nullable=True, index=True)
    vip_id: Mapped[int] = Column(
        Integer, ForeignKey("vip_customer.id", ondelete="CASCADE"), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)
    status: Mapped[str] = Column(String(8), nullable=False, default="pending")
    due_at: Mapped[datetime] = Column(DateTime, nullable=False)
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = Column(DateTime, nullable=False)
    sent_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    last_error: Mapped[str] = Column(Text, nullable=False, default="")
