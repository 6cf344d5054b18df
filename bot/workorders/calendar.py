"""Working-time calendar: working days (Chinese statutory calendar with 调休) and daily windows.

Working days come from the ``chinesecalendar`` package for the years it covers (statutory
holidays and the make-up working days, e.g. a working Saturday). For other years the override
file (``calendar_overrides.yml``) gives the official arrangement; a year in neither falls back to
Monday–Friday with one logged warning per year. Working time is the time inside the daily working
windows (default 08:30–12:00 and 14:00–17:30) on working days.

All datetimes are naive Beijing time, the convention of the mail store (see
:func:`bot.config.local_now`). Windows are half-open: 08:30 is inside the morning window,
12:00 is not.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml  # type: ignore[import-untyped,unused-ignore]  # no types-PyYAML installed

logger = logging.getLogger(__name__)

DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parent / "calendar_overrides.yml"

# A guard against a calendar without working days (e.g. an override file listing every day as a
# holiday): real runs of non-working days are at most about ten days long.
MAX_IDLE_DAYS = 366

_WINDOW_PATTERN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*")
_OVERRIDE_KEYS = ("holidays", "workdays")


def _clock(value: time) -> str:
    """``08:30``, or ``08:30:15`` when the time has seconds."""
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


@dataclass(frozen=True)
class WorkWindow:
    """One daily working window, e.g. 08:30–12:00; ``start`` is inside it, ``end`` is not.

    A window lies within one day (it cannot run past midnight).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            raise TypeError("a working window needs two datetime.time values, "
                            f"got {self.start!r}, {self.end!r}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"working window {self} must use naive (Beijing) times")
        if self.start >= self.end:
            raise ValueError(f"working window {self} must start before it ends")

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"

    @classmethod
    def parse(cls, text: str) -> WorkWindow:
        """Build a window from ``"HH:MM-HH:MM"`` (e.g. ``"08:30-12:00"``).

        Raises:
            ValueError: the text is not of that form, names an impossible time, or ends
                before it starts.
        """
        match = _WINDOW_PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"expected a window written 'HH:MM-HH:MM', got {text!r}")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        try:
            start, end = time(start_h, start_m), time(end_h, end_m)
        except ValueError as exc:
            raise ValueError(f"impossible time in window {text!r}: {exc}") from None
        return cls(start, end)

    @property
    def duration(self) -> timedelta:
        """Length of the window."""
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


DEFAULT_WINDOWS: tuple[WorkWindow, ...] = (
    WorkWindow(time(8, 30), time(12, 0)),
    WorkWindow(time(14, 0), time(17, 30)),
)


def validate_windows(windows: Sequence[WorkWindow]) -> tuple[WorkWindow, ...]:
    """Check that daily windows are usable: at least one, sorted, not overlapping.

    Windows may touch (one ending at 12:00, the next starting at 12:00).

    Returns:
        The windows as a tuple.

    Raises:
        ValueError: naming the offending window(s).
    """
    result = tuple(windows)
    if not result:
        raise ValueError("at least one working window is needed")
    for window in result:
        if not isinstance(window, WorkWindow):
            raise TypeError(f"expected WorkWindow, got {window!r}")
    for before, after in zip(result, result[1:]):
        if after.start < before.start:
            raise ValueError(f"working windows must be sorted: {after} comes after {before}")
        if after.start < before.end:
            raise ValueError(f"working windows overlap: {before} and {after}")
    return result


@dataclass(frozen=True)
class YearOverride:
    """The official holiday arrangement of one year that ``chinesecalendar`` does not cover.

    A day listed in ``workdays`` is a working day (a make-up working weekend day, 调休), a day in
    ``holidays`` is not; any other day is a working day from Monday to Friday.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(f"listed as both holiday and workday: {', '.join(map(str, both))}")

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day under this arrangement."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that leaves dates as text, so that a bad date gets a clear error from us."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    """Parse a YAML file (dates stay strings); errors become a ``ValueError`` naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def _as_date(value: Any, path: Path, where: str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"{path}: {where}: expected a date (YYYY-MM-DD), "
                         f"got the date and time {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{path}: {where}: expected a date (YYYY-MM-DD), got {value!r}")


