"""PNG charts of the monthly statistics, with Chinese labels in a CJK font.

Rendered with matplotlib's Agg canvas directly (no pyplot, no global backend switch), one
chart at a time behind a lock: matplotlib's font and rc state are process-wide. The font is
found once (`cjk_font`): an installed "Noto Sans CJK" (Debian ``fonts-noto-cjk``) or another
common Chinese font; when none is known to matplotlib's font cache, the system font
directories are searched and the file added. No CJK font at all is an error that says which
package to install, never a chart of empty boxes.
"""
from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, Callable

from bot.reports.monthly import MonthlyReport, OrderCounts
from bot.reports.periods import percent
from bot.store.status import Category, Channel, label_of

PREFERRED_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
                   "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
                   "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
                   "PingFang SC")
_FONT_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "droidsansfallback", "simhei", "msyh")
GREEN, GREY, RED = "#006c3b", "#9aa59a", "#b00020"
DPI = 100

# name → (file title, what it shows)
CHARTS: dict[str, str] = {
    "channels": "各渠道受理量",
    "timeliness": "各渠道及时率",
    "categories": "投诉类别分布",
    "counties": "各区县受理量",
    "daily": "每日受理量与超时件数",
    "agents": "坐席建议采纳率",
}

_lock = threading.Lock()
_font_name: str | None = None


class ChartFontError(RuntimeError):
    """No font that can draw Chinese is installed."""


def cjk_font() -> str:
    """The family name of an installed font that draws Chinese (found once).

    Raises:
        ChartFontError: none is installed.
    """
    global _font_name
    if _font_name is not None:
        return _font_name
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((n for n in PREFERRED_FONTS if n in names), None)

    name = known()
    if name is None:  # the font cache predates the font: look at the files themselves
        for path in sorted(font_manager.findSystemFonts()):
            base = Path(path).name.lower().replace("-", "").replace("_", "")
            if any(hint in base for hint in _FONT_FILE_HINTS) and "bold" not in base:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        name = known()
    if name is None:
        raise ChartFontError(
            "没有找到可显示中文的字体，无法生成图表。请安装 Noto CJK 字体"
            "（Debian/Ubuntu：apt-get install fonts-noto-cjk）后重试。"
            " / No CJK font found: install fonts-noto-cjk.")
    _font_name = name
    return name


def _figure(height: float = 4.2, width: float = 8.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    return figure, figure.add_subplot(1, 1, 1)


def _hbars(ax: Any, labels: list[str], values: list[float], color: str | list[str],
           fmt: Callable[[float], str]) -> None:
    positions = list(range(len(labels)))[::-1]
    bars = ax.barh(positions, values, color=color)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    top = max(values, default=0) or 1
    ax.set_xlim(0, top * 1.18)
    for bar, value in zip(bars, values):
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, fmt(value),
                va="center", fontsize=8)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "本月暂无数据", ha="center", va="center", fontsize=14, color=GREY,
            transform=ax.transAxes)
    ax.set_axis_off()



def _counts_chart(ax: Any, items: list[tuple[str, OrderCounts]], colors: Any = GREEN) -> None:
    if not any(c.received for _, c in items):
        _empty(ax)
        return
    from matplotlib.ticker import MaxNLocator

    _hbars(ax, [k for k, _ in items], [c.received for _, c in items], colors,
           lambda v: f"{int(v):,}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("工单数")


def _draw(report: MonthlyReport, name: str, figure: Any, ax: Any) -> None:
    if name == "channels":
        _counts_chart(ax, [(label_of(Channel, k), v) for k, v in report.by_channel.items()])
    elif name == "categories":
        _counts_chart(ax, [(label_of(Category, k), v) for k, v in report.by_category.items()])
    elif name == "counties":
        palette: dict[str, str] = {}
        colors = []
        for (prefecture, _), _v in report.by_county.items():
            palette.setdefault(prefecture, ["#006c3b", "#2e8b57", "#c08a00", "#3a6ea5",
                                            "#9aa59a", "#777777"][len(palette) % 6])
            colors.append(palette[prefecture])
        _counts_chart(ax, [(county, v) for (_, county), v in report.by_county.items()], colors)
    elif name == "timeliness":
        items = [(label_of(Channel, k), v.timeliness) for k, v in report.by_channel.items()
                 if v.due]
        if not items:
            _empty(ax)
        else:
            _hbars(ax, [k for k, _ in items], [(r or 0) * 100 for _, r in items], GREEN,
                   lambda v: f"{v:.1f}%")
            ax.set_xlim(0, 112)
            overall = report.total.timeliness
            if overall is not None:
                ax.axvline(overall * 100, color=RED, linestyle="--", linewidth=1)
                ax.text(overall * 100, 1.01, f"全部 {percent(overall)}", fontsize=8, color=RED,
                        ha="center", va="bottom", transform=ax.get_xaxis_transform())
            ax.set_xlabel("及时率（%）")
    elif name == "daily":
        days = list(report.by_day)
        if not any(c.received for c in report.by_day.values()):
            _empty(ax)
        else:
            x = list(range(len(days)))
            ax.bar(x, [c.received for c in report.by_day.values()], color=GREEN, label="受理量")
            ax.plot(x, [c.overdue for c in report.by_day.values()], color=RED, marker="o",
                    markersize=3, linewidth=1.5, label="超时件数")
            ax.set_xticks(x[::2])
            ax.set_xticklabels([f"{d.day}日" for d in days][::2], fontsize=8)
            ax.legend(loc="upper left", fontsize=8, frameon=False)
            ax.spines["top"].set_visible(False)
            ax.spines["right"].set_visible(False)
            ax.set_ylabel("工单数")
            from matplotlib.ticker import MaxNLocator

            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    elif name == "agents":
        agents = [a for a in report.agents if a.shown]
        if not agents:
            _empty(ax)
        else:
            _hbars(ax, [a.agent for a in agents], [(a.adoption or 0) * 100 for a in agents],
                   GREEN, lambda v: f"{v:.1f}%")
            ax.set_xlim(0, 110)
            ax.set_xlabel("采纳率（%）：直接采纳与修改后采纳 ÷ 展示的建议")
    else:  # pragma: no cover - checked by render_chart
        raise KeyError(name)
    ax.set_title(f"{report.month.label} {CHARTS[name]}", fontsize=13, pad=14)


def _height(report: MonthlyReport, name: str) -> float:
    rows = {"channels": len(report.by_channel), "categories": len(report.by_category),
            "counties": len(report.by_county), "timeliness": len(report.by_channel),
            "agents": len(report.agents)}.get(name, 0)
    return max(4.2, 1.4 + 0.32 * rows)


def render_chart(report: MonthlyReport, name: str) -> bytes:
    """One chart of `report` as PNG bytes.

    Args:
        report: the monthly statistics.
        name: one of `CHARTS`.

    Raises:
        KeyError: unknown chart name.
        ChartFontError: no CJK font installed.
    """
    if name not in CHARTS:
        raise KeyError(name)
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with _lock:
        font = cjk_font()
        with matplotlib.rc_context({"font.family": [font], "font.sans-serif": [font],
                                    "axes.unicode_minus": False}):
            figure, ax = _figure(_height(report, name))
            _draw(report, name, figure, ax)
            figure.tight_layout()
            buffer = io.BytesIO()
            FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def write_charts(report: MonthlyReport, directory: Path | str) -> list[Path]:
    """Write every chart as ``DIRECTORY/<name>.png``; returns the paths, in `CHARTS` order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in CHARTS:
        path = directory / f"{name}.png"
        path.write_bytes(render_chart(report, name))
        paths.append(path)
    return paths
