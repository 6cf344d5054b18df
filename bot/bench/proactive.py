"""Benchmark of the proactive scan: 100,000 watched mail with their trails, in SQLite.

``python -m bot.bench.proactive`` bulk-writes the watched mail (VIP customers' mail, 特安 mail,
key-project batches; about 700,000 scans; a few percent stuck, failed, at a station too long,
returned, missorted, signed by someone else or never scanned) into a temporary SQLite file,
then times the first scan (it opens the tasks) and a second one (the steady state: every
exception already has its task). Figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bot.proactive.config import load_config
from bot.proactive.scan import ScanReport, scan
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import MailItem, ProactiveTask, TrackingEvent, VipCustomer, WatchedMail
from bot.store.seed import BANNA, KUNMING, QUJING
from bot.store.uow import uow_factory
from bot.text.tracking import make_s10
from bot.workorders.policy import load_policy

NOW = datetime(2025, 12, 10, 10, 0)
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"
DEST = "景洪市邮政分公司勐泐营业部"
BAOSHAN = "保山邮区中心局"
BATCH = 5000


def _route() -> list[tuple[str, str, str]]:
    """The scans of a normal trail: (status, unit, description)."""
    return [
        ("POSTED", OUTLET, f"【{OUTLET}】已收寄"),
        ("DEPARTED", OUTLET, f"【{OUTLET}】已发出，下一站【{QUJING}】"),
        ("ARRIVED", QUJING, f"【{QUJING}】已到达"),
        ("DEPARTED", QUJING, f"【{QUJING}】已发出，下一站【{KUNMING}】"),
        ("ARRIVED", KUNMING, f"【{KUNMING}】已到达"),
        ("DEPARTED", KUNMING, f"【{KUNMING}】已发出，下一站【{BANNA}】"),
        ("ARRIVED", BANNA, f"【{BANNA}】已到达"),
        ("OUT_FOR_DELIVERY", DEST, f"【{DEST}】安排投递"),
        ("DELIVERED", DEST, f"【{DEST}】已妥投，签收人：本人签收"),
    ]


def _trail(rng: random.Random, posted: datetime) -> tuple[list[tuple[Any, ...]], str | None]:
    """(time, status, unit, description) scans of one item ending before NOW, and the signer."""
    steps = _route()
    fate = rng.random()
    if fate < 0.01:
        return [], None                                           # never scanned
    if fate < 0.03:
        steps = steps[:rng.randrange(2, 7)]                       # stopped on the way
    elif fate < 0.05:
        steps = steps[:8] + [("FAILED", DEST, f"【{DEST}】投递失败，收件人电话无人接听")]
    elif fate < 0.06:
        steps = steps[:8] + [("AT_STATION", DEST, f"【{DEST}】已投递至驿站")]
    elif fate < 0.07:
        steps = steps[:8] + [("RETURNING", DEST, f"【{DEST}】邮件无法投递，退回寄件人")]
    elif fate < 0.075:
        steps = steps[:6] + [("ARRIVED", BAOSHAN, f"【{BAOSHAN}】已到达")]
    at, scans = posted, []
    for i, (status, unit, text) in enumerate(steps):
        if i:
            at += timedelta(hours=rng.uniform(1, 8))
        if at > NOW:  # posted lately: still on its way
            break
        scans.append((at, status, unit, text))
    signer = None
    if scans and scans[-1][1] == "DELIVERED":
        signer = "本人签收" if rng.random() < 0.9 else "门卫代收"
    return scans, signer


def seed_watched(engine: Engine, count: int, seed: int = 2025) -> int:
    """Write `count` watched mail with their trails (Core executemany, ids given); the scans."""
    rng = random.Random(seed)
    events_written = 0
    with engine.begin() as connection:
        connection.execute(insert(VipCustomer), [
            {"id": i, "name": f"大客户{i:03d}", "contact_name": "", "contact_phone": "",
             "unit": "", "account_manager": "", "openid": f"oBENCH_vip_{i:06d}",
             "consent": i % 2 == 0, "opted_out": False, "created_at": NOW, "updated_at": NOW}
            for i in range(1, 51)])
    event_id = 0
    for start in range(0, count, BATCH):
        mails, events, watched = [], [], []
        for n in range(start, min(start + BATCH, count)):
            mail_id = n + 1
            number = make_s10("EW", f"{n:08d}")
            posted = NOW - timedelta(hours=rng.uniform(8, 120))
            scans, signer = _trail(rng, posted)
            mails.append({
                "id": mail_id, "number": number,
                "product": rng.choice(("EMS", "邮政快递包裹", "挂号信")),
                "sender_area": "麒麟区", "sender_prefecture": "曲靖市", "recipient_area": "景洪市",
                "recipient_prefecture": "西双版纳傣族自治州", "recipient_name": "张三",
                "recipient_phone": "13988123456", "recipient_address": "景洪市勐泐大道18号",
                "posted_at": posted, "promised_by": posted + timedelta(hours=72),
                "postage": "20.00", "weight_g": 500,
                "status": scans[-1][1] if scans else "POSTED", "signed_by": signer,
                "created_at": NOW})
            for at, status, unit, text in scans:
                event_id += 1
                events.append({"id": event_id, "mail_id": mail_id, "occurred_at": at,
                               "place": unit, "unit": unit, "status_code": status,
                               "description": text})
            kind = rng.random()
            reason = "vip" if kind < 0.6 else "te_an" if kind < 0.8 else "project"
            watched.append({"mail_number": number, "reason": reason,
                            "project": "身份证" if reason == "project" else None,
                            "vip_id": rng.randrange(1, 51) if reason == "vip" else None,
                            "added_at": posted})
        with engine.begin() as connection:
            connection.execute(insert(MailItem), mails)
            if events:
                connection.execute(insert(TrackingEvent), events)
            connection.execute(insert(WatchedMail), watched)
        events_written += len(events)
    return events_written


def _line(name: str, seconds: float, report: ScanReport) -> str:
    return (f"  {name:<34} {seconds:6.2f} s   opened {len(report.opened):>6,}  "
            f"closed {len(report.closed):>5,}  notices queued {report.queued:>5,}")


def run(url: str, count: int) -> str:
    """Seed `count` watched mail at `url` (an empty database) and time two scans."""
    engine = make_engine(url)
    try:
        create_schema(engine)
        started = time.perf_counter()
        events = seed_watched(engine, count)
        seeded = time.perf_counter() - started
        uows = uow_factory(make_session_factory(engine))
        config, policy = load_config(), load_policy()
        started = time.perf_counter()
        first = scan(uows, config, policy, NOW)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = scan(uows, config, policy, NOW + timedelta(minutes=5))
        second_s = time.perf_counter() - started
        with uows() as uow:
            open_tasks = uow.session.execute(select(func.count(ProactiveTask.id))).scalar_one()
        return "\n".join([
            f"Proactive scan on SQLite: {first.watched:,} watched mail, {events:,} scans "
            f"(seeded in {seeded:.1f} s), {open_tasks:,} tasks",
            _line("first scan (opens the tasks)", first_s, first),
            _line("second scan (steady state)", second_s, second),
        ])
    finally:
        engine.dispose()


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench.proactive", description=__doc__)
    parser.add_argument("--mail", type=int, default=100_000, help="watched mail to write")
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a temporary SQLite file)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Seed, time, print."""
    args = build_parser().parse_args(argv)
    if args.database_url:
        print(run(args.database_url, args.mail), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="postdesk-proactive-") as tmp:
        print(f"Proactive scan: writing {args.mail:,} watched mail …", flush=True)
        print(run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.mail), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