def _as_year(key: Any, path: Path) -> int:
    if isinstance(key, bool) or not isinstance(key, (int, str)) or not str(key).strip().isdigit() \
            or not MINYEAR <= int(key) <= MAXYEAR:
        raise ValueError(f"{path}: {key!r} is not a year; expected e.g. 2027")
    return int(key)


def load_overrides(path: Path) -> dict[int, YearOverride]:
    """Read the holiday override file for years ``chinesecalendar`` does not cover.

    The file maps a year to its lists of holidays and make-up working days::

        2027:
          holidays: [2027-10-01, 2027-10-04]
          workdays: [2027-09-26]

    An empty file means no overrides.

    Raises:
        ValueError: on malformed content, naming the file and the bad entry (not a year, unknown
            key, not a date, a date outside its year, a day listed twice in one year).
    """
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of years to holidays/workdays, "
                         f"got {type(data).__name__}")
    result: dict[int, YearOverride] = {}
    for key, entry in data.items():
        year = _as_year(key, path)
        if year in result:
            raise ValueError(f"{path}: year {year} appears twice")
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {year}: expected a mapping with 'holidays' and/or "
                             f"'workdays', got {entry!r}")
        unknown = sorted(map(str, set(entry) - set(_OVERRIDE_KEYS)))
        if unknown:
            raise ValueError(f"{path}: {year}: unknown key(s) {', '.join(unknown)}; "
                             "expected holidays, workdays")
        days: dict[str, set[date]] = {}
        for kind in _OVERRIDE_KEYS:
            values = entry.get(kind) or []
            if not isinstance(values, list):
                raise ValueError(f"{path}: {year}.{kind}: expected a list of dates, got {values!r}")
            days[kind] = set()
            for value in values:
                day = _as_date(value, path, f"{year}.{kind}")
                if day.year != year:
                    raise ValueError(f"{path}: {year}.{kind}: {day} is not in {year}")
                days[kind].add(day)
        try:
            result[year] = YearOverride(holidays=frozenset(days["holidays"]),
                                        workdays=frozenset(days["workdays"]))
        except ValueError as exc:
            raise ValueError(f"{path}: {year}: {exc}") from None
    return result


def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _package_range() -> str:
    years = {day.year for day in chinese_calendar.holidays}
    return f"{min(years)}-{max(years)}"


class _WorkingDays:
    """Which days are working days; shared by calendars that differ only in their windows."""

    def __init__(self, overrides: Mapping[int, YearOverride]) -> None:
        self.overrides = dict(overrides)
        self._cache: dict[date, bool] = {}
        self._warned_years: set[int] = set()
        for year in sorted(self.overrides):
            if _package_covers(year):
                logger.warning(
                    "calendar override for %d ignored: chinesecalendar %s covers that year",
                    year, chinese_calendar.__version__,
                )

    def is_working_day(self, day: date) -> bool:
        known = self._cache.get(day)
        if known is None:
            known = self._cache[day] = self._decide(day)
        return known

    def _decide(self, day: date) -> bool:
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            pass
        override = self.overrides.get(day.year)
        if override is not None:
            return override.is_working_day(day)
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            logger.warning(
                "no holiday data for %d (chinesecalendar %s covers %s and the override file has no "
                "entry): counting Monday-Friday as working days; add %d to calendar_overrides.yml",
                day.year, chinese_calendar.__version__, _package_range(), day.year,
            )
        return day.weekday() < 5


