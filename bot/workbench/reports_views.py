"""Supervisors' pages of the workbench: the daily report and the monthly statistics.

* ``GET /supervisor?date=YYYY-MM-DD&month=YYYY-MM``: the daily WeChat-group text of the day
  (today by default) with a copy button and, when a WeCom group robot is configured, a
  send button; the month's KPIs and tables (this month by default), its charts and a link
  to the workbook.
* ``POST /supervisor/send`` (CSRF): post the day's text to the group robot, then back to the
  page (303) saying how many messages went; a failure is shown at once (502).
* ``GET /supervisor/charts/{name}.png?month=``: one chart, drawn on demand.
* ``GET /supervisor/monthly.xlsx?month=``: the workbook.

Every route is for supervisors (an admin passes too). The daily text masks personal data
itself (`bot.reports.daily`); the monthly figures hold none (agents appear by username).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable
from urllib.parse import urlencode

from aiohttp import web

from bot.reports.charts import CHARTS, ChartFontError, render_chart
from bot.reports.daily import DailyThresholds, daily_text
from bot.reports.monthly import MonthlyReport, Table, build_monthly
from bot.reports.periods import Month, percent
from bot.reports.wecom import WeComError, WeComRobot, mask_webhook, webhook_from_env
from bot.reports.xlsx import filename, workbook_bytes
from bot.store.accounts import Role
from bot.workbench import keys
from bot.workbench.auth import require_role
from bot.workbench.keys import UOWS, WEBHOOK, in_thread
from bot.workbench.views import render

# Monthly reports computed in the last minute, by (month, minute): the page and its charts.
_CACHE = web.AppKey("postdesk.reports.cache", dict)
_CACHE_SIZE = 8


def _thresholds(request: web.Request) -> DailyThresholds:
    return DailyThresholds.from_settings(keys.settings(request))


def _day(value: str | None, now: datetime) -> tuple[date, str | None]:
    """The day asked for, or today with the reason the request was not usable."""
    if not value:
        return now.date(), None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return now.date(), f"日期格式不对（{value}），已显示今天的日报。"
    if day > now.date():
        return now.date(), f"{day:%Y-%m-%d} 还没有到，已显示今天的日报。"
    return day, None


def _month(value: str | None, now: datetime) -> tuple[Month, str | None]:
    current = Month.of(now)
    if not value:
        return current, None
    try:
        month = Month.parse(value)
    except ValueError:
        return current, f"月份格式不对（{value}），已显示本月统计。"
    if month > current:
        return current, f"{month.label}还没有开始，已显示本月统计。"
    return month, None


def _monthly(app: web.Application, month: Month, now: datetime) -> MonthlyReport:
    cache: dict[tuple[str, datetime], MonthlyReport] = app[_CACHE]
    key = (str(month), now.replace(second=0, microsecond=0))
    report = cache.get(key)
    if report is None:
        report = build_monthly(app[UOWS], month, now)
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = report
    return report


def _cell(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if kind == "auto":
        kind = "pct" if isinstance(value, float) else "int"
    if kind == "pct":
        return percent(value)
    if kind == "int":
        return f"{value:,}"
    if kind == "num":
        return f"{value:.1f}"
    if kind == "date":
        return f"{value:%m-%d}"
    return str(value)


@dataclass(frozen=True)
class ShownTable:
    """A report table with its cells formatted for the page."""

    key: str
    title: str
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]


def _shown(table: Table) -> ShownTable:
    return ShownTable(
        key=table.key, title=table.title,
        headers=tuple(c.title for c in table.columns),
        numeric=tuple(c.kind != "text" for c in table.columns),
        rows=tuple(tuple(_cell(c.kind, v) for c, v in zip(table.columns, row))
                   for row in table.rows))


async def _page(request: web.Request, *, day_value: str | None, month_value: str | None,
                send_result: str | None = None, send_failed: bool = False,
                status: int = 200) -> web.Response:
    now = keys.now(request)
    day, day_error = _day(day_value, now)
    month, month_error = _month(month_value, now)
    text = await in_thread(daily_text, request.app[UOWS], day, now,
                            _thresholds(request))
    report = await in_thread(_monthly, request.app, month, now)
    webhook = request.app[WEBHOOK]
    return render(request, "supervisor.html", {
        "day": day, "today": now.date(), "month": str(month), "month_label": month.label,
        "current_month": str(Month.of(now)), "as_of": report.as_of,
        "daily_text": text, "daily_lines": text.count("\n") + 1,
        "errors": [e for e in (day_error, month_error) if e],
        "webhook": mask_webhook(webhook) if webhook else "",
        "send_result": send_result, "send_failed": send_failed,
        "kpis": [(k.label, _cell("auto", k.value if k.is_rate else k.numerator),
                  f"{k.numerator:,}/{k.denominator:,}" if k.is_rate else "", k.definition)
                 for k in report.kpis],
        "tables": [_shown(t) for t in report.tables()[1:]],
        "charts": list(CHARTS.items()),
    }, status=status)


@require_role(Role.SUPERVISOR)
async def supervisor(request: web.Request) -> web.StreamResponse:
    """GET /supervisor: the daily report and the monthly statistics."""
    sent = request.query.get("sent", "")
    day_value = request.query.get("date")
    result = (f"{day_value} 的日报已发送到企业微信群，共 {int(sent)} 条消息。"
              if sent.isdigit() and day_value else None)
    return await _page(request, day_value=day_value, month_value=request.query.get("month"),
                       send_result=result)


@require_role(Role.SUPERVISOR)
async def send_daily(request: web.Request) -> web.StreamResponse:
    """POST /supervisor/send: post the day's report to the WeCom group robot."""
    form = await request.post()
    day_value, month_value = str(form.get("date", "")), str(form.get("month", ""))
    webhook = request.app[WEBHOOK]
    if not webhook:
        return await _page(request, day_value=day_value, month_value=month_value,
                           send_result="没有配置企业微信群机器人（WECOM_ROBOT_WEBHOOK），无法发送。",
                           send_failed=True, status=409)
    now = keys.now(request)
    day, error = _day(day_value, now)
    if error:
        return await _page(request, day_value=None, month_value=month_value,
                           send_result=f"没有发送：{error}", send_failed=True, status=400)
    text = await in_thread(daily_text, request.app[UOWS], day, now, _thresholds(request))
    try:
        result = await WeComRobot(webhook).send_report(text)
    except WeComError as exc:
        return await _page(request, day_value=day_value, month_value=month_value,
                           send_result=f"发送失败（已发出 {exc.sent}/{exc.total} 条）：{exc}",
                           send_failed=True, status=502)
    # Redirect (303): reloading the page must not post the report to the group again.
    query = urlencode({"date": day.isoformat(), "month": month_value, "sent": result.messages})
    raise web.HTTPSeeOther(f"/supervisor?{query}")


