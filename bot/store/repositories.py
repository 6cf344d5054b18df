"""Repositories: the only code that queries the store's tables (cosmicpython style)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.models import (
    Account,
    AgentReply,
    CollectCursor,
    ConversationDay,
    HandoverEvent,
    HandoverRequest,
    LoginThrottle,
    MailItem,
    NluCandidate,
    PickupOrder,
    PickupReminder,
    WebSession,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderSource,
)
from bot.store.status import (
    OPEN_HANDOVER_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    Delivery,
    HandoverStatus,
    PickupStatus,
    ReplyDecision,
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
                and_(HandoverRequest.created_at == request.created_at,
                     HandoverRequest.id < request.id),
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

    def count_waiting(self) -> int:
        """How many requests `list_waiting` lists, counted in the database (no rows loaded)."""
        stmt = select(func.count(HandoverRequest.id)).where(
            HandoverRequest.status == HandoverStatus.WAITING.value)
        return int(self.session.execute(stmt).scalar_one())


class WorkOrderRepository:
    """Work orders and their append-only history."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order: WorkOrder) -> None:
        """Stage a new work order; ``flush`` gives it an id."""
        self.session.add(order)

    def flush(self) -> None:
        """Send staged orders to the database now (gives new ones their id)."""
        self.session.flush()

    def log(self, order: WorkOrder, at: datetime, actor: str, action: str,
            detail: str = "") -> None:
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

    def count_overdue(self, now: datetime) -> int:
        """How many orders `page(now, overdue_only=True)` lists, counted in the database."""
        stmt = select(func.count(WorkOrder.id)).where(self.overdue_at(now))
        return int(self.session.execute(stmt).scalar_one())

    def counties(self) -> list[str]:
        """Every county an order is filed under, sorted."""
        stmt = select(WorkOrder.county).where(WorkOrder.county.is_not(None)).distinct()
        return sorted(c for c in self.session.execute(stmt).scalars() if c)

    def list(self) -> list[WorkOrder]:
        """Every order, soonest deadline first."""
        stmt = select(WorkOrder).order_by(WorkOrder.deadline, WorkOrder.id)
        return list(self.session.execute(stmt).scalars())



class PickupRepository:
    """Pickup bookings and the customers' reminders."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, pickup: PickupOrder) -> None:
        """Stage a new booking; ``flush`` gives it an id."""
        self.session.add(pickup)

    def flush(self) -> None:
        """Send staged bookings to the database now (gives new ones their id)."""
        self.session.flush()

    def get_by_number(self, number: str) -> PickupOrder | None:
        """The booking with this number (any case, surrounding spaces ignored)."""
        stmt = select(PickupOrder).where(PickupOrder.number == number.strip().upper())
        return self.session.execute(stmt).scalar_one_or_none()

    def latest_open(self, sender_id: str | None = None,
                    phone: str | None = None) -> PickupOrder | None:
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
        """How many times the customer has chased this pickup."""
        stmt = select(func.count(PickupReminder.id)).where(PickupReminder.pickup_id == pickup_id)
        return int(self.session.execute(stmt).scalar_one())

    def add_reminder(self, reminder: PickupReminder) -> None:
        """Stage one chase; its turn key makes a repeated turn fail on commit."""
        self.session.add(reminder)


class AccountRepository:
    """Workbench accounts and the failed-login counters (``account``, ``login_throttle``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, account: Account) -> None:
        """Stage a new account for the next commit."""
        self.session.add(account)

    def get(self, account_id: int) -> Account | None:
        """The account with this id, or None."""
        return self.session.get(Account, account_id)

    def get_by_username(self, username: str) -> Account | None:
        """The account with this (already normalised) username."""
        stmt = select(Account).where(Account.username == username)
        return self.session.execute(stmt).scalar_one_or_none()

    def throttles(self, keys: list[tuple[str, str]]) -> list[LoginThrottle]:
        """The failed-login counters of these ``(kind, key)`` pairs that exist."""
        stmt = select(LoginThrottle).where(or_(*(
            and_(LoginThrottle.kind == kind, LoginThrottle.key == key) for kind, key in keys)))
        return list(self.session.execute(stmt).scalars())

    def add_throttle(self, throttle: LoginThrottle) -> None:
        """Stage a new failed-login counter for the next commit."""
        self.session.add(throttle)

    def drop_spent_throttles(self, forgotten: datetime, now: datetime) -> None:
        """Delete the counters whose last failure is before `forgotten` and whose wait is over."""
        self.session.execute(delete(LoginThrottle).where(
            LoginThrottle.last_failure_at <= forgotten,
            or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        ).execution_options(synchronize_session=False))

    def forget_throttle(self, kind: str, key: str) -> int:
        """Delete one counter; how many rows went (0 or 1)."""
        result = self.session.execute(delete(LoginThrottle).where(
            LoginThrottle.kind == kind, LoginThrottle.key == key))
        return result.rowcount or 0

    def live_throttles(self, remembered_since: datetime, now: datetime) -> list[LoginThrottle]:
        """Counters with a failure after `remembered_since` or a wait still running at `now`."""
        stmt = select(LoginThrottle).where(or_(
            LoginThrottle.last_failure_at > remembered_since,
            and_(LoginThrottle.blocked_until.is_not(None), LoginThrottle.blocked_until > now),
        ))
        return list(self.session.execute(stmt).scalars())

    def list(self, include_inactive: bool = True) -> list[Account]:
        """Accounts by role, then username."""
        stmt = select(Account).order_by(Account.role, Account.username)
        if not include_inactive:
            stmt = stmt.where(Account.active.is_(True))
        return list(self.session.execute(stmt).scalars())


