"""Repositories: the only code that queries the store's tables (cosmicpython style)."""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.store.models import HandoverRequest, MailItem
from bot.store.status import OPEN_HANDOVER_STATUSES, HandoverStatus, StatusCode
from bot.text.tracking import normalise

_OPEN = [s.value for s in OPEN_HANDOVER_STATUSES]


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
