"""The working-time calendar; every expected moment is worked out by hand in the comments.

Default windows 08:30-12:00 and 14:00-17:30: 7 working hours a day.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from bot.workorders.calendar import (
    DEFAULT_OVERRIDES_PATH,
    DEFAULT_WINDOWS,
    WorkingCalendar,
    WorkWindow,
    YearOverride,
    load_overrides,
    validate_windows,
)

H = timedelta(hours=1)
LOGGER = "bot.workorders.calendar"


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# --- the package's data, checked before relying on it ---------------------------------------------

def test_package_data_the_tests_rely_on() -> None:
    # National Day + Mid-Autumn 2025: Oct 1-8 off; make-up working days Sun Sep 28 and Sat Oct 11.
    assert date(2025, 9, 28).weekday() == 6 and chinese_calendar.is_workday(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and chinese_calendar.is_workday(date(2025, 10, 11))
    assert not chinese_calendar.is_workday(date(2025, 9, 27))  # the Saturday before stays off
    assert [chinese_calendar.is_workday(date(2025, 10, d)) for d in range(1, 10)] == [False] * 8 + [True]
    # Spring Festival 2026: Feb 15-23 off; make-up working days Sat Feb 14 and Sat Feb 28.
    assert [chinese_calendar.is_workday(date(2026, 2, d)) for d in range(14, 25)] == [True] + [False] * 9 + [True]
    assert chinese_calendar.is_workday(date(2026, 2, 28))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


# --- working days -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 6, 10), True),    # ordinary Tuesday
        (date(2025, 6, 14), False),   # ordinary Saturday
        (date(2025, 9, 27), False),   # Saturday before National Day
        (date(2025, 9, 28), True),    # 调休: working Sunday
        (date(2025, 10, 1), False),   # National Day
        (date(2025, 10, 6), False),   # Mid-Autumn (a Monday)
        (date(2025, 10, 8), False),   # last holiday, a Wednesday
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),   # 调休: working Saturday
        (date(2025, 10, 12), False),
        (date(2026, 2, 14), True),    # 调休 before the Spring Festival
        (date(2026, 2, 16), False),   # Spring Festival, a Monday
        (date(2026, 2, 23), False),   # last Spring Festival day, a Monday
        (date(2026, 2, 24), True),
    ],
)
def test_working_days_follow_the_statutory_calendar(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_uncovered_year_falls_back_to_monday_to_friday_with_one_warning(
    cal: WorkingCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert cal.is_working_day(date(2030, 1, 1))       # New Year's Day, but no data: a Tuesday
    assert not cal.is_working_day(date(2030, 1, 5))   # Saturday
    assert cal.is_working_day(date(2030, 1, 7))       # Monday
    # Thu 2030-01-03 16:00 + 3 h: 1.5 h on Thursday, 1.5 h on Friday from 08:30 -> 10:00
    assert cal.add_working_time(datetime(2030, 1, 3, 16), 3 * H) == datetime(2030, 1, 4, 10)
    messages = _warnings(caplog)
    assert len(messages) == 1
    assert "2030" in messages[0] and "calendar_overrides.yml" in messages[0]
    cal.is_working_day(date(2031, 3, 3))               # another year: its own warning
    assert len(_warnings(caplog)) == 2 and "2031" in _warnings(caplog)[1]


def test_covered_years_log_nothing(cal: WorkingCalendar, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal.add_working_time(datetime(2025, 9, 30, 15), 20 * H)
    assert _warnings(caplog) == []


def test_override_file_is_honoured_for_an_uncovered_year(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "overrides.yml"
    path.write_text(
        "2027:\n"
        "  holidays: [2027-10-01, 2027-10-04, 2027-10-05, 2027-10-06, 2027-10-07, '2027-10-08']\n"
        "  workdays: [2027-09-26, 2027-10-09]\n",
        encoding="utf-8",
    )
    overrides = load_overrides(path)
    assert overrides == {
        2027: YearOverride(
            holidays=frozenset(date(2027, 10, d) for d in (1, 4, 5, 6, 7, 8)),
            workdays=frozenset({date(2027, 9, 26), date(2027, 10, 9)}),
        )
    }
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal = WorkingCalendar(overrides=overrides)
    assert cal.is_working_day(date(2027, 9, 26))        # a listed Sunday
    assert not cal.is_working_day(date(2027, 10, 1))    # a listed Friday
    assert not cal.is_working_day(date(2027, 10, 8))    # given as a quoted string
    assert cal.is_working_day(date(2027, 9, 30))        # unlisted Thursday
    assert not cal.is_working_day(date(2027, 10, 10))   # unlisted Sunday
    # Thu 2027-09-30 16:00 + 10 h: 1.5 h; Oct 1-8 off except the weekend 2-3 (off, unlisted);
    # Sat Oct 9 listed as working: 7 h (1.5 left); Sun Oct 10 off; Mon Oct 11 08:30 + 1.5 h = 10:00
    assert cal.add_working_time(datetime(2027, 9, 30, 16), 10 * H) == datetime(2027, 10, 11, 10)
    assert _warnings(caplog) == []


def test_override_for_a_covered_year_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal = WorkingCalendar(overrides={2025: YearOverride(holidays=frozenset({date(2025, 6, 10)}))})
    assert cal.is_working_day(date(2025, 6, 10))
    assert not cal.is_working_day(date(2025, 10, 1))
    assert len(_warnings(caplog)) == 1 and "2025" in _warnings(caplog)[0]


def test_the_shipped_override_file_loads() -> None:
    assert load_overrides(DEFAULT_OVERRIDES_PATH) == {}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- 2027-01-01\n", "expected a mapping of years"),
        ("twenty27:\n  holidays: [2027-01-01]\n", "'twenty27' is not a year"),
        ("2027:\n  holiday: [2027-01-01]\n", "2027: unknown key(s) holiday"),
        ("2027:\n  holidays: 2027-01-01\n", "2027.holidays: expected a list of dates"),
        ("2027:\n  holidays: [2027-02-30]\n", "2027.holidays: expected a date (YYYY-MM-DD), got '2027-02-30'"),
        ("2027:\n  holidays: [next friday]\n", "2027.holidays: expected a date (YYYY-MM-DD), got 'next friday'"),
        ("2027:\n  workdays: [2028-01-02]\n", "2027.workdays: 2028-01-02 is not in 2027"),
        ("2027:\n  holidays: [2027-10-09]\n  workdays: [2027-10-09]\n", "both holiday and workday: 2027-10-09"),
        ("2027: [2027-10-01]\n", "2027: expected a mapping with 'holidays'"),
        ("2027:\n  holidays: [2027-10-01\n", "not valid YAML"),
    ],
)
def test_malformed_override_files_are_refused_clearly(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "calendar_overrides.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_overrides(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


# --- adding working time ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # across a night: Tue 17:00 + 2 h = 0.5 h Tuesday + 1.5 h from Wed 08:30
        (datetime(2025, 6, 10, 17), 2, datetime(2025, 6, 11, 10)),
        # inside one window
        (datetime(2025, 6, 10, 9), 2, datetime(2025, 6, 10, 11)),
        # across lunch: Tue 11:00 + 2 h = 1 h morning + 1 h from 14:00
        (datetime(2025, 6, 10, 11), 2, datetime(2025, 6, 10, 15)),
        # ends exactly at a window's close: that close, not the next opening
        (datetime(2025, 6, 10, 8, 30), 3.5, datetime(2025, 6, 10, 12)),
        (datetime(2025, 6, 10, 8, 30), 7, datetime(2025, 6, 10, 17, 30)),
        # starts at 08:30 / 12:00 / 14:00 / 17:30 and in the lunch break, 10 h each
        (datetime(2025, 6, 10, 8, 30), 10, datetime(2025, 6, 11, 11, 30)),  # 7 h Tue + 3 h Wed
        (datetime(2025, 6, 10, 12), 10, datetime(2025, 6, 11, 17)),         # 3.5 Tue pm + 3.5 Wed am + 3
        (datetime(2025, 6, 10, 14), 10, datetime(2025, 6, 11, 17)),
        (datetime(2025, 6, 10, 13, 5), 10, datetime(2025, 6, 11, 17)),
        (datetime(2025, 6, 10, 17, 30), 10, datetime(2025, 6, 12, 11, 30)),  # 7 h Wed + 3 h Thu
        # at night before opening
        (datetime(2025, 6, 10, 6), 1, datetime(2025, 6, 10, 9, 30)),
        # across a weekend: Fri 16:00 + 10 h = 1.5 Fri + 7 Mon + 1.5 Tue -> Tue 10:00
        (datetime(2025, 6, 13, 16), 10, datetime(2025, 6, 17, 10)),
        # starting on a Saturday: Mon 08:30 + 2 h
        (datetime(2025, 6, 14, 10), 2, datetime(2025, 6, 16, 10, 30)),
        # National Day 2025: Tue Sep 30 15:00 + 10 h = 2.5 h; Oct 1-8 off; 7 h Thu Oct 9; 0.5 h Fri
        (datetime(2025, 9, 30, 15), 10, datetime(2025, 10, 10, 9)),
        # working Sunday Sep 28: Fri Sep 26 16:00 + 10 h = 1.5; Sat off; 7 Sun; 1.5 Mon -> Mon 10:00
        (datetime(2025, 9, 26, 16), 10, datetime(2025, 9, 29, 10)),
        # working Saturday Oct 11: Fri Oct 10 10:00 + 10 h = 5.5 Fri; 3.5 Sat am; 1 h from 14:00
        (datetime(2025, 10, 10, 10), 10, datetime(2025, 10, 11, 15)),
        # opened on a holiday (Oct 3): 7 h Oct 9 + 3 h Oct 10 -> 11:30
        (datetime(2025, 10, 3, 10), 10, datetime(2025, 10, 10, 11, 30)),
        # Spring Festival 2026: Fri Feb 13 15:00 + 10 h = 2.5 Fri; 7 Sat Feb 14 (调休); Feb 15-23 off;
        # 0.5 h Tue Feb 24 -> 09:00
        (datetime(2026, 2, 13, 15), 10, datetime(2026, 2, 24, 9)),
        # opened during the Spring Festival (Mon Feb 16): 7 h Feb 24 + 3 h Feb 25 -> 11:30
        (datetime(2026, 2, 16, 9), 10, datetime(2026, 2, 25, 11, 30)),
    ],
)
def test_add_working_time(cal: WorkingCalendar, start: datetime, hours: float, expected: datetime) -> None:
    assert cal.add_working_time(start, hours * H) == expected
    assert cal.working_time_between(start, expected) == hours * H


@pytest.mark.parametrize(
    "start",
    [datetime(2025, 6, 10, 9), datetime(2025, 6, 10, 12), datetime(2025, 6, 10, 20), datetime(2025, 10, 1, 10)],
)
def test_zero_duration_returns_the_start_wherever_it_is(cal: WorkingCalendar, start: datetime) -> None:
    assert cal.add_working_time(start, timedelta(0)) == start


def test_negative_duration_is_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_time(datetime(2025, 6, 10, 9), -H)


def test_aware_datetimes_are_refused(cal: WorkingCalendar) -> None:
    from bot.config import TIMEZONE

    with pytest.raises(ValueError, match="naive"):
        cal.add_working_time(datetime(2025, 6, 10, 9, tzinfo=TIMEZONE), H)


# --- measuring working time ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2025, 6, 10, 9), datetime(2025, 6, 10, 9), timedelta(0)),
        (datetime(2025, 6, 10, 9), datetime(2025, 6, 10, 15, 15), timedelta(hours=4, minutes=15)),  # 3 + 1.25
        (datetime(2025, 6, 10, 12), datetime(2025, 6, 10, 14), timedelta(0)),                       # lunch only
        (datetime(2025, 6, 10, 0), datetime(2025, 6, 11, 0), 7 * H),                                # a full day
        (datetime(2025, 6, 13, 17), datetime(2025, 6, 16, 9), H),                                   # 0.5 Fri + 0.5 Mon
        (datetime(2025, 9, 30, 0), datetime(2025, 10, 13, 0), 28 * H),                              # Sep 30, Oct 9, 10, 11
        # mirrored: end before start
        (datetime(2025, 6, 10, 15, 15), datetime(2025, 6, 10, 9), -timedelta(hours=4, minutes=15)),
    ],
)
def test_working_time_between(cal: WorkingCalendar, start: datetime, end: datetime, expected: timedelta) -> None:
    assert cal.working_time_between(start, end) == expected


def test_is_working_time_uses_half_open_windows(cal: WorkingCalendar) -> None:
    assert cal.is_working_time(datetime(2025, 6, 10, 8, 30))
    assert not cal.is_working_time(datetime(2025, 6, 10, 12))
    assert cal.is_working_time(datetime(2025, 6, 10, 11, 59, 59))
    assert not cal.is_working_time(datetime(2025, 6, 10, 17, 30))
    assert not cal.is_working_time(datetime(2025, 10, 2, 9))  # holiday


# --- windows ------------------------------------------------------------------------------------

def test_other_windows_change_the_arithmetic() -> None:
    # 08:00-12:00 and 15:00-18:30: 7.5 h a day. Tue 17:00 + 10 h = 1.5 Tue + 7.5 Wed + 1 h Thu -> 09:00
    cal = WorkingCalendar([WorkWindow.parse("08:00-12:00"), WorkWindow.parse("15:00-18:30")])
    assert cal.add_working_time(datetime(2025, 6, 10, 17), 10 * H) == datetime(2025, 6, 12, 9)
    same_days = WorkingCalendar().with_windows(cal.windows)
    assert same_days.add_working_time(datetime(2025, 6, 10, 17), 10 * H) == datetime(2025, 6, 12, 9)


def test_default_windows() -> None:
    assert DEFAULT_WINDOWS == (WorkWindow(time(8, 30), time(12)), WorkWindow(time(14), time(17, 30)))
    assert [str(w) for w in DEFAULT_WINDOWS] == ["08:30-12:00", "14:00-17:30"]


def test_window_parsing() -> None:
    assert WorkWindow.parse("8:30-12:00") == WorkWindow(time(8, 30), time(12))
    assert WorkWindow.parse(" 14:00 – 17:30 ") == WorkWindow(time(14), time(17, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:30", "HH:MM-HH:MM"), ("25:00-26:00", "impossible time"),
     ("12:00-08:30", "must start before it ends"), ("09:00-09:00", "must start before it ends")],
)
def test_window_parsing_errors(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        WorkWindow.parse(text)


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([], "at least one"),
        (["14:00-17:30", "08:30-12:00"], "must be sorted"),
        (["08:30-12:00", "11:00-13:00"], "overlap: 08:30-12:00 and 11:00-13:00"),
    ],
)
def test_bad_window_sets_are_refused(windows: list[str], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        WorkingCalendar([WorkWindow.parse(w) for w in windows])


def test_touching_windows_are_allowed() -> None:
    cal = WorkingCalendar([WorkWindow.parse("08:00-12:00"), WorkWindow.parse("12:00-13:00")])
    assert validate_windows(cal.windows) == cal.windows
    assert cal.add_working_time(datetime(2025, 6, 10, 11), 2 * H) == datetime(2025, 6, 10, 13)
