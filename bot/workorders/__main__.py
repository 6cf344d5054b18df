"""Command line of the work orders: import another channel's export, seed the demo data.

``python -m bot.workorders import FILE --channel 12345 [--database-url URL] [--dry-run]``

``python -m bot.workorders seed --database-url URL [--now ISO] [--refresh] [--demo]`` is
``python -m bot.store seed`` with the deadline policy, so that it adds the demo work orders
too (what ``make seed`` runs).

Exit status of ``import``: 0 when every row was imported or already there, 1 when some rows
were rejected (the good ones are still imported), 2 when the file cannot be read, lacks
required columns, the channel is unknown or the database cannot be used.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.config import load_settings, local_now
from bot.store import __main__ as store_cli
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.status import Channel
from bot.store.uow import uow_factory
from bot.text.masking import mask_text
from bot.workorders.importer import ImportFileError, ImportReport, import_file
from bot.workorders.policy import policy_from_settings

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


def channel_argument(value: str) -> Channel:
    """A channel given by its value (``12345``, ``pinduoduo``) or Chinese name (``拼多多``)."""
    for channel in Channel:
        if value.strip() in (channel.value, channel.label):
            return channel
    known = ", ".join(f"{c.value} ({c.label})" for c in Channel)
    raise argparse.ArgumentTypeError(
        f"未知渠道 / unknown channel {value!r}; 可选 / choose from: {known}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.workorders``."""
    parser = argparse.ArgumentParser(prog="python -m bot.workorders",
                                     description="PostDesk work orders (工单)")
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser(
        "import", help="import the work orders of another channel's .xlsx/.csv export",
        description="Import a channel's work-order export (.xlsx or .csv, Chinese header row).",
    )
    imp.add_argument("file", type=Path, help="the .xlsx or .csv file")
    imp.add_argument("--channel", required=True, type=channel_argument,
                     help="where the file came from: " + ", ".join(c.value for c in Channel))
    imp.add_argument("--database-url", default=None,
                     help="e.g. sqlite:///var/postdesk.db (default: DATABASE_URL of the settings)")
    imp.add_argument("--dry-run", action="store_true",
                     help="check the file and show what would be imported, without writing")
    seed = commands.add_parser(
        "seed", help="create the tables and add the demo mail, work orders (and with --demo "
                     "the demo accounts)")
    store_cli.add_seed_arguments(seed)
    return parser


def format_report(report: ImportReport, path: Path) -> str:
    """The summary, the linked and the rejected rows, for the terminal.

    Reasons quote cells only through ``mask_text``/``mask_phone``: no raw phone is printed.
    """
    channel = report.channel
    title = "试导入（未写入） / dry run, nothing written" if report.dry_run else "导入 / import"
    lines = [
        f"{title}: {path.name} · {channel.label} ({channel.value})",
        f"  新建工单 imported:                {len(report.imported)}",
        f"  已导入过 already imported:        {len(report.already)}",
        f"  并入未结工单 linked to open order: {len(report.linked)}",
        f"  拒绝 rejected:                    {len(report.rejected)}",
    ]
    for outcome in report.linked:
        target = outcome.order_number or "本文件中较早的一行 / an earlier row of this file"
        lines.append(f"第{outcome.row_number}行 row {outcome.row_number} ({outcome.external_id}): "
                     f"并入 / linked to {target}")
    for error in report.rejected:
        ident = f" ({error.external_id})" if error.external_id else ""
        lines.append(f"第{error.row_number}行 row {error.row_number}{ident} 拒绝 / rejected: "
                     f"{error.reason}")
    if report.aborted:
        lines.append(report.aborted)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "import" and not args.file.is_file():
        print(f"找不到文件 / no such file: {args.file}", file=sys.stderr)
        return EXIT_FAILED
    settings = load_settings()
    try:
        rules = policy_from_settings(settings)
    except (OSError, ValueError) as exc:
        print(f"工单时限配置有误 / bad deadline policy: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.command == "seed":
        return store_cli.seed(args, rules)
    try:
        engine = make_engine(args.database_url or settings.database_url)
    except ArgumentError as exc:
        print(f"数据库地址无效 / bad database URL: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        create_schema(engine)
        report = import_file(uow_factory(make_session_factory(engine)), rules, args.file,
                             args.channel, local_now(), dry_run=args.dry_run)
    except ImportFileError as exc:
        print(f"{args.file.name}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"数据库不可用 / database unavailable: {mask_text(detail[0]) if detail else exc!r}",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    print(format_report(report, args.file))
    if report.aborted:
        return EXIT_FAILED
    return EXIT_REJECTED if report.rejected else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
