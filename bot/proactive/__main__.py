"""``python -m bot.proactive``: import VIP customers, watch mail, scan, seed the demo data.

    python -m bot.proactive import-vip customers.xlsx
    python -m bot.proactive watch batch.csv --project 身份证     (or --te-an, or --vip NAME)
    python -m bot.proactive scan [--no-send]
    python -m bot.proactive loop --minutes 5                     (what `make run` starts)
    python -m bot.proactive seed [--refresh]                     (the demo data, `make seed`)

Exit status: 0 done, 1 failed, 2 done but some rows were rejected.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.config import Settings, load_settings, local_now
from bot.proactive.config import ProactiveConfig, load_config
from bot.proactive.importer import ImportResult, import_vips, import_watch
from bot.proactive.notices import SendReport, send_due
from bot.proactive.rules import Exception_
from bot.proactive.scan import ScanReport, scan
from bot.proactive.service import task_number
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.proactive import ProactiveError
from bot.store.status import label_of
from bot.store.uow import UowFactory, uow_factory
from bot.text.masking import mask_text
from bot.workorders.importer import ImportFileError
from bot.workorders.policy import DeadlinePolicy, policy_from_settings

EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 1, 2
logger = logging.getLogger("bot.proactive")


def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bot.proactive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    vip = commands.add_parser("import-vip", help="import VIP customers from .xlsx/.csv")
    vip.add_argument("file", type=Path)
    watch = commands.add_parser("watch", help="watch the mail numbers of a .xlsx/.csv file")
    watch.add_argument("file", type=Path)
    why = watch.add_mutually_exclusive_group(required=True)
    why.add_argument("--project", help="a key project (重点项目), e.g. 身份证, 法院文书")
    why.add_argument("--te-an", action="store_true", help="特安 mail")
    why.add_argument("--vip", help="the mail of this VIP customer (by name)")
    once = commands.add_parser("scan", help="scan the watched mail once, then send due notices")
    once.add_argument("--no-send", action="store_true", help="queue notices, send nothing")
    loop = commands.add_parser("loop", help="scan and send every few minutes until stopped")
    loop.add_argument("--minutes", type=float, default=None,
                      help="default: PROACTIVE_SCAN_MINUTES")
    seed = commands.add_parser("seed", help="the demo customers and watch list")
    seed.add_argument("--refresh", action="store_true", help="re-time the demo items")
    return parser


def _print_import(result: ImportResult, path: Path, what: str) -> None:
    print(f"{what}: {path.name}")
    print(f"  新增 added: {result.added}   更新 updated: {result.updated}   "
          f"已有 already: {result.already}   拒绝 rejected: {len(result.rejected)}")
    for error in result.rejected:
        ident = f" ({mask_text(error.external_id)})" if error.external_id else ""
        print(f"第{error.row_number}行 row {error.row_number}{ident} 拒绝 / rejected: "
              f"{error.reason}")


def format_scan(report: ScanReport, sent: SendReport | None, note: str = "") -> str:
    """What a scan opened, closed and sent, for the terminal (details masked already)."""
    lines = [f"主动客服扫描 / proactive scan: 关注邮件 watched {report.watched}",
             f"  新开任务 opened: {len(report.opened)}"]
    for t in report.opened:
        lines.append(f"    {task_number(t.id)} {t.mail_number} "
                     f"{label_of(Exception_, t.exception)} → {t.responsible_unit or '待定'}："
                     f"{t.detail}")
    lines.append(f"  恢复关闭 closed (recovered): {len(report.closed)}")
    for t in report.closed:
        lines.append(f"    {task_number(t.id)} {t.mail_number} {label_of(Exception_, t.exception)}")
    lines.append(f"  通知入队 notices queued: {report.queued}")
    if sent is not None:
        lines.append(f"  通知发送 notices sent: {len(sent.sent)}, "
                     f"稍后重试 retry: {len(sent.retry)}, 失败 failed: {len(sent.failed)}, "
                     f"跳过 skipped: {len(sent.skipped)}, "
                     f"可能已送达（不重发） may have been sent: "
                     f"{len(sent.uncertain) + sent.interrupted}"
                     + ("（静默时段，早上发送 / quiet hours: held until morning）"
                        if sent.held else ""))
    if note:
        lines.append(f"  {note}")
    return "\n".join(lines)


def wechat_configured(settings: Settings) -> bool:
    """Whether a real Official Account is configured (not the demo values)."""
    demo = Settings()
    return (settings.wechat_app_id != demo.wechat_app_id
            or settings.wechat_api_base_url != demo.wechat_api_base_url)


def _client(settings: Settings) -> Any:
    from bot.channels.wechat_api import WeChatClient

    return WeChatClient(settings.wechat_app_id, settings.wechat_app_secret,
                        base_url=settings.wechat_api_base_url, redis_url=settings.redis_url)


async def _send(uows: UowFactory, settings: Settings, config: ProactiveConfig,
                now: datetime) -> SendReport:
    client = _client(settings)
    try:
        return await send_due(uows, client, config, now)
    finally:
        await client.close()


NOT_CONFIGURED = ("微信公众号为演示值，通知留在待发队列 / WeChat not configured (demo values): "
                  "notices stay queued")


def run_once(uows: UowFactory, settings: Settings, config: ProactiveConfig,
             policy: DeadlinePolicy, send: bool = True) -> str:
    """One scan and, when WeChat is configured and `send`, one round of sending; the summary."""
    now = local_now()
    report = scan(uows, config, policy, now)
    if not send:
        return format_scan(report, None, "未发送通知（--no-send） / notices not sent")
    if not wechat_configured(settings):
        return format_scan(report, None, NOT_CONFIGURED)
    return format_scan(report, asyncio.run(_send(uows, settings, config, now)))


async def rounds(uows: UowFactory, settings: Settings, config: ProactiveConfig,
                 policy: DeadlinePolicy, minutes: float, stop: asyncio.Event,
                 limit: int | None = None, make_client: Callable[[Settings], Any] = _client,
                 clock: Callable[[], datetime] = local_now) -> int:
    """Scan and send every `minutes` until `stop` is set (or `limit` rounds); rounds done.

    One WeChat client serves every round, so its access token (and its HTTP connections) is
    fetched once and refreshed only when it expires, not at every round.
    """
    client = make_client(settings) if wechat_configured(settings) else None
    done = 0
    try:
        while not stop.is_set() and (limit is None or done < limit):
            try:
                now = clock()
                report = scan(uows, config, policy, now)  # nothing else runs on this loop
                sent = await send_due(uows, client, config, now) if client else None
                summary = format_scan(report, sent, "" if client else NOT_CONFIGURED)
                logger.info("%s", summary.replace("\n", " | "))
            except Exception:  # noqa: BLE001 - one bad round must not stop the next
                logger.exception("proactive scan failed; trying again in %g minutes", minutes)
            done += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=minutes * 60)
            except asyncio.TimeoutError:
                pass
    finally:
        if client is not None:
            await client.close()
    return done


def _loop(uows: UowFactory, settings: Settings, config: ProactiveConfig,
          policy: DeadlinePolicy, minutes: float) -> int:
    if minutes <= 0:
        print("PROACTIVE_SCAN_MINUTES 为 0：不定时扫描 / periodic scan switched off")
        return EXIT_OK
    logger.info("proactive scan every %g minutes", minutes)

    async def until_stopped() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await rounds(uows, settings, config, policy, minutes, stop)

    asyncio.run(until_stopped())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.command in ("import-vip", "watch") and not args.file.is_file():
        print(f"找不到文件 / no such file: {args.file}", file=sys.stderr)
        return EXIT_FAILED
    try:
        config = load_config()
        policy = policy_from_settings(settings)
    except (OSError, ValueError) as exc:
        print(f"配置有误 / bad configuration: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        engine = make_engine(args.database_url or settings.database_url)
    except ArgumentError as exc:
        print(f"数据库地址无效 / bad database URL: {exc}", file=sys.stderr)
        return EXIT_FAILED
    uows = uow_factory(make_session_factory(engine))
    try:
        create_schema(engine)
        if args.command == "import-vip":
            result = import_vips(uows, args.file, local_now())
            _print_import(result, args.file, "导入大客户 / VIP customers")
            return EXIT_REJECTED if result.rejected else EXIT_OK
        if args.command == "watch":
            reason = "te_an" if args.te_an else "vip" if args.vip else "project"
            result = import_watch(uows, args.file, local_now(), reason=reason,
                                  project=args.project, vip_name=args.vip)
            _print_import(result, args.file, "关注邮件 / watched mail")
            return EXIT_REJECTED if result.rejected else EXIT_OK
        if args.command == "scan":
            print(run_once(uows, settings, config, policy, send=not args.no_send))
            return EXIT_OK
        if args.command == "loop":
            minutes = args.minutes if args.minutes is not None \
                else settings.proactive_scan_minutes
            return _loop(uows, settings, config, policy, minutes)
        from bot.proactive.demo import seed_demo

        done = seed_demo(uows, local_now(), refresh=args.refresh)
        print(f"主动客服演示数据 / proactive demo: 大客户 {done.vips_added} 新增, "
              f"邮件 {done.mail_added} 新增, 关注 {done.watched_added} 新增")
        return EXIT_OK
    except (ImportFileError, ProactiveError) as exc:
        print(f"{exc}", file=sys.stderr)
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"数据库不可用 / database unavailable: {mask_text(detail[0]) if detail else exc!r}",
              file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
