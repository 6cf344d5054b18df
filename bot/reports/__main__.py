"""Command line of the reports.

``python -m bot.reports daily [--date YYYY-MM-DD] [--send] [--database-url URL]``
    print the daily WeChat-group report (today by default); ``--send`` also posts it to the
    WeCom group robot of ``WECOM_ROBOT_WEBHOOK``.
``python -m bot.reports monthly [--month YYYY-MM] [--xlsx FILE] [--charts DIR]
[--database-url URL]``
    print the monthly KPIs (this month so far by default), optionally write the workbook and
    the PNG charts.

The year of data for benchmarks and the reports' benchmark are in `bot.bench`
(``python -m bot.bench.bigseed``, ``python -m bot.bench.reports``).

Exit status: 0 done; 1 the report was made but could not be sent; 2 bad arguments, an
unusable database or missing font.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from bot.config import load_settings, local_now
from bot.reports.periods import Month

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.store.uow import UowFactory

EXIT_OK, EXIT_NOT_SENT, EXIT_FAILED = 0, 1, 2


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{value!r}") from None


def _month(value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(value: str) -> datetime:
    from bot.store.models import as_store_time

    try:
        return as_store_time(datetime.fromisoformat(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.reports``."""
    parser = argparse.ArgumentParser(prog="python -m bot.reports",
                                     description="PostDesk supervisors' reports (日报、月报)")
    commands = parser.add_subparsers(dest="command", required=True)
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database-url", default=None,
                          help="e.g. sqlite:///var/postdesk.db "
                               "(default: DATABASE_URL of the settings)")
    database.add_argument("--now", type=_moment, default=None,
                          help="the report time, ISO 8601 Beijing time (default: now)")

    daily = commands.add_parser("daily", parents=[database],
                                help="print (and send) the daily WeChat-group report")
    daily.add_argument("--date", type=_date, default=None,
                       help="the day, YYYY-MM-DD (default: today)")
    daily.add_argument("--send", action="store_true",
                       help="post it to the WeCom group robot of WECOM_ROBOT_WEBHOOK")

    monthly = commands.add_parser("monthly", parents=[database],
                                  help="print the monthly KPIs; write the workbook and charts")
    monthly.add_argument("--month", type=_month, default=None,
                         help="the month, YYYY-MM (default: this month so far)")
    monthly.add_argument("--xlsx", type=Path, default=None, help="write the .xlsx workbook here")
    monthly.add_argument("--charts", type=Path, default=None,
                         help="write the PNG charts into this directory")

    return parser


def _open(url: str | None) -> tuple[Engine, UowFactory]:
    from bot.store.db import create_schema, make_engine, make_session_factory
    from bot.store.uow import uow_factory

    engine = make_engine(url or load_settings().database_url)
    create_schema(engine)
    return engine, uow_factory(make_session_factory(engine))


def run_daily(args: argparse.Namespace) -> int:
    """Print the daily report; with ``--send`` also post it to the WeCom group robot."""
    from bot.reports.daily import DailyThresholds, daily_text
    from bot.reports.wecom import WeComError, WeComRobot, mask_webhook, webhook_from_env

    now = args.now or local_now()
    day = args.date or now.date()
    webhook = webhook_from_env()
    if args.send and webhook is None:
        print("没有配置企业微信群机器人：请设置环境变量 WECOM_ROBOT_WEBHOOK（完整的 webhook 地址）",
              file=sys.stderr)
        return EXIT_FAILED
    engine, uows = _open(args.database_url)
    try:
        text = daily_text(uows, day, now, DailyThresholds.from_settings(load_settings()))
    finally:
        engine.dispose()
    print(text)
    if not args.send:
        return EXIT_OK
    assert webhook is not None
    try:
        result = asyncio.run(WeComRobot(webhook).send_report(text))
    except WeComError as exc:
        print(f"发送失败（已发出 {exc.sent}/{exc.total} 条）：{exc}", file=sys.stderr)
        return EXIT_NOT_SENT
    print(f"已发送到企业微信群（{mask_webhook(webhook)}）：{result.messages} 条消息",
          file=sys.stderr)
    return EXIT_OK


def run_monthly(args: argparse.Namespace) -> int:
    """Print the monthly KPIs; write the workbook and the charts when asked to."""
    from bot.reports.charts import ChartFontError, write_charts
    from bot.reports.monthly import build_monthly, format_monthly
    from bot.reports.xlsx import write_workbook

    now = args.now or local_now()
    month = args.month or Month.of(now)
    engine, uows = _open(args.database_url)
    try:
        report = build_monthly(uows, month, now)
    finally:
        engine.dispose()
    print(format_monthly(report))
    if args.xlsx is not None:
        args.xlsx.parent.mkdir(parents=True, exist_ok=True)
        write_workbook(report, args.xlsx)
        print(f"工作簿：{args.xlsx}")
    if args.charts is not None:
        try:
            paths = write_charts(report, args.charts)
        except ChartFontError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_FAILED
        print("图表：" + "，".join(str(p) for p in paths))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "daily":
            return run_daily(args)
        return run_monthly(args)
    except (ArgumentError, SQLAlchemyError) as exc:
        print(f"数据库不可用：{type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
