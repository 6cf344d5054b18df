"""Dates and times as customers and agents read them: one format everywhere.

Customers see "11月27日 10:00" (month and day without leading zeros, a space, 24-hour time) and
"11月27日" for a day; pages and APIs get ISO 8601 with the +08:00 offset. Stored datetimes are
naive Beijing time (see `bot.config.TIMEZONE`).
"""
from __future__ import annotations

from datetime import date, datetime

from bot.config import TIMEZONE


def customer_day(day: date) -> str:
    """A day as customers read it: '11月27日'."""
    return f"{day.month}月{day.day}日"


def customer_moment(moment: datetime) -> str:
    """A moment as customers read it: '11月27日 10:00'."""
    return f"{customer_day(moment)} {moment:%H:%M}"


def iso_local(moment: datetime | None) -> str | None:
    """A stored (naive, Beijing) datetime as ISO 8601 with its offset, for pages and APIs."""
    return moment.replace(tzinfo=TIMEZONE).isoformat() if moment is not None else None
