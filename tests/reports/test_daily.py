"""The daily WeChat-group report against a fixed expected text, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.reports.daily import DailyThresholds, build_daily, daily_text, overdue_for, report_moment
from bot.store.uow import UowFactory
from tests.reports.conftest import DAILY_NOW, build_daily_data

EXPECTED = """\
【云南邮政客服日报】2025年6月20日
统计截至 2025-06-20 12:00

一、异常邮件预警（按生产机构）：共 6 件
1. 会泽县邮政分公司城关营业部：拒收 1、退回 1
2. 曲靖市麒麟区邮政分公司城关营业部：发货无信息 1、超时未签收 1
3. 蒙自市邮政分公司城关营业部：派件异常 1、无法联系 1
4. 保山邮区中心局：破损 1
5. 昆明邮区中心局：超时未更新 1
6. 腾冲市邮政分公司城关营业部：驿站超时未取 1
按类型：发货无信息 1、超时未更新 1、超时未签收 1、拒收 1、派件异常 1、驿站超时未取 1、破损 1、无法联系 1、退回 1

二、待处理质控工单（按区县）：共 4 件，其中未反馈 3 件、已超时 2 件
曲靖市 麒麟区：2 件（未反馈 1，超时 1）
保山市 腾冲市：1 件（未反馈 1，超时 1）
未填区县：1 件（未反馈 1，超时 0）

三、揽收催办：当日 3催 1 件、4催 1 件
LS00002（139****0002，景洪市****）已催 4 次，仍未揽收
LS00001（139****0001，景洪市****）已催 3 次，仍未揽收

四、超时工单（按渠道）：共 2 件
11183客户查询投诉 1 件；国家邮政局转办 1 件
超时最久：
GD00101 11183客户查询投诉·延误·麒麟区 已超时 1天0小时
GD00103 国家邮政局转办·服务态度·腾冲市 已超时 2小时"""


@pytest.fixture
def store(uows: UowFactory) -> UowFactory:
    build_daily_data(uows)
    return uows


def test_today_report_is_the_expected_text(store: UowFactory) -> None:
    assert daily_text(store, DAILY_NOW.date(), DAILY_NOW) == EXPECTED


def test_the_text_carries_no_raw_personal_data(store: UowFactory) -> None:
    text = daily_text(store, DAILY_NOW.date(), DAILY_NOW)
    for raw in ("13987650001", "13987650002", "13812345678", "13912345678", "宣慰大道", "张三丰"):
        assert raw not in text


def test_a_past_day_is_reported_as_it_stood_at_its_end(store: UowFactory) -> None:
    report = build_daily(store, date(2025, 6, 19), DAILY_NOW)
    assert report.as_of == datetime(2025, 6, 19, 23, 59, 59)
    # EA5 and EA6 had only their posting scan then; EA9 failed that day; EA4 was delivered.
    units = {u.unit: u.counts for u in report.units}
    assert units == {
        "曲靖市麒麟区邮政分公司城关营业部": {"no_scan": 3, "unsigned": 1},
        "昆明邮区中心局": {"stale": 1},
        "腾冲市邮政分公司城关营业部": {"station": 1},
        "蒙自市邮政分公司城关营业部": {"failed": 1, "unreachable": 1},
    }
    assert report.abnormal_items == 6
    assert (report.pickups_3, report.pickups_4) == (2, 0)
    assert [(c.county, c.open, c.unanswered, c.overdue) for c in report.counties] == [
        ("麒麟区", 2, 1, 1)]
    assert report.overdue_by_channel == {"11183": 1}
    text = daily_text(store, date(2025, 6, 19), DAILY_NOW)
    assert "统计截至 2025-06-19 23:59" in text
    assert "GD00101 11183客户查询投诉·延误·麒麟区 已超时 11小时" in text


def test_the_units_listed_are_capped(store: UowFactory) -> None:
    text = daily_text(store, DAILY_NOW.date(), DAILY_NOW, DailyThresholds(max_units=2, max_pickups=1))
    assert "3. 蒙自市" not in text
    assert "另有 4 个机构共 5 条预警" in text
    assert "LS00001" not in text and "另有 1 件" in text


def test_thresholds_change_what_counts_as_too_long(store: UowFactory) -> None:
    report = build_daily(store, DAILY_NOW.date(), DAILY_NOW,
                         DailyThresholds(stuck_hours=100, station_hours=80, no_scan_hours=80))
    assert report.exception_totals.get("stale") is None
    assert report.exception_totals.get("station") is None
    assert report.exception_totals.get("no_scan") is None


def test_a_quiet_day_says_so(uows: UowFactory) -> None:
    text = daily_text(uows, DAILY_NOW.date(), DAILY_NOW)
    assert text.splitlines()[3:6] == ["一、异常邮件预警（按生产机构）：共 0 件", "无", ""]
    assert text.endswith("四、超时工单（按渠道）：共 0 件\n无")


def test_a_future_day_is_refused() -> None:
    with pytest.raises(ValueError):
        report_moment(date(2025, 6, 21), DAILY_NOW)


def test_overdue_durations() -> None:
    deadline = datetime(2025, 6, 20, 9, 0)
    assert overdue_for(deadline, datetime(2025, 6, 20, 9, 45)) == "45分钟"
    assert overdue_for(deadline, datetime(2025, 6, 20, 14, 59)) == "5小时"
    assert overdue_for(deadline, datetime(2025, 6, 22, 12, 0)) == "2天3小时"
