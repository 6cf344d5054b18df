"""The monthly statistics as an Excel workbook: one formatted sheet per table.

Each sheet has a bold, coloured header row that stays in view (frozen panes), columns as wide
as their content (a Chinese character counts double), thousands separators on counts,
rates as percentages (``0.0%``; an empty rate shows "—"), and the total row in bold.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from bot.reports.monthly import MonthlyReport, Table

HEADER_FILL = "006C3B"  # China Post green, as the workbench header
MAX_WIDTH = 60
NO_VALUE = "—"
_FORMATS = {"int": "#,##0", "pct": "0.0%", "num": "0.0", "date": "yyyy-mm-dd"}


def _width(value: Any) -> int:
    text = f"{value:.1%}" if isinstance(value, float) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _kind(declared: str, value: Any) -> str:
    if declared != "auto":
        return declared
    return "pct" if isinstance(value, float) else "int"


def _sheet(workbook: Any, table: Table) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(table.title)
    thin = Side(style="thin", color="C8CFC8")
    border = Border(bottom=thin)
    header_font = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor=HEADER_FILL)
    sheet.append([c.title for c in table.columns])
    for cell in sheet[1]:
        cell.font, cell.fill, cell.border = header_font, fill, border
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [_width(c.title) for c in table.columns]
    for values in table.rows:
        sheet.append([NO_VALUE if v is None else v for v in values])
        row = sheet.max_row
        total = values and values[0] == "合计"
        for i, (column, value) in enumerate(zip(table.columns, values)):
            cell = sheet.cell(row=row, column=i + 1)
            kind = _kind(column.kind, value)
            if value is None:
                cell.alignment = Alignment(horizontal="center")
            elif kind in _FORMATS:
                cell.number_format = _FORMATS[kind]
            if column.title == "口径":
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if total:
                cell.font = Font(bold=True)
            widths[i] = max(widths[i], _width(value if value is not None else NO_VALUE))
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = min(MAX_WIDTH, width + 2)
    sheet.freeze_panes = "A2"
    if table.note:
        sheet.cell(row=sheet.max_row + 2, column=1, value=table.note).font = Font(italic=True)


def build_workbook(report: MonthlyReport) -> Any:
    """An openpyxl Workbook with one sheet per table of `report` (总览, 按渠道, ...)."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in report.tables():
        _sheet(workbook, table)
    workbook.properties.title = f"{report.month.label}客服工单统计"
    workbook.properties.creator = "PostDesk"
    return workbook


def write_workbook(report: MonthlyReport, target: Path | str | BinaryIO) -> None:
    """Save the workbook of `report` to a path or a binary file object."""
    build_workbook(report).save(target)


def workbook_bytes(report: MonthlyReport) -> bytes:
    """The workbook of `report` as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    write_workbook(report, buffer)
    return buffer.getvalue()


def filename(report: MonthlyReport) -> str:
    """The download name, e.g. ``postdesk-2025-06.xlsx``."""
    return f"postdesk-{report.month}.xlsx"

