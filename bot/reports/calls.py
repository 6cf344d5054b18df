"""Call-desk figures of the reports: calls taken, calls that opened a work order, and the
adoption of suggested answers on calls (counted as for chats: accepted or edited ÷ accepted,
edited or rejected; see `bot.reports.monthly`). SQL aggregates, one query each."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select

from bot.reports.periods import Adoption, count_where, ratio
from bot.store.models import CallRecord, CallReply, CallWorkOrder
from bot.store.status import ReplyDecision


@dataclass(frozen=True)
class CallCounts(Adoption):
    """The calls started in a period and the decisions on suggested answers made in it."""

    calls: int = 0
    with_order: int = 0
    accepted: int = 0
    edited: int = 0
    rejected: int = 0

    @property
    def order_rate(self) -> float | None:
        """Calls that opened (or were linked to) a work order ÷ calls."""
        return ratio(self.with_order, self.calls)


def call_counts(session: Any, start: datetime, end: datetime) -> CallCounts:
    """The call figures of ``start <= time < end`` (calls by start, decisions by time)."""
    c = CallRecord
    ordered = exists().where(CallWorkOrder.call_id == c.id)
    calls, with_order = session.execute(
        select(func.count(c.id), count_where(ordered))
        .where(c.started_at >= start, c.started_at < end)).one()
    r = CallReply
    accepted, edited, rejected = session.execute(
        select(*(count_where(r.decision == d.value) for d in
                 (ReplyDecision.ACCEPTED, ReplyDecision.EDITED, ReplyDecision.REJECTED)))
        .where(r.created_at >= start, r.created_at < end)).one()
    return CallCounts(int(calls), int(with_order), int(accepted), int(edited), int(rejected))
