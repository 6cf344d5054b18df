"""The monthly workbook: one formatted sheet per table, read back with openpyxl."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bot.reports.monthly import MonthlyReport, build_monthly
from bot.reports.periods import Month
from bot.reports.xlsx import filename, workbook_bytes, write_workbook
from bot.store.uow import UowFactory
from tests.reports.conftest import KPI_NOW, build_kpi_data


@pytest.fixture
def report(uows: UowFactory) -> MonthlyReport:
    build_kpi_data(uows)
    return build_monthly(uows, Month(2025, 6), KPI_NOW)


@pytest.fixture
def workbook(report: MonthlyReport):  # type: ignore[no-untyped-def]
    return load_workbook(io.BytesIO(workbook_bytes(report)))


def _rows(sheet) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    return {row[0].value: row for row in sheet.iter_rows(min_row=2) if row[0].value}


def test_one_sheet_per_table(workbook) -> None:  # type: ignore[no-untyped-def]
    assert workbook.sheetnames == ["总览", "按渠道", "按类别", "按区县", "坐席建议采纳", "按日"]


def test_every_sheet_has_a_styled_frozen_header(workbook) -> None:  # type: ignore[no-untyped-def]
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2"
        header = sheet[1]
        assert all(cell.font.bold for cell in header if cell.value)
        assert header[0].fill.fgColor.rgb.endswith("006C3B")
        for cell in header:
            width = sheet.column_dimensions[cell.column_letter].width
            assert width >= len(str(cell.value)) * 2  # Chinese characters are wide


def test_overview_holds_each_kpi_with_its_fraction_and_definition(workbook) -> None:  # type: ignore[no-untyped-def]
    sheet = workbook["总览"]
    assert [c.value for c in sheet[1]] == ["指标", "数值", "分子", "分母", "口径"]
    rows = _rows(sheet)
    label, value, numerator, denominator, definition = rows["及时率"]
    assert value.value == pytest.approx(4 / 7)
    assert value.number_format == "0.0%"
    assert (numerator.value, denominator.value) == (4, 7)
    assert definition.value.startswith("及时反馈 ÷ 应反馈")
    assert rows["受理量"][1].value == 8 and rows["受理量"][1].number_format == "#,##0"
    assert rows["超时件数"][1].value == 3
    assert rows["满意率"][1].value == pytest.approx(0.5)
    assert rows["机器人独立解决率"][1].value == pytest.approx(0.6)
    assert sheet.cell(row=sheet.max_row, column=1).value == "2025年6月，统计时间 2025-06-20 12:00"


def test_channel_sheet(workbook) -> None:  # type: ignore[no-untyped-def]
    sheet = workbook["按渠道"]
    header = [c.value for c in sheet[1]]
    assert header[:7] == ["渠道", "受理量", "占比", "应反馈", "及时反馈", "及时率", "超时件数"]
    rows = _rows(sheet)
    assert list(rows) == ["微信公众号", "11183客户查询投诉", "集团公司11183直接下派",
                          "国家邮政局转办", "12345政务平台", "拼多多", "菜鸟", "国网申诉", "合计"]
    wechat = {h: c for h, c in zip(header, rows["微信公众号"])}
    assert wechat["受理量"].value == 3
    assert wechat["占比"].value == pytest.approx(3 / 8) and wechat["占比"].number_format == "0.0%"
    assert wechat["及时率"].value == pytest.approx(2 / 3)
    assert wechat["满意率"].value == pytest.approx(1 / 3)
    cainiao = {h: c for h, c in zip(header, rows["菜鸟"])}
    assert cainiao["受理量"].value == 0 and cainiao["及时率"].value == "—"
    total = {h: c for h, c in zip(header, rows["合计"])}
    assert total["受理量"].value == 8 and total["受理量"].font.bold
    assert total["结案率"].value == pytest.approx(0.5)


def test_county_and_agent_sheets(workbook) -> None:  # type: ignore[no-untyped-def]
    counties = [(r[0].value, r[1].value, r[2].value) for r in workbook["按区县"].iter_rows(min_row=2)]
    # An empty text cell reads back as None.
    assert counties == [("曲靖市", "麒麟区", 3), ("保山市", "腾冲市", 3),
                        ("红河哈尼族彝族自治州", "蒙自市", 1), (None, "未填区县", 1), ("合计", None, 8)]
    agents = _rows(workbook["坐席建议采纳"])
    alice = [c.value for c in agents["alice"]]
    assert alice == ["alice", 4, 2, 1, 1, 0.75, 1, 4.0]
    assert agents["alice"][5].number_format == "0.0%"
    assert agents["bob"][7].value == 4.5 and agents["bob"][7].number_format == "0.0"
    assert [c.value for c in agents["合计"]][:6] == ["合计", 8, 2, 3, 3, 0.625]


def test_days_sheet_lists_every_day(workbook) -> None:  # type: ignore[no-untyped-def]
    sheet = workbook["按日"]
    assert sheet.max_row == 31
    first = sheet[2]
    assert first[0].value.date().isoformat() == "2025-06-01" and first[0].number_format == "yyyy-mm-dd"
    assert first[1].value == 1


def test_write_to_a_path(report: MonthlyReport, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / filename(report)
    write_workbook(report, path)
    assert path.name == "postdesk-2025-06.xlsx"
    assert load_workbook(path).sheetnames[0] == "总览"
