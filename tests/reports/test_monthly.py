"""Each monthly KPI against figures worked out by hand on the KPI data set (conftest), on
SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.reports.monthly import (
    MonthlyReport,
    OrderCounts,
    build_monthly,
    county_key,
    format_monthly,
)
from bot.reports.periods import Month
from bot.store.uow import UowFactory
from tests.reports.conftest import KPI_NOW, build_kpi_data

JUNE = Month(2025, 6)


@pytest.fixture
def report(uows: UowFactory) -> MonthlyReport:
    build_kpi_data(uows)
    return build_monthly(uows, JUNE, KPI_NOW)


def _fraction(report: MonthlyReport, key: str) -> tuple[int, int | None]:
    kpi = report.kpi(key)
    return kpi.numerator, kpi.denominator


def test_received_counts_the_orders_opened_in_the_month_only(report: MonthlyReport) -> None:
    # O1 (opened at 00:00 on the 1st) .. O9; O8 (May) and O10 (April) are not June's.
    assert report.kpi("received").value == 8
    assert report.total.received == 8


def test_timeliness_is_answered_in_time_over_due(report: MonthlyReport) -> None:
    # Due: every June order but O4 (deadline 06-21, still running) = 7. In time: O1, O5, O9,
    # and O6, whose clock stopped when it was closed without feedback before its deadline.
    assert _fraction(report, "timeliness") == (4, 7)
    assert report.kpi("timeliness").value == pytest.approx(4 / 7)


def test_overdue_is_due_minus_in_time_and_still_overdue_follows_is_overdue(report: MonthlyReport) -> None:
    # Late: O2 (answered 2 h late), O7 (1 h late); never answered and past the deadline: O3.
    assert report.kpi("overdue").value == 3
    assert report.total.still_overdue == 1
    assert "后者 1 件" in report.kpi("overdue").definition


def test_callback_rate_is_closed_with_a_callback_over_closed(report: MonthlyReport) -> None:
    # Closed: O1, O2, O5, O6; called back among them: O1, O2, O5 (O9 was called back, not closed).
    assert _fraction(report, "callback_rate") == (3, 4)


def test_satisfaction_is_satisfied_over_callbacks(report: MonthlyReport) -> None:
    # Callbacks: O1 yes, O2 no, O5 yes, O9 no.
    assert _fraction(report, "satisfaction") == (2, 4)


def test_first_contact_resolution_excludes_linked_and_reopened_orders(report: MonthlyReport) -> None:
    # Closed: O1 (once), O2 (contacts 2), O5 (reopened), O6 (once) -> O1, O6.
    assert _fraction(report, "first_contact") == (2, 8)


def test_repeat_complaints_by_linking_phone_conversation_and_mail(report: MonthlyReport) -> None:
    # O2: a second contact was linked; O3: P1 complained in O1 four days before; O7: mail M1
    # had O8 in May (21 days); O9: conversation wx-a had O1 (17 days). O4's phone had O10
    # 80 days before: outside the 30 days. O1 itself came first.
    assert _fraction(report, "repeat") == (4, 8)


def test_repeat_window_is_configurable(uows: UowFactory) -> None:
    build_kpi_data(uows)
    assert build_monthly(uows, JUNE, KPI_NOW, repeat_days=90).kpi("repeat").numerator == 5
    assert build_monthly(uows, JUNE, KPI_NOW, repeat_days=3).kpi("repeat").numerator == 1


def test_closure_rate_is_closed_over_received(report: MonthlyReport) -> None:
    assert _fraction(report, "closure") == (4, 8)


def test_pickup_3rd_and_4th_chase_rates(report: MonthlyReport) -> None:
    # Booked in June: chased 3, 4, 1, 0 times (May's pickup, chased 5 times, is not June's).
    assert _fraction(report, "pickup_3") == (2, 4)
    assert _fraction(report, "pickup_4") == (1, 4)


def test_bot_containment_compares_conversations_with_same_day_handovers(report: MonthlyReport) -> None:
    # June conversations: wx-a 1st (handed over), wx-a 2nd, wx-b 10th (handed over at 23:30),
    # rest-c 10th (handed over on the 11th: not that conversation), wx-e 15th.
    assert _fraction(report, "containment") == (3, 5)


def test_suggestion_adoption_per_agent(report: MonthlyReport) -> None:
    alice, bob = report.agents
    assert (alice.agent, alice.accepted, alice.edited, alice.rejected, alice.written) == \
        ("alice", 2, 1, 1, 1)
    assert (alice.shown, alice.adoption, alice.mean_edit_distance) == (4, 0.75, 4.0)
    assert (bob.agent, bob.shown, bob.adopted, bob.adoption, bob.mean_edit_distance) == \
        ("bob", 4, 2, 0.5, 4.5)
    assert _fraction(report, "adoption") == (5, 8)  # May's rejection is not June's


def test_orders_by_channel(report: MonthlyReport) -> None:
    wechat = report.by_channel["wechat"]
    assert (wechat.received, wechat.due, wechat.timely, wechat.overdue, wechat.closed,
            wechat.closed_called_back, wechat.callbacks, wechat.satisfied, wechat.repeat) == \
        (3, 3, 2, 1, 2, 2, 3, 1, 2)
    hotline = report.by_channel["11183"]
    assert (hotline.received, hotline.due, hotline.timely, hotline.overdue,
            hotline.still_overdue, hotline.closed) == (2, 1, 0, 1, 1, 0)
    assert [(k, v.received) for k, v in report.by_channel.items()] == [
        ("wechat", 3), ("11183", 2), ("11183_direct", 0), ("spb_transfer", 1), ("12345", 1),
        ("pinduoduo", 1), ("cainiao", 0), ("state_grid", 0)]
    assert report.by_channel["spb_transfer"].timeliness == 1.0
    assert report.by_channel["cainiao"].timeliness is None


def test_orders_by_category(report: MonthlyReport) -> None:
    received = {k: v.received for k, v in report.by_category.items() if v.received}
    assert received == {"delay": 3, "lost": 1, "damaged": 1, "attitude": 1,
                        "delivery_service": 1, "other": 1}
    delay = report.by_category["delay"]
    assert (delay.due, delay.timely, delay.overdue) == (2, 1, 1)  # O1 in time, O7 late, O4 not due


def test_orders_by_county_use_official_names_in_gazetteer_order(report: MonthlyReport) -> None:
    assert [(k, v.received) for k, v in report.by_county.items()] == [
        (("曲靖市", "麒麟区"), 3),
        (("保山市", "腾冲市"), 3),  # O3, O4 and O7 (filed as 腾冲)
        (("红河哈尼族彝族自治州", "蒙自市"), 1),
        (("", "未填区县"), 1),
    ]


def test_totals_are_the_sum_of_the_groups(report: MonthlyReport) -> None:
    for groups in (report.by_channel, report.by_category, report.by_county):
        summed = OrderCounts()
        for counts in groups.values():
            summed.add(counts)
        assert summed == report.total


def test_orders_per_day_cover_the_whole_month(report: MonthlyReport) -> None:
    assert len(report.by_day) == 30
    assert report.by_day[date(2025, 6, 1)].received == 1
    assert report.by_day[date(2025, 6, 2)].overdue == 1
    assert sum(c.received for c in report.by_day.values()) == 8


def test_an_empty_month_has_counts_of_zero_and_no_rates(uows: UowFactory) -> None:
    build_kpi_data(uows)
    report = build_monthly(uows, Month(2025, 3), KPI_NOW)
    assert report.kpi("received").value == 0
    assert report.kpi("timeliness").value is None
    assert report.agents == ()
    assert "及时率：—（0/0）" in format_monthly(report)


def test_a_month_not_begun_is_refused(uows: UowFactory) -> None:
    with pytest.raises(ValueError):
        build_monthly(uows, Month(2025, 7), KPI_NOW)


def test_the_report_time_decides_what_is_due(uows: UowFactory) -> None:
    build_kpi_data(uows)
    later = build_monthly(uows, JUNE, datetime(2025, 6, 22, 12, 0))
    assert later.kpi("timeliness").denominator == 8  # O4's deadline has passed by then
    assert later.kpi("overdue").value == 4


def test_text_summary(report: MonthlyReport) -> None:
    text = format_monthly(report)
    assert text.splitlines()[0] == "【月度统计】2025年6月（统计时间 2025-06-20 12:00）"
    assert "及时率：57.1%（4/7）" in text
    assert "超时件数：3" in text
    assert "机器人独立解决率：60.0%（3/5）" in text
    assert "alice 75.0%（3/4）" in text


def test_county_key_keeps_unknown_places_apart() -> None:
    assert county_key("腾冲") == ("保山市", "腾冲市")
    assert county_key("昆明市") == ("其他", "昆明市")
    assert county_key(None) == ("", "未填区县")


def test_month_bounds() -> None:
    assert (JUNE.start, JUNE.end) == (datetime(2025, 6, 1), datetime(2025, 7, 1))
    assert Month(2025, 12).end == datetime(2026, 1, 1)
    assert Month.parse("2025-1") == Month(2025, 1) and str(Month(2025, 1)) == "2025-01"
    assert Month(2025, 1).previous() == Month(2024, 12)
    with pytest.raises(ValueError):
        Month.parse("2025/06")
