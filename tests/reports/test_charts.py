"""The monthly charts: PNG files with Chinese labels drawn in a CJK font."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.reports import charts
from bot.reports.monthly import MonthlyReport, build_monthly
from bot.reports.periods import Month
from bot.store.uow import UowFactory
from tests.reports.conftest import KPI_NOW, build_kpi_data

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def report(uows: UowFactory) -> MonthlyReport:
    build_kpi_data(uows)
    return build_monthly(uows, Month(2025, 6), KPI_NOW)


def test_every_chart_is_written_as_a_png(report: MonthlyReport, tmp_path: Path) -> None:
    paths = charts.write_charts(report, tmp_path / "charts")
    assert [p.name for p in paths] == [f"{name}.png" for name in charts.CHARTS]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG), path
        assert len(data) > 8000, path  # axes, bars and labels, not an empty canvas


def test_a_cjk_font_is_used(report: MonthlyReport) -> None:
    assert "CJK" in charts.cjk_font() or charts.cjk_font() in charts.PREFERRED_FONTS
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=charts.cjk_font()),
                                 fallback_to_default=False)
    assert Path(path).exists()


def test_an_empty_month_still_gives_charts(uows: UowFactory) -> None:
    empty = build_monthly(uows, Month(2025, 6), KPI_NOW)
    for name in charts.CHARTS:
        data = charts.render_chart(empty, name)
        assert data.startswith(PNG) and len(data) > 3000


def test_more_data_draws_more(report: MonthlyReport, uows: UowFactory) -> None:
    empty = build_monthly(uows, Month(2025, 5), KPI_NOW)
    assert len(charts.render_chart(report, "channels")) > len(charts.render_chart(empty, "channels"))


def test_unknown_chart(report: MonthlyReport) -> None:
    with pytest.raises(KeyError):
        charts.render_chart(report, "pie")


def test_without_a_cjk_font_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                          report: MonthlyReport) -> None:
    from matplotlib import font_manager

    monkeypatch.setattr(charts, "_font_name", None)
    monkeypatch.setattr(charts, "PREFERRED_FONTS", ("No Such Font",))
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    with pytest.raises(charts.ChartFontError, match="fonts-noto-cjk"):
        charts.render_chart(report, "channels")
