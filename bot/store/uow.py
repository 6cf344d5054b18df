"""Unit of work: one short-lived session per operation, rolled back unless committed."""
from __future__ import annotations

from functools import partial
from types import TracebackType
from typing import Callable

from sqlalchemy.orm import Session

from bot.store.repositories import (
    AccountRepository,
    DeskRepository,
    HandoverRepository,
    InboxRepository,
    MailRepository,
    PickupRepository,
    WebSessionRepository,
    WorkOrderRepository,
)


class UnitOfWork:
    """A session and its repositories for one operation, one repository per aggregate.

    Services query and write through the repositories (``uow.mail``, ``uow.accounts``,
    ``uow.inbox``, ``uow.web_sessions``, ...); ``uow.session`` is there for the repositories
    and for tests.

    Usage::

        with UnitOfWork(session_factory) as uow:
            uow.handovers.add(request)
            uow.commit()

    Anything not committed when the block ends is rolled back.
    """

    mail: MailRepository
    handovers: HandoverRepository
    work_orders: WorkOrderRepository
    pickups: PickupRepository
    accounts: AccountRepository
    desk: DeskRepository
    inbox: InboxRepository
    web_sessions: WebSessionRepository

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.mail = MailRepository(self.session)
        self.handovers = HandoverRepository(self.session)
        self.work_orders = WorkOrderRepository(self.session)
        self.pickups = PickupRepository(self.session)
        self.accounts = AccountRepository(self.session)
        self.desk = DeskRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.web_sessions = WebSessionRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # After a commit this rollback has nothing left to undo.
        self.rollback()
        self.session.close()

    def commit(self) -> None:
        """Make everything done in this unit of work permanent."""
        self.session.commit()

    def rollback(self) -> None:
        """Undo everything not yet committed."""
        self.session.rollback()


UowFactory = Callable[[], UnitOfWork]


def uow_factory(session_factory: Callable[[], Session]) -> UowFactory:
    """Return a callable that opens a fresh UnitOfWork on `session_factory` (what services take)."""
    return partial(UnitOfWork, session_factory)
