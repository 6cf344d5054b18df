"""Calls in the monthly statistics and in the daily report, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.reports.daily import build_daily, format_daily
from bot.reports.monthly import build_monthly
from bot.reports.periods import Month
from bot.store import calls
from bot.store import workorders as wo
from bot.store.status import Category, Channel
from bot.store.uow import UowFactory
from bot.workorders.policy import load_policy

DAY = datetime(2025, 6, 10, 9, 0)


def _calls(uows: UowFactory) -> None:
    rules = load_policy()
    first = calls.start_call(uows, "13812345678", "11183", "agent1", DAY)
    order = wo.open_work_order(uows, rules, wo.NewWorkOrder(
        channel=Channel.HOTLINE_11183, category=Category.DELAY, description="没到"), DAY,
        actor="agent1")
    calls.link_work_order(uows, first.id, order.order.number, "agent1", DAY, order.created)
    second = calls.start_call(uows, "13812340000", "11185", "agent1", DAY + timedelta(hours=1))
    for key, final in (("a", "草稿"), ("b", "草稿改"), ("c", None)):
        calls.record_call_reply(uows, call_id=second.id, agent="agent1", request_key=key,
                                suggestion_kind="status", suggested_text="草稿",
                                final_text=final, now=DAY + timedelta(hours=1))
    # Another month: not counted in June.
    calls.start_call(uows, "13812345678", "11183", "agent1", datetime(2025, 7, 1, 9, 0))


def test_the_month_counts_calls_calls_with_an_order_and_adoption_on_calls(
        uows: UowFactory) -> None:
    _calls(uows)
    report = build_monthly(uows, Month(2025, 6), datetime(2025, 7, 2))
    assert report.kpi("calls").value == 2
    assert (report.kpi("call_orders").numerator, report.kpi("call_orders").denominator) == (1, 2)
    adoption = report.kpi("call_adoption")
    assert (adoption.numerator, adoption.denominator) == (2, 3)


def test_the_daily_report_gives_the_days_calls_in_its_totals(uows: UowFactory) -> None:
    _calls(uows)
    report = build_daily(uows, date(2025, 6, 10), datetime(2025, 6, 10, 18, 0))
    assert (report.calls.calls, report.calls.with_order, report.calls.shown) == (2, 1, 3)
    assert "当日来电 2 通，其中开工单 1 通；来电建议答复采纳 2/3" in format_daily(report)
    quiet = build_daily(uows, date(2025, 6, 11), datetime(2025, 6, 11, 18, 0))
    assert quiet.calls.calls == 0 and "当日来电" not in format_daily(quiet)
