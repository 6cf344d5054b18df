"""Proactive-service figures of the reports (主动客服, `bot.proactive`). SQL aggregates.

Daily: the mail watched, the exceptions found that day by reason and by responsible unit, the
tasks handled (an agent's first action), resolved and recovered that day, and those still open.

Monthly:

* proactive coverage (主动发现率): exceptions found before the customer complained ÷ all
  exceptions of watched mail. Found before: a task opened in the month with no work order on
  the same mail opened before it. All: those tasks plus the work orders opened in the month on
  watched mail that no task on the same mail preceded (the exceptions the scan missed or found
  too late).
* handling timeliness (主动任务及时处理率): tasks handled (an agent's first action) by their
  deadline ÷ tasks whose deadline fell in the month and has passed; a task whose mail came right
  by itself before the deadline, untouched, is not counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, distinct, exists, func, not_, or_, select
from sqlalchemy.orm import aliased

from bot.reports.periods import count_where, ratio
from bot.store.models import ProactiveTask, WatchedMail, WorkOrder


@dataclass(frozen=True)
class ProactiveDay:
    """The proactive service on one day (``start <= time < end``)."""

    watched: int = 0
    watched_by_reason: dict[str, int] = field(default_factory=dict)
    new_by_exception: dict[str, int] = field(default_factory=dict)
    new_by_unit: dict[str, int] = field(default_factory=dict)
    handled: int = 0
    resolved: int = 0
    recovered: int = 0
    still_open: int = 0

    @property
    def new(self) -> int:
        """Exceptions found in the period."""
        return sum(self.new_by_exception.values())


def proactive_day(session: Any, start: datetime, end: datetime) -> ProactiveDay:
    """The day's figures; units listed by number of new exceptions, then name."""
    t = ProactiveTask
    watched_by_reason = dict(session.execute(
        select(WatchedMail.reason, func.count(distinct(WatchedMail.mail_number)))
        .where(WatchedMail.added_at < end).group_by(WatchedMail.reason)).all())
    watched = session.execute(select(func.count(distinct(WatchedMail.mail_number)))
                              .where(WatchedMail.added_at < end)).scalar_one()
    opened = and_(t.opened_at >= start, t.opened_at < end)
    by_exception = dict(session.execute(
        select(t.exception, func.count(t.id)).where(opened).group_by(t.exception)).all())
    unit = func.coalesce(t.responsible_unit, "")
    by_unit = sorted(session.execute(select(unit, func.count(t.id)).where(opened)
                                     .group_by(unit)).all(), key=lambda r: (-r[1], r[0]))
    closed_in = and_(t.closed_at >= start, t.closed_at < end)
    handled, resolved, recovered, still_open = session.execute(select(
        count_where(and_(t.handled_at >= start, t.handled_at < end)),
        count_where(and_(closed_in, t.close_reason == "resolved")),
        count_where(and_(closed_in, t.close_reason == "recovered")),
        count_where(and_(t.opened_at < end, or_(t.closed_at.is_(None), t.closed_at >= end))),
    )).one()
    return ProactiveDay(watched=watched, watched_by_reason=watched_by_reason,
                        new_by_exception=by_exception,
                        new_by_unit={u or "待定": n for u, n in by_unit},
                        handled=handled, resolved=resolved, recovered=recovered,
                        still_open=still_open)


@dataclass(frozen=True)
class ProactiveMonth:
    """The month's proactive coverage and handling timeliness (see the module docstring)."""

    found_first: int = 0
    missed: int = 0
    due: int = 0
    handled_in_time: int = 0

    @property
    def exceptions(self) -> int:
        """All exceptions of watched mail: found by the scan, or complained about first."""
        return self.found_first + self.missed

    @property
    def coverage(self) -> float | None:
        """Found before the customer complained ÷ all exceptions of watched mail."""
        return ratio(self.found_first, self.exceptions)

    @property
    def timeliness(self) -> float | None:
        """Handled by the deadline ÷ due."""
        return ratio(self.handled_in_time, self.due)


def proactive_month(session: Any, start: datetime, end: datetime,
                    now: datetime) -> ProactiveMonth:
    """The figures of ``start <= time < end`` as of `now`."""
    t, w = ProactiveTask, WorkOrder
    complained_before = exists().where(w.mail_number == t.mail_number,
                                       w.opened_at < t.opened_at)
    in_month = and_(t.opened_at >= start, t.opened_at < end)
    found_first = session.execute(select(count_where(not_(complained_before))).where(in_month)
                                  ).scalar_one()
    earlier = aliased(ProactiveTask)
    task_first = exists().where(earlier.mail_number == w.mail_number,
                                earlier.opened_at <= w.opened_at)
    watched = exists().where(WatchedMail.mail_number == w.mail_number)
    complaints = session.execute(select(func.count(w.id)).where(
        w.opened_at >= start, w.opened_at < end, watched, not_(task_first))).scalar_one()
    # Spelled out so that no NULL reaches the NOT (an open task has no close reason).
    untouched_recovery = and_(t.close_reason.isnot(None), t.close_reason == "recovered",
                              t.handled_at.is_(None), t.closed_at.isnot(None),
                              t.closed_at <= t.deadline)
    due_now = and_(t.deadline >= start, t.deadline < end, t.deadline < now,
                   not_(untouched_recovery))
    due, in_time = session.execute(select(
        count_where(due_now), count_where(and_(due_now, t.handled_at <= t.deadline)))).one()
    # A task opened after a complaint about its mail is not counted: the complaint is (missed).
    return ProactiveMonth(found_first=found_first, missed=complaints,
                          due=due, handled_in_time=in_time)
