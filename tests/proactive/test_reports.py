"""The proactive service in the reports (SQLite and PostgreSQL): the daily 主动客服 section and
the monthly proactive coverage and handling timeliness."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.proactive.scan import scan
from bot.proactive.service import record_action
from bot.reports.daily import build_daily, format_daily
from bot.reports.monthly import build_monthly
from bot.reports.periods import Month
from bot.store.proactive import WatchEntry, watch
from bot.store.status import Category, Channel
from bot.store.workorders import NewWorkOrder, open_work_order
from tests.proactive.conftest import NOW, add_mail

KM = "昆明邮区中心局"
JH = "景洪市邮政分公司勐泐营业部"
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"
STUCK = [(60, "POSTED", OUTLET, "已收寄"), (50, "ARRIVED", KM, "已到达")]


def _setup(uows, config, policy) -> dict[str, int]:
    add_mail(uows, "EA000000005CN", STUCK)
    add_mail(uows, "EA000000014CN", [(30, "POSTED", OUTLET, "已收寄"),
                                     (3, "FAILED", JH, "投递失败，收件人电话无人接听")])
    add_mail(uows, "1151238971060", STUCK)
    add_mail(uows, "9812345678901", [(5, "POSTED", OUTLET, "已收寄")])
    # The customer of 1151238971060 complained before the scan found anything.
    open_work_order(uows, policy, NewWorkOrder(Channel.WECHAT, Category.DELAY, "一直不动",
                                               mail_number="1151238971060"),
                    NOW - timedelta(hours=2))
    watch(uows, [WatchEntry("EA000000005CN", "vip"), WatchEntry("EA000000014CN", "te_an"),
                 WatchEntry("1151238971060", "project", project="身份证"),
                 WatchEntry("9812345678901", "project", project="身份证")],
          NOW - timedelta(days=1))
    opened = scan(uows, config, policy, NOW).opened
    return {t.mail_number: t.id for t in opened}


def test_the_daily_report_has_a_proactive_section(uows, config, policy) -> None:
    tasks = _setup(uows, config, policy)
    record_action(uows, tasks["EA000000014CN"], "called", "agent1", NOW + timedelta(minutes=30))
    report = build_daily(uows, NOW.date(), NOW + timedelta(hours=2))
    p = report.proactive
    assert (p.watched, p.watched_by_reason) == (4, {"vip": 1, "te_an": 1, "project": 2})
    assert p.new_by_exception == {"no_update": 2, "delivery_failed": 1}
    assert p.new_by_unit == {KM: 2, JH: 1}
    assert (p.handled, p.resolved, p.recovered, p.still_open) == (1, 0, 0, 3)
    text = format_daily(report)
    assert "五、主动客服：关注邮件 4 件（大客户 1、特安 1、重点项目 2）" in text
    assert "当日新发现异常 3 件：超时未更新 2、派件异常 1" in text
    assert f"{KM}：2 件" in text


def test_a_store_without_the_proactive_service_has_no_such_section(uows) -> None:
    assert "主动客服" not in format_daily(build_daily(uows, NOW.date(), NOW))


def test_monthly_coverage_and_handling_timeliness(uows, config, policy) -> None:
    tasks = _setup(uows, config, policy)
    # One handled in time, one late, one never.
    record_action(uows, tasks["EA000000005CN"], "called", "agent1", NOW + timedelta(minutes=30))
    record_action(uows, tasks["EA000000014CN"], "called", "agent1", NOW + timedelta(days=2))
    # A complaint about watched mail the scan never flagged.
    open_work_order(uows, policy, NewWorkOrder(Channel.WECHAT, Category.DAMAGED, "破了",
                                               mail_number="9812345678901"),
                    NOW + timedelta(hours=1))
    report = build_monthly(uows, Month(2025, 6), datetime(2025, 6, 30, 18, 0))
    p = report.proactive
    # Found first: EA000000005CN and EA000000014CN; 1151238971060's task came after the
    # complaint (counted as missed), and 9812345678901 was only complained about.
    assert (p.found_first, p.missed) == (2, 2)
    assert report.kpi("proactive_coverage").value == 0.5
    assert (p.handled_in_time, p.due) == (1, 3)
    assert report.kpi("proactive_timeliness").numerator == 1