def _check_naive(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {moment!r}")
    if moment.tzinfo is not None:
        raise ValueError(f"{name} must be a naive datetime in Beijing time, "
                         f"got {moment.isoformat()}")


class WorkingCalendar:
    """Working days and daily working windows; measures and adds working time.

    Build it once and keep it: the per-year fallback warning is given once per calendar
    (and per family of calendars made with :meth:`with_windows`).
    """

    def __init__(
        self,
        windows: Sequence[WorkWindow] = DEFAULT_WINDOWS,
        overrides: Mapping[int, YearOverride] | None = None,
    ) -> None:
        """Create a calendar.

        Args:
            windows: daily working windows, sorted and not overlapping.
            overrides: holiday arrangements of years ``chinesecalendar`` does not cover (see
                :func:`load_overrides`); an entry for a year the package covers is ignored
                with a warning.

        Raises:
            ValueError: the windows are empty, unsorted or overlapping.
        """
        self._windows = validate_windows(windows)
        self._days = _WorkingDays(overrides or {})

    @property
    def windows(self) -> tuple[WorkWindow, ...]:
        """The daily working windows."""
        return self._windows

    def with_windows(self, windows: Sequence[WorkWindow]) -> WorkingCalendar:
        """A calendar with the same working days (and warnings) but other daily windows."""
        other = WorkingCalendar.__new__(WorkingCalendar)
        other._windows = validate_windows(windows)
        other._days = self._days
        return other

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day.

        ``chinesecalendar`` decides for the years it covers (statutory holidays are off, 调休
        make-up days such as a working Saturday are on); other years follow the override file,
        or else Monday–Friday, with one logged warning per year. Never raises for a missing year.
        """
        if isinstance(day, datetime):
            day = day.date()
        return self._days.is_working_day(day)

    def is_working_time(self, moment: datetime) -> bool:
        """Whether ``moment`` lies inside a working window on a working day."""
        _check_naive(moment, "moment")
        clock = moment.time()
        return (self.is_working_day(moment.date())
                and any(w.start <= clock < w.end for w in self._windows))

    def _segments(self, start: datetime,
                  until: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals from ``start`` on, in order, the first clipped to begin at ``start``.

        Stops after the day of ``until`` when given; otherwise runs for ever.
        """
        day = start.date()
        idle = 0
        while until is None or day <= until.date():
            if self.is_working_day(day):
                idle = 0
                for window in self._windows:
                    opens = datetime.combine(day, window.start)
                    closes = datetime.combine(day, window.end)
                    if closes > start:
                        yield max(opens, start), closes
            else:
                idle += 1
                if idle > MAX_IDLE_DAYS:
                    raise RuntimeError(
                        f"no working day in the {MAX_IDLE_DAYS} days before {day}; "
                        "check the calendar overrides"
                    )
            day += timedelta(days=1)

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest moment at which ``duration`` of working time has elapsed since ``start``.

        A start outside the windows (night, lunch break, weekend, holiday) counts from the next
        window opening. When the time runs out exactly at a window's close, the result is that
        close (08:30 + 3.5 h is 12:00 the same day, not 14:00). A zero duration returns ``start``
        unchanged, wherever it lies: no working time needs to elapse. So, for every duration,
        ``working_time_between(start, add_working_time(start, duration)) == duration``.

        Raises:
            ValueError: ``duration`` is negative, or ``start`` carries a time zone (naive
                Beijing time expected).
        """
        _check_naive(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        remaining = duration
        if not remaining:
            return start
        for opens, closes in self._segments(start):
            available = closes - opens
            if remaining <= available:
                return opens + remaining
            remaining -= available
        raise AssertionError("unreachable: _segments has no end")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time in ``[start, end)``; the negative of ``[end, start)`` when ``end < start``.

        The sign lets a remaining time go negative once a deadline has passed.
        """
        _check_naive(start, "start")
        _check_naive(end, "end")
        if end < start:
            return -self.working_time_between(end, start)
        total = timedelta(0)
        for opens, closes in self._segments(start, until=end):
            if opens >= end:
                break
            total += min(closes, end) - opens
        return total
