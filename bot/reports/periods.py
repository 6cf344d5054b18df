"""Report periods (a day, a month) and the few SQL time expressions that differ per dialect.

Store times are naive Beijing time (`bot.store.models`). Comparisons with Python datetimes
are portable as they are; only "the calendar day of a timestamp" and "days between two
timestamps" need a dialect-specific spelling, which the helpers below give for SQLite and
PostgreSQL. Also the counting pieces every report shares: `count_where` and `Adoption`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func
from sqlalchemy.sql.elements import ColumnElement

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, e.g. ``Month(2025, 6)``; printed as ``2025-06``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1900 <= self.year <= 9999:
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2025-06"`` → ``Month(2025, 6)``.

        Raises:
            ValueError: not of the form YYYY-MM.
        """
        match = _MONTH.match(text.strip())
        if match is None:
            raise ValueError(f"月份格式应为 YYYY-MM：{text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, moment: date) -> Month:
        """The month a date (or datetime) falls in."""
        return cls(moment.year, moment.month)

    @property
    def start(self) -> datetime:
        """Midnight of the month's first day."""
        return datetime(self.year, self.month, 1)

    @property
    def end(self) -> datetime:
        """Midnight of the next month's first day (exclusive bound)."""
        return datetime(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def label(self) -> str:
        """Chinese label: 2025年6月."""
        return f"{self.year}年{self.month}月"

    def previous(self) -> Month:
        """The month before (December of the year before for January)."""
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def days(self) -> list[date]:
        """Every day of the month."""
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end - self.start).days)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def day_of(column: Any, dialect: str) -> ColumnElement:
    """SQL for the calendar day of a timestamp column, typed as a date."""
    if dialect == "sqlite":
        return func.date(column, type_=Date)
    return cast(column, Date)


def days_between(later: Any, earlier: Any, dialect: str) -> ColumnElement:
    """SQL for ``later - earlier`` in (fractional) days."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400.0


def as_date(value: Any) -> date:
    """A day read back from SQL (a date, or SQLite's ISO text) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def count_where(condition: Any) -> ColumnElement:
    """How many rows meet ``condition``: SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 for none."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class Adoption:
    """The adoption figures of suggested answers, for a dataclass with these three counts.

    Attributes:
        accepted: suggestions sent as they were.
        edited: suggestions sent after editing.
        rejected: suggestions rejected.
    """

    accepted: int
    edited: int
    rejected: int

    @property
    def shown(self) -> int:
        """Suggestions agents decided on (accepted, edited or rejected)."""
        return self.accepted + self.edited + self.rejected

    @property
    def adopted(self) -> int:
        """Suggestions sent, as they were or edited."""
        return self.accepted + self.edited

    @property
    def adoption(self) -> float | None:
        """Adoption rate: adopted ÷ shown."""
        return ratio(self.adopted, self.shown)


def percent(value: float | None) -> str:
    """A rate as Chinese reports print it: 93.5% ("—" for no value)."""
    return "—" if value is None else f"{value * 100:.1f}%"
