"""Work-order feedback deadlines per channel (domain.md, "Work-order channels and deadlines").

The figures live in ``policy.yml`` (the client may tighten them) and the holiday arrangements of
years ``chinesecalendar`` does not cover in ``calendar_overrides.yml``; :func:`load_policy` reads
and validates both. A limit counts either working hours (inside the working windows on working
days) or clock hours (plain elapsed time). All datetimes are naive Beijing time.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.store.status import Channel
from bot.workorders.calendar import (
    DEFAULT_OVERRIDES_PATH,
    WorkingCalendar,
    WorkWindow,
    load_overrides,
    read_yaml,
    validate_windows,
)

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policy.yml"

WORKING = "working"
CLOCK = "clock"
BASES: tuple[str, ...] = (WORKING, CLOCK)

_TOP_LEVEL_KEYS = ("windows", "channels", "units")
_LIMIT_KEYS = ("hours", "basis")


@dataclass(frozen=True)
class ChannelLimit:
    """The feedback deadline of one channel.

    Attributes:
        hours: length of the limit, > 0.
        basis: ``"working"`` (counted inside the working windows on working days) or ``"clock"``.
    """

    hours: float
    basis: str

    def __post_init__(self) -> None:
        if isinstance(self.hours, bool) or not isinstance(self.hours, (int, float)):
            raise ValueError(f"hours must be a number, got {self.hours!r}")
        if not (self.hours > 0 and math.isfinite(self.hours)):
            raise ValueError(f"hours must be a positive number, got {self.hours!r}")
        if self.basis not in BASES:
            raise ValueError(f"basis must be one of {', '.join(BASES)}, got {self.basis!r}")

    @property
    def duration(self) -> timedelta:
        """The limit as a time span."""
        return timedelta(hours=self.hours)


def _channel_key(channel: str) -> str:
    return channel.value if isinstance(channel, Enum) else channel


@dataclass(frozen=True)
class DeadlinePolicy:
    """Deadlines of work orders: limits per channel, the working calendar, per-unit windows.

    Attributes:
        limits: the limit of each channel, keyed by :class:`~bot.store.status.Channel` value.
        calendar: working days and the default working windows.
        unit_windows: working windows of production units / outlets that keep their own hours,
            keyed by unit name; other units use the calendar's windows.
    """

    limits: Mapping[str, ChannelLimit]
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    unit_windows: Mapping[str, tuple[WorkWindow, ...]] = field(default_factory=dict)
    _unit_calendars: dict[str, WorkingCalendar] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        calendars = {unit: self.calendar.with_windows(windows)
                     for unit, windows in self.unit_windows.items()}
        object.__setattr__(self, "_unit_calendars", calendars)

    def limit(self, channel: str) -> ChannelLimit:
        """The limit of ``channel`` (a Channel value or member).

        Raises:
            ValueError: the policy has no limit for that channel.
        """
        key = _channel_key(channel)
        try:
            return self.limits[key]
        except KeyError:
            known = ", ".join(sorted(self.limits))
            raise ValueError(f"no deadline configured for channel {key!r} "
                             f"(configured: {known})") from None

    def calendar_for(self, unit: str | None = None) -> WorkingCalendar:
        """The calendar of ``unit``: its own windows if configured, else the default ones."""
        if unit is not None and unit in self._unit_calendars:
            return self._unit_calendars[unit]
        return self.calendar

    def deadline(self, channel: str, opened_at: datetime, unit: str | None = None) -> datetime:
        """When feedback on a work order from ``channel`` opened at ``opened_at`` is due.

        Working-hour limits run only inside the unit's working windows on working days (a work
        order opened at night or on a holiday starts counting at the next opening); clock-hour
        limits are ``opened_at`` plus the hours.
        """
        limit = self.limit(channel)
        if limit.basis == CLOCK:
            return opened_at + limit.duration
        return self.calendar_for(unit).add_working_time(opened_at, limit.duration)

    def remaining(self, channel: str, deadline: datetime, now: datetime,
                  unit: str | None = None) -> timedelta:
        """Time left until ``deadline``: working time for working-hour channels, else clock time.

        Negative once the deadline has passed (by the working time, resp. clock time, elapsed
        since). For a working-hour channel it stays at zero outside the windows right after a
        deadline that fell on a window's close, although :meth:`is_overdue` is already true.
        """
        if self.limit(channel).basis == CLOCK:
            return deadline - now
        return self.calendar_for(unit).working_time_between(now, deadline)

    def is_overdue(self, deadline: datetime, now: datetime) -> bool:
        """Whether ``now`` is past ``deadline`` (at the deadline itself it is not yet)."""
        return now > deadline


def _windows(value: Any, path: Path, where: str) -> tuple[WorkWindow, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{path}: {where}: expected a list of windows like '08:30-12:00', "
                         f"got {value!r}")
    windows = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(
                f"{path}: {where}[{index}]: expected a quoted string 'HH:MM-HH:MM', got {item!r}"
            )
        try:
            windows.append(WorkWindow.parse(item))
        except ValueError as exc:
            raise ValueError(f"{path}: {where}[{index}]: {exc}") from None
    try:
        return validate_windows(windows)
    except ValueError as exc:
        raise ValueError(f"{path}: {where}: {exc}") from None


def _limits(value: Any, path: Path) -> dict[str, ChannelLimit]:
    if not isinstance(value, dict):
        raise ValueError(f"{path}: channels: expected a mapping of channel to "
                         f"{{hours, basis}}, got {value!r}")
    known = [channel.value for channel in Channel]
    # An unquoted 11183 is read as an int.
    entries = {str(key): entry for key, entry in value.items()}
    unknown = sorted(set(entries) - set(known))
    if unknown:
        raise ValueError(
            f"{path}: channels: unknown channel(s) {', '.join(unknown)}; "
            f"the channels are {', '.join(known)}"
        )
    missing = [name for name in known if name not in entries]
    if missing:
        raise ValueError(f"{path}: channels: no limit for channel(s) {', '.join(missing)}")
    limits: dict[str, ChannelLimit] = {}
    for name in known:
        entry = entries[name]
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: channels.{name}: expected "
                             f"{{hours: ..., basis: working|clock}}, got {entry!r}")
        extra = sorted(map(str, set(entry) - set(_LIMIT_KEYS)))
        absent = [key for key in _LIMIT_KEYS if key not in entry]
        if extra or absent:
            problems = [f"unknown key(s) {', '.join(extra)}"] if extra else []
            problems += [f"missing key(s) {', '.join(absent)}"] if absent else []
            raise ValueError(f"{path}: channels.{name}: {'; '.join(problems)}")
        try:
            limits[name] = ChannelLimit(hours=entry["hours"], basis=entry["basis"])
        except ValueError as exc:
            raise ValueError(f"{path}: channels.{name}: {exc}") from None
    return limits


def load_policy(path: Path | None = None, overrides_path: Path | None = None) -> DeadlinePolicy:
    """Read and validate the deadline policy and the calendar overrides.

    Args:
        path: the policy file (default ``bot/workorders/policy.yml``).
        overrides_path: the holiday override file (default
            ``bot/workorders/calendar_overrides.yml``).

    Raises:
        ValueError: naming the file and the bad entry: a channel of
            :class:`~bot.store.status.Channel` without a limit, an unknown channel, hours not > 0,
            a basis other than ``working``/``clock``, windows malformed, unsorted or overlapping.
    """
    path = path or DEFAULT_POLICY_PATH
    overrides = load_overrides(overrides_path or DEFAULT_OVERRIDES_PATH)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with {', '.join(_TOP_LEVEL_KEYS)}, "
                         f"got {data!r}")
    unknown = sorted(map(str, set(data) - set(_TOP_LEVEL_KEYS)))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; "
                         f"expected {', '.join(_TOP_LEVEL_KEYS)}")
    for key in ("windows", "channels"):
        if key not in data:
            raise ValueError(f"{path}: missing '{key}'")
    windows = _windows(data["windows"], path, "windows")
    limits = _limits(data["channels"], path)
    units = data.get("units") or {}
    if not isinstance(units, dict):
        raise ValueError(f"{path}: units: expected a mapping of unit name to windows, "
                         f"got {units!r}")
    unit_windows = {str(unit): _windows(value, path, f"units.{unit}")
                    for unit, value in units.items()}
    return DeadlinePolicy(limits=limits, calendar=WorkingCalendar(windows, overrides),
                          unit_windows=unit_windows)


def policy_from_settings(settings: Settings) -> DeadlinePolicy:
    """The policy from the files the settings name (``WORKORDER_POLICY``, ``CALENDAR_OVERRIDES``),
    or the defaults shipped in this package."""
    return load_policy(
        Path(settings.workorder_policy) if settings.workorder_policy else None,
        Path(settings.calendar_overrides) if settings.calendar_overrides else None,
    )