class WebSessionRepository:
    """The workbench's browser sessions (``web_session``), found by the digest of their id."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: WebSession) -> None:
        """Stage a new session for the next commit."""
        self.session.add(row)

    def get(self, key: str) -> WebSession | None:
        """The session whose id has this SHA-256 (expired or not), or None."""
        return self.session.get(WebSession, key)

    def touch(self, key: str, seen_at: datetime, expires_at: datetime) -> int:
        """Record a request at `seen_at` and the new end; how many rows changed (0 or 1)."""
        result = self.session.execute(update(WebSession).where(WebSession.key == key).values(
            last_seen_at=seen_at, expires_at=expires_at,
        ).execution_options(synchronize_session=False))
        return result.rowcount or 0

    def remove(self, key: str) -> int:
        """Delete one session; how many rows went (0 if another process ended it first)."""
        result = self.session.execute(delete(WebSession).where(WebSession.key == key)
                                      .execution_options(synchronize_session=False))
        return result.rowcount or 0

    def remove_expired(self, now: datetime) -> int:
        """Delete every session over at `now`; how many went."""
        result = self.session.execute(delete(WebSession).where(WebSession.expires_at <= now)
                                      .execution_options(synchronize_session=False))
        return result.rowcount or 0

    def count(self) -> int:
        """How many sessions are stored (expired ones not yet purged included)."""
        return self.session.execute(select(func.count()).select_from(WebSession)).scalar_one()


class DeskRepository:
    """The agents' desk: hand-over steps, agent replies and conversation days."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def open_queue(self, limit: int) -> list[HandoverRequest]:
        """Open hand-overs: waiting ones first (oldest first), then taken ones (oldest first)."""
        stmt = (
            select(HandoverRequest)
            .where(HandoverRequest.status.in_(_OPEN))
            .order_by(HandoverRequest.status.desc(), HandoverRequest.created_at,
                      HandoverRequest.id)
            .limit(limit)
        )
        # 'waiting' sorts after 'taken' alphabetically: descending puts waiting first.
        return list(self.session.execute(stmt).scalars())

    def get(self, handover_id: int) -> HandoverRequest | None:
        """One hand-over request, or None."""
        return self.session.get(HandoverRequest, handover_id)

    def lock(self, handover_id: int) -> HandoverRequest | None:
        """One hand-over request, row-locked until commit where supported."""
        stmt = select(HandoverRequest).where(HandoverRequest.id == handover_id).with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def claim(self, handover_id: int, agent: str, now: datetime) -> bool:
        """Make `agent` the holder of a waiting request; False when it was not waiting.

        A conditional update: of two agents claiming at once, exactly one wins.
        """
        result = self.session.execute(
            update(HandoverRequest)
            .where(HandoverRequest.id == handover_id,
                   HandoverRequest.status == HandoverStatus.WAITING.value)
            .values(status=HandoverStatus.TAKEN.value, assigned_to=agent, claimed_at=now,
                    updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def refresh(self, request: HandoverRequest) -> None:
        """Re-read a request from the database (after a conditional update)."""
        self.session.refresh(request)

    def log(self, event: HandoverEvent) -> None:
        """Append one step to a hand-over's history."""
        self.session.add(event)

    def events(self, handover_id: int) -> list[HandoverEvent]:
        """The steps of one hand-over, oldest first."""
        stmt = (select(HandoverEvent).where(HandoverEvent.handover_id == handover_id)
                .order_by(HandoverEvent.at, HandoverEvent.id))
        return list(self.session.execute(stmt).scalars())

    def add_reply(self, reply: AgentReply) -> None:
        """Stage an agent's reply (or rejection) for the next commit."""
        self.session.add(reply)

    def get_reply(self, reply_id: int) -> AgentReply | None:
        """One reply, or None."""
        return self.session.get(AgentReply, reply_id)

    def reply_by_key(self, handover_id: int, request_key: str) -> AgentReply | None:
        """The reply a conversation recorded under a client's request key, if any."""
        stmt = select(AgentReply).where(AgentReply.handover_id == handover_id,
                                        AgentReply.request_key == request_key)
        return self.session.execute(stmt).scalar_one_or_none()

    def replies(self, handover_id: int) -> list[AgentReply]:
        """The replies of one hand-over, oldest first."""
        stmt = (select(AgentReply).where(AgentReply.handover_id == handover_id)
                .order_by(AgentReply.created_at, AgentReply.id))
        return list(self.session.execute(stmt).scalars())

    def pending_replies(self, sender_id: str, channel: str) -> list[AgentReply]:
        """A sender's replies not yet delivered on `channel`, oldest first, row-locked."""
        stmt = (select(AgentReply)
                .where(AgentReply.sender_id == sender_id, AgentReply.channel == channel,
                       AgentReply.delivery == Delivery.PENDING.value)
                .order_by(AgentReply.created_at, AgentReply.id).with_for_update())
        return list(self.session.execute(stmt).scalars())

    def newest_reply_id(self) -> int:
        """The largest reply id (0 when there is none)."""
        return self.session.execute(select(func.max(AgentReply.id))).scalar() or 0

    def rejections(self, after_id: int, up_to_id: int,
                   since: datetime | None) -> list[tuple[str, datetime]]:
        """``(sender_id, created_at)`` of rejected suggestions with ids in (after, up_to]."""
        stmt = (select(AgentReply.sender_id, AgentReply.created_at)
                .where(AgentReply.id > after_id, AgentReply.id <= up_to_id,
                       AgentReply.decision == ReplyDecision.REJECTED.value)
                .order_by(AgentReply.id))
        if since is not None:
            stmt = stmt.where(AgentReply.created_at >= since)
        return [(row.sender_id, row.created_at) for row in self.session.execute(stmt)]

    def count_message(self, sender_id: str, channel: str, day: date) -> bool:
        """Add one to (sender, channel, day); False when that row does not exist yet."""
        bump = (update(ConversationDay)
                .where(ConversationDay.sender_id == sender_id, ConversationDay.channel == channel,
                       ConversationDay.day == day)
                .values(messages=ConversationDay.messages + 1)
                .execution_options(synchronize_session=False))
        return bool(self.session.execute(bump).rowcount)

    def add_day(self, day: ConversationDay) -> None:
        """Stage the first count of a (sender, channel, day)."""
        self.session.add(day)


class InboxRepository:
    """The trainers' NLU inbox: candidates and how far collecting has read each source."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, candidate: NluCandidate) -> None:
        """Stage a new candidate for the next commit."""
        self.session.add(candidate)

    def add_all(self, candidates: Iterable[NluCandidate]) -> None:
        """Stage several new candidates for the next commit."""
        self.session.add_all(candidates)

    def get(self, candidate_id: int) -> NluCandidate | None:
        """One candidate, or None."""
        return self.session.get(NluCandidate, candidate_id)

    def lock(self, candidate_id: int) -> NluCandidate | None:
        """One candidate, row-locked until commit where supported."""
        stmt = select(NluCandidate).where(NluCandidate.id == candidate_id).with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def lock_by_source(self, source_key: str) -> NluCandidate | None:
        """The candidate of one source message, row-locked until commit where supported."""
        stmt = select(NluCandidate).where(NluCandidate.source_key == source_key).with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def known_sources(self, keys: list[str]) -> set[str]:
        """Which of these source keys are stored already."""
        stmt = select(NluCandidate.source_key).where(NluCandidate.source_key.in_(keys))
        return set(self.session.execute(stmt).scalars())

    def same_message(self, sender_id: str, text: str, start: datetime, end: datetime,
                     reason: str | None = None, lock: bool = False) -> NluCandidate | None:
        """The first candidate with this sender and text received in [start, end]."""
        stmt = select(NluCandidate).where(
            NluCandidate.sender_id == sender_id, NluCandidate.text == text,
            NluCandidate.received_at.between(start, end))
        if reason is not None:
            stmt = stmt.where(NluCandidate.reason == reason)
        stmt = stmt.order_by(NluCandidate.id).limit(1)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.execute(stmt).scalar_one_or_none()

    def search(self, *, status: str | None = None, reason: str | None = None,
               channel: str | None = None, intent: str | None = None,
               min_confidence: float | None = None, max_confidence: float | None = None,
               received_from: datetime | None = None, received_before: datetime | None = None,
               limit: int = 200) -> list[NluCandidate]:
        """Candidates matching every filter given, newest first.

        ``intent`` matches the bot's prediction, the agent's suggestion or the trainer's
        choice; a confidence bound leaves out candidates without a confidence.
        """
        stmt = select(NluCandidate)
        for column, value in ((NluCandidate.status, status), (NluCandidate.reason, reason),
                              (NluCandidate.channel, channel)):
            if value:
                stmt = stmt.where(column == value)
        if intent:
            stmt = stmt.where(or_(NluCandidate.predicted_intent == intent,
                                  NluCandidate.suggested_intent == intent,
                                  NluCandidate.intent == intent))
        if min_confidence is not None:
            stmt = stmt.where(NluCandidate.confidence >= min_confidence)
        if max_confidence is not None:
            stmt = stmt.where(NluCandidate.confidence <= max_confidence)
        if received_from is not None:
            stmt = stmt.where(NluCandidate.received_at >= received_from)
        if received_before is not None:
            stmt = stmt.where(NluCandidate.received_at < received_before)
        stmt = (stmt.order_by(NluCandidate.received_at.desc(), NluCandidate.id.desc())
                .limit(limit))
        return list(self.session.execute(stmt).scalars())

    def annotated(self, statuses: Iterable[str]) -> list[NluCandidate]:
        """Candidates in these statuses that have a trainer's intent, oldest first."""
        stmt = (select(NluCandidate).where(NluCandidate.status.in_(list(statuses)),
                                           NluCandidate.intent.isnot(None))
                .order_by(NluCandidate.id))
        return list(self.session.execute(stmt).scalars())

    def settle(self, candidate_id: int, read_status: str, read_reviewed_at: datetime | None,
               values: dict[str, Any]) -> bool:
        """Write `values` to a candidate unless it was re-annotated or discarded meanwhile.

        Args:
            candidate_id: the candidate.
            read_status, read_reviewed_at: what it was when read; nothing is written if
                either changed since.
            values: the columns to set.

        Returns:
            True when it was written.
        """
        unchanged = (NluCandidate.reviewed_at == read_reviewed_at
                     if read_reviewed_at is not None else NluCandidate.reviewed_at.is_(None))
        result = self.session.execute(
            update(NluCandidate)
            .where(NluCandidate.id == candidate_id, NluCandidate.status == read_status,
                   unchanged)
            .values(**values).execution_options(synchronize_session=False))
        return bool(result.rowcount)

    def count_by(self, column: str) -> dict[str, int]:
        """How many candidates per value of ``status``, ``reason`` or ``channel``, sorted."""
        attribute = {"status": NluCandidate.status, "reason": NluCandidate.reason,
                     "channel": NluCandidate.channel}[column]
        rows = self.session.execute(select(attribute, func.count()).group_by(attribute)).all()
        return {key: n for key, n in sorted(rows)}

    def cursor(self, source: str, origin: str) -> int:
        """How far `source` was read from `origin` (0: not yet, or from another origin)."""
        row = self.session.get(CollectCursor, source)
        return row.position if row is not None and row.origin == origin else 0

    def move_cursor(self, source: str, origin: str, position: int, now: datetime) -> None:
        """Remember that `source` was read from `origin` up to `position`."""
        row = self.session.get(CollectCursor, source)
        if row is None:
            self.session.add(CollectCursor(source=source, origin=origin, position=position,
                                           updated_at=now))
        else:
            row.origin, row.position, row.updated_at = origin, position, now
