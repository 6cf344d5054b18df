"""Work-order deadlines per channel; expected moments are worked out by hand in the comments.

Default windows 08:30-12:00 and 14:00-17:30 (7 working hours a day).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.store.status import Channel
from bot.workorders.calendar import WorkWindow
from bot.workorders.policy import DEFAULT_POLICY_PATH, ChannelLimit, DeadlinePolicy, load_policy

H = timedelta(hours=1)
BANNA = "景洪市邮政分公司"


@pytest.fixture(scope="module")
def policy() -> DeadlinePolicy:
    return load_policy()


def _valid() -> dict[str, Any]:
    return {
        "windows": ["08:30-12:00", "14:00-17:30"],
        "channels": {channel.value: {"hours": 24, "basis": "clock"} for channel in Channel},
    }


def _write(tmp_path: Path, data: Any, name: str = "policy.yml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# --- the shipped configuration ------------------------------------------------------------------

def test_shipped_policy_has_the_figures_of_the_tender_and_the_defaults(policy: DeadlinePolicy) -> None:
    assert dict(policy.limits) == {
        "11183_direct": ChannelLimit(10, "working"),
        "spb_transfer": ChannelLimit(6, "clock"),
        "11183": ChannelLimit(24, "clock"),
        "pinduoduo": ChannelLimit(24, "clock"),
        "cainiao": ChannelLimit(24, "clock"),
        "12345": ChannelLimit(24, "clock"),
        "state_grid": ChannelLimit(24, "clock"),
        "wechat": ChannelLimit(24, "clock"),
    }
    assert policy.calendar.windows == (WorkWindow(time(8, 30), time(12)), WorkWindow(time(14), time(17, 30)))
    assert dict(policy.unit_windows) == {}


def test_the_commented_unit_example_in_the_shipped_policy_is_valid(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    head, _, example = text.partition("\nunits:\n")
    assert example.strip(), "policy.yml should show how a unit gets its own windows"
    uncommented = "\n".join(line.replace("#", "", 1) for line in example.splitlines())
    policy = load_policy(_write(tmp_path, f"{head}\nunits:\n{uncommented}\n"))
    assert policy.unit_windows == {BANNA: (WorkWindow.parse("08:00-12:00"), WorkWindow.parse("15:00-18:30"))}


# --- deadlines ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("opened_at", "expected"),
    [
        # across nights: Tue 15:00: 2.5 h Tue, 7 h Wed, 0.5 h Thu -> Thu 09:00
        (datetime(2025, 6, 10, 15), datetime(2025, 6, 12, 9)),
        # opened at 08:30, 12:00, in the lunch break, at 14:00, at 17:30
        (datetime(2025, 6, 10, 8, 30), datetime(2025, 6, 11, 11, 30)),
        (datetime(2025, 6, 10, 12), datetime(2025, 6, 11, 17)),
        (datetime(2025, 6, 10, 12, 45), datetime(2025, 6, 11, 17)),
        (datetime(2025, 6, 10, 14), datetime(2025, 6, 11, 17)),
        (datetime(2025, 6, 10, 17, 30), datetime(2025, 6, 12, 11, 30)),
        # opened in the evening: counts from Wed 08:30 -> 7 h Wed + 3 h Thu
        (datetime(2025, 6, 10, 21, 40), datetime(2025, 6, 12, 11, 30)),
        # across a weekend: Fri 16:00: 1.5 Fri, 7 Mon, 1.5 Tue -> Tue 10:00
        (datetime(2025, 6, 13, 16), datetime(2025, 6, 17, 10)),
        # National Day / Mid-Autumn 2025: Tue Sep 30 15:00: 2.5 h; Oct 1-8 off; 7 h Oct 9; 0.5 h Oct 10
        (datetime(2025, 9, 30, 15), datetime(2025, 10, 10, 9)),
        # 调休 Sunday Sep 28 works: Fri Sep 26 16:00: 1.5 Fri, 7 Sun, 1.5 Mon -> Mon Sep 29 10:00
        (datetime(2025, 9, 26, 16), datetime(2025, 9, 29, 10)),
        # 调休 Saturday Oct 11 works: Fri Oct 10 10:00: 5.5 Fri, 3.5 Sat morning, 1 h -> Sat 15:00
        (datetime(2025, 10, 10, 10), datetime(2025, 10, 11, 15)),
        # opened on a holiday (Sun Oct 5): 7 h Oct 9, 3 h Oct 10 -> 11:30
        (datetime(2025, 10, 5, 11), datetime(2025, 10, 10, 11, 30)),
        # Spring Festival 2026: Fri Feb 13 15:00: 2.5 Fri, 7 Sat Feb 14 (调休), Feb 15-23 off, 0.5 Feb 24
        (datetime(2026, 2, 13, 15), datetime(2026, 2, 24, 9)),
        # opened on New Year's Eve (Tue Feb 16 2026 is a holiday): 7 h Feb 24, 3 h Feb 25
        (datetime(2026, 2, 16, 20), datetime(2026, 2, 25, 11, 30)),
    ],
)
def test_direct_11183_deadline_counts_ten_working_hours(
    policy: DeadlinePolicy, opened_at: datetime, expected: datetime
) -> None:
    assert policy.deadline("11183_direct", opened_at) == expected
    assert policy.deadline(Channel.DIRECT_11183, opened_at) == expected


@pytest.mark.parametrize(
    ("channel", "opened_at", "expected"),
    [
        # 6 clock hours, straight through a night that starts a holiday
        ("spb_transfer", datetime(2025, 9, 30, 20), datetime(2025, 10, 1, 2)),
        ("spb_transfer", datetime(2025, 6, 10, 12, 10), datetime(2025, 6, 10, 18, 10)),
        # 24 clock hours, weekend included
        ("wechat", datetime(2025, 6, 13, 16), datetime(2025, 6, 14, 16)),
        ("12345", datetime(2026, 2, 16, 9), datetime(2026, 2, 17, 9)),
        ("pinduoduo", datetime(2025, 10, 1, 0, 30), datetime(2025, 10, 2, 0, 30)),
    ],
)
def test_clock_hour_channels_ignore_windows_and_holidays(
    policy: DeadlinePolicy, channel: str, opened_at: datetime, expected: datetime
) -> None:
    assert policy.deadline(channel, opened_at) == expected


def test_unknown_channel_is_refused(policy: DeadlinePolicy) -> None:
    with pytest.raises(ValueError, match="no deadline configured for channel 'fax'"):
        policy.deadline("fax", datetime(2025, 6, 10, 9))


# --- remaining time and overdue -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 6, 10, 16), 9 * H),                       # 1.5 Tue + 7 Wed + 0.5 Thu
        (datetime(2025, 6, 11, 20), 0.5 * H),                     # only Thu 08:30-09:00 left
        (datetime(2025, 6, 12, 8, 45), 0.25 * H),
        (datetime(2025, 6, 12, 9), timedelta(0)),
        (datetime(2025, 6, 12, 11), -2 * H),                      # 09:00-11:00 worked past it
        (datetime(2025, 6, 12, 13), -3 * H),                      # lunch does not count
        (datetime(2025, 6, 12, 20), -6.5 * H),                    # 3 h morning + 3.5 h afternoon
        (datetime(2025, 6, 16, 9), -14 * H),                      # Thu 6.5 + Fri 7 + Mon 0.5, weekend free
    ],
)
def test_remaining_working_time_goes_negative_after_the_deadline(
    policy: DeadlinePolicy, now: datetime, expected: timedelta
) -> None:
    deadline = policy.deadline("11183_direct", datetime(2025, 6, 10, 15))
    assert deadline == datetime(2025, 6, 12, 9)
    assert policy.remaining("11183_direct", deadline, now) == expected


def test_remaining_clock_time(policy: DeadlinePolicy) -> None:
    deadline = policy.deadline("spb_transfer", datetime(2025, 9, 30, 20))
    assert policy.remaining("spb_transfer", deadline, datetime(2025, 10, 1, 1)) == H
    assert policy.remaining("spb_transfer", deadline, datetime(2025, 10, 1, 5, 30)) == -3.5 * H


def test_is_overdue_only_after_the_deadline(policy: DeadlinePolicy) -> None:
    deadline = datetime(2025, 6, 12, 9)
    assert not policy.is_overdue(deadline, datetime(2025, 6, 12, 8, 59))
    assert not policy.is_overdue(deadline, deadline)
    assert policy.is_overdue(deadline, datetime(2025, 6, 12, 9, 0, 1))


def test_deadline_at_a_window_close_is_overdue_with_zero_working_time_left(tmp_path: Path) -> None:
    # a tightened limit of 3.5 working hours opened at 14:00 falls due at 17:30, the window's close
    data = _valid()
    data["channels"]["11183_direct"] = {"hours": 3.5, "basis": "working"}
    policy = load_policy(_write(tmp_path, data))
    deadline = policy.deadline("11183_direct", datetime(2025, 6, 10, 14))
    assert deadline == datetime(2025, 6, 10, 17, 30)
    evening = datetime(2025, 6, 10, 20)
    assert policy.remaining("11183_direct", deadline, evening) == timedelta(0)
    assert policy.is_overdue(deadline, evening)
    assert policy.remaining("11183_direct", deadline, datetime(2025, 6, 11, 9)) == -0.5 * H


# --- units with their own windows ---------------------------------------------------------------

def test_unit_with_its_own_windows(tmp_path: Path) -> None:
    data = _valid()
    data["channels"]["11183_direct"] = {"hours": 10, "basis": "working"}
    data["units"] = {BANNA: ["08:00-12:00", "15:00-18:30"]}
    policy = load_policy(_write(tmp_path, data))
    opened = datetime(2025, 6, 10, 17)
    # own windows (7.5 h a day): 1.5 h Tue 17:00-18:30, 7.5 h Wed, 1 h Thu from 08:00 -> Thu 09:00
    assert policy.deadline("11183_direct", opened, unit=BANNA) == datetime(2025, 6, 12, 9)
    # default windows: 0.5 h Tue, 7 h Wed, 2.5 h Thu -> Thu 11:00
    assert policy.deadline("11183_direct", opened, unit="麒麟区邮政分公司") == datetime(2025, 6, 12, 11)
    assert policy.deadline("11183_direct", opened) == datetime(2025, 6, 12, 11)
    # remaining from Wed 17:00 to Thu 09:00: 1.5 h (17:00-18:30) + 1 h (08:00-09:00) with its own windows
    now = datetime(2025, 6, 11, 17)
    assert policy.remaining("11183_direct", datetime(2025, 6, 12, 9), now, unit=BANNA) == 2.5 * H
    assert policy.remaining("11183_direct", datetime(2025, 6, 12, 9), now) == 1 * H
    # the unit keeps the statutory calendar: Fri Sep 26 2025 17:00, 10 h: 1.5 Fri, Sat off,
    # 7.5 Sun Sep 28 (调休), 1 h Mon -> Mon 09:00
    assert policy.deadline("11183_direct", datetime(2025, 9, 26, 17), unit=BANNA) == datetime(2025, 9, 29, 9)


# --- the uncovered-year fallback and the override file through the policy -----------------------

def test_policy_in_an_uncovered_year_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _valid()
    data["channels"]["11183_direct"] = {"hours": 10, "basis": "working"}
    data["units"] = {BANNA: ["08:00-12:00", "15:00-18:30"]}
    policy = load_policy(_write(tmp_path, data), overrides_path=_write(tmp_path, "", "overrides.yml"))
    caplog.set_level(logging.WARNING, logger="bot.workorders.calendar")
    # Fri 2030-01-04 15:00: 2.5 Fri, weekend off, 7 Mon, 0.5 Tue -> Tue 2030-01-08 09:00
    assert policy.deadline("11183_direct", datetime(2030, 1, 4, 15)) == datetime(2030, 1, 8, 9)
    policy.deadline("11183_direct", datetime(2030, 1, 4, 15), unit=BANNA)
    policy.remaining("11183_direct", datetime(2030, 1, 8, 9), datetime(2030, 1, 9, 9))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2030" in warnings[0].getMessage()


def test_policy_uses_the_override_file(tmp_path: Path) -> None:
    overrides = _write(tmp_path, "2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-02]\n", "overrides.yml")
    policy = load_policy(overrides_path=overrides)
    assert not policy.calendar.is_working_day(date(2027, 1, 1))   # a Friday
    assert policy.calendar.is_working_day(date(2027, 1, 2))       # a Saturday
    # Thu 2026-12-31 17:00: 0.5 h; Fri Jan 1 off; 7 h Sat Jan 2; Sun off; 2.5 h Mon Jan 4 -> 11:00
    assert policy.deadline("11183_direct", datetime(2026, 12, 31, 17)) == datetime(2027, 1, 4, 11)


# --- malformed policy files ---------------------------------------------------------------------

def _drop_spb(data: dict[str, Any]) -> None:
    del data["channels"]["spb_transfer"]


def _set(*keys: str, value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_spb, "channels: no limit for channel(s) spb_transfer"),
        (_set("channels", "fax", value={"hours": 1, "basis": "clock"}), "unknown channel(s) fax"),
        (_set("channels", "wechat", value={"hours": 0, "basis": "clock"}), "channels.wechat: hours must be a positive"),
        (_set("channels", "wechat", value={"hours": -2, "basis": "clock"}), "channels.wechat: hours must be a positive"),
        (_set("channels", "wechat", value={"hours": "24h", "basis": "clock"}), "channels.wechat: hours must be a number"),
        (_set("channels", "wechat", value={"hours": 24, "basis": "calendar"}), "channels.wechat: basis must be one of working, clock"),
        (_set("channels", "wechat", value={"hours": 24}), "channels.wechat: missing key(s) basis"),
        (_set("channels", "wechat", value={"hour": 24, "basis": "clock"}), "unknown key(s) hour; missing key(s) hours"),
        (_set("channels", "wechat", value=24), "channels.wechat: expected {hours"),
        (_set("channels", value=None), "channels: expected a mapping"),
        (_set("windows", value=["14:00-17:30", "08:30-12:00"]), "windows: working windows must be sorted"),
        (_set("windows", value=["08:30-12:00", "11:30-17:30"]), "windows: working windows overlap: 08:30-12:00 and 11:30-17:30"),
        (_set("windows", value=["12:00-08:30"]), "windows[0]: working window 12:00-08:30 must start before it ends"),
        (_set("windows", value=["08:30 to 12:00"]), "windows[0]: expected a window written 'HH:MM-HH:MM'"),
        (_set("windows", value=[840]), "windows[0]: expected a quoted string"),
        (_set("windows", value=[]), "windows: at least one working window"),
        (_set("units", value={BANNA: ["15:00-18:30", "08:00-12:00"]}), f"units.{BANNA}: working windows must be sorted"),
        (_set("units", value=["08:00-12:00"]), "units: expected a mapping"),
        (_set("chanels", value={}), "unknown key(s) chanels"),
    ],
)
def test_malformed_policy_files_are_refused_clearly(tmp_path: Path, mutate: Any, expected: str) -> None:
    data = _valid()
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as error:
        load_policy(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("windows: ['08:30-12:00'\n", "not valid YAML"),
        ("- wechat\n", "expected a mapping with windows, channels"),
        ("windows: ['08:30-12:00']\n", "missing 'channels'"),
        # an unquoted 14:00 is a YAML 1.1 base-60 integer (840): refused, not misread
        ("windows: [14:00]\nchannels: {}\n", "windows[0]: expected a quoted string 'HH:MM-HH:MM', got 840"),
    ],
)
def test_malformed_policy_text_is_refused_clearly(tmp_path: Path, content: str, expected: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(ValueError) as error:
        load_policy(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_unquoted_numeric_channel_names_are_accepted(tmp_path: Path) -> None:
    text = yaml.safe_dump(_valid()).replace("'11183':", "11183:").replace("'12345':", "12345:")
    assert "\n  11183:" in text
    assert set(load_policy(_write(tmp_path, text)).limits) == {c.value for c in Channel}


def test_malformed_override_file_is_refused_by_load_policy(tmp_path: Path) -> None:
    overrides = _write(tmp_path, "2027:\n  holidays: [2027-13-01]\n", "overrides.yml")
    with pytest.raises(ValueError, match="overrides.yml: 2027.holidays: expected a date"):
        load_policy(overrides_path=overrides)