def _month_or_404(request: web.Request) -> Month:
    month, error = _month(request.query.get("month"), keys.now(request))
    if error:
        raise web.HTTPNotFound(text=error)
    return month


@require_role(Role.SUPERVISOR)
async def chart(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/charts/{name}.png?month=YYYY-MM: one chart of the month."""
    name = request.match_info["name"]
    if name not in CHARTS:
        raise web.HTTPNotFound(text="没有这个图表")
    month = _month_or_404(request)
    report = await in_thread(_monthly, request.app, month, keys.now(request))
    try:
        png = await in_thread(render_chart, report, name)
    except ChartFontError as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    return web.Response(body=png, content_type="image/png")


@require_role(Role.SUPERVISOR)
async def monthly_xlsx(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/monthly.xlsx?month=YYYY-MM: the month's workbook, as a download."""
    month = _month_or_404(request)
    report = await in_thread(_monthly, request.app, month, keys.now(request))
    body = await in_thread(workbook_bytes, report)
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename(report)}"'})


def setup_routes(app: web.Application,
                 environ: Callable[[], str | None] = webhook_from_env) -> None:
    """The supervisors' routes; the webhook is read from the environment unless set."""
    if WEBHOOK not in app:
        app[WEBHOOK] = environ() or ""
    app[_CACHE] = {}
    app.router.add_get("/supervisor", supervisor, name="supervisor")
    app.router.add_post("/supervisor/send", send_daily, name="supervisor_send")
    app.router.add_get("/supervisor/charts/{name:[a-z]+}.png", chart, name="supervisor_chart")
    app.router.add_get("/supervisor/monthly.xlsx", monthly_xlsx, name="supervisor_xlsx")
