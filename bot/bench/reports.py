"""Benchmark of the reports on a year of data, on SQLite and on PostgreSQL.

``python -m bot.bench.reports`` seeds the year (`bot.bench.bigseed`, 100,000 work orders
and over 1,000,000 tracking events, ending 2025-12-31 18:00) into a temporary SQLite file and
into PostgreSQL, then times the daily report (on the last day, and on a past day) and the
monthly statistics (November, the busiest month). PostgreSQL is ``--pg-url`` or the tests'
``POSTDESK_TEST_PG_URL`` (a scratch database: its PostDesk tables are dropped and recreated;
never ``DATABASE_URL``) or, without either, a throwaway server started from the Debian
package (`tests.pg.Server`). Figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Sequence

from bot.reports.periods import Month

END = datetime(2025, 12, 31, 18, 0)
PAST_DAY = date(2025, 11, 12)
MONTH = Month(2025, 11)
SCRATCH_PG_ENV = "POSTDESK_TEST_PG_URL"  # the tests' scratch database (tests/pg.py)


@dataclass(frozen=True)
class Timing:
    """Best and median wall time of a few runs, in seconds."""

    best: float
    median: float

    def __str__(self) -> str:
        return f"{self.best:6.2f} s (median {self.median:.2f})"


def timed(fn: Callable[[], object], runs: int) -> Timing:
    """Call `fn` `runs` times; best and median seconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing(min(samples), statistics.median(samples))


@dataclass(frozen=True)
class BackendResult:
    """One backend's figures: seeding time, rows written and the reports' timings."""

    backend: str
    seed_s: float
    work_orders: int
    tracking_events: int
    daily_today: Timing
    daily_past: Timing
    monthly: Timing


def _fresh_postgresql(url: str) -> None:
    """Drop PostDesk's tables of a scratch database (after bringing it to the newest schema,
    so that every table the migrations know is on the metadata)."""
    from sqlalchemy import text

    from bot.store.db import create_schema, make_engine
    from bot.store.models import Base

    engine = make_engine(url)
    try:
        create_schema(engine)
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def bench_backend(backend: str, url: str, work_orders: int, tracking_events: int,
                  runs: int) -> BackendResult:
    """Seed the year into `url` (an empty store) and time the reports on it."""
    from bot.bench.bigseed import YearSize, seed_year
    from bot.reports.daily import build_daily
    from bot.reports.monthly import build_monthly
    from bot.store.db import create_schema, make_engine, make_session_factory
    from bot.store.uow import uow_factory

    engine = make_engine(url)
    try:
        create_schema(engine)
        counts = seed_year(engine, END, YearSize(work_orders, tracking_events),
                           progress=lambda line: print(f"  [{backend}] {line}", flush=True))
        uows = uow_factory(make_session_factory(engine))
        build_monthly(uows, MONTH, END)  # one warm-up run: caches, prepared plans
        return BackendResult(
            backend, counts.seconds, counts.work_orders, counts.tracking_events,
            daily_today=timed(lambda: build_daily(uows, END.date(), END), runs),
            daily_past=timed(lambda: build_daily(uows, PAST_DAY, END), runs),
            monthly=timed(lambda: build_monthly(uows, MONTH, END), runs),
        )
    finally:
        engine.dispose()


def _sqlite(args: argparse.Namespace) -> BackendResult:
    directory = None
    path = args.sqlite_path
    if path is None:
        directory = Path(tempfile.mkdtemp(prefix="postdesk-bench-"))
        path = directory / "year.db"
    else:  # a fresh file: the database and its write-ahead log (WAL mode, bot.store.db)
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
    try:
        return bench_backend("sqlite", f"sqlite:///{path}", args.work_orders,
                             args.tracking_events, args.runs)
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _postgresql(args: argparse.Namespace) -> BackendResult | None:
    # Never DATABASE_URL: the bench drops the tables it seeds into.
    scratch = args.pg_url or os.environ.get(SCRATCH_PG_ENV)
    if scratch:
        _fresh_postgresql(scratch)
        return bench_backend("postgresql", scratch, args.work_orders, args.tracking_events,
                             args.runs)
    try:
        from tests import pg
    except ImportError:
        print("PostgreSQL: tests/pg.py not found; pass --pg-url", flush=True)
        return None
    if pg.pg_bin() is None:
        print("PostgreSQL: server not installed (apt-get install postgresql); pass --pg-url",
              flush=True)
        return None
    server = pg.Server()
    try:
        url = server.start()
        return bench_backend("postgresql", url, args.work_orders, args.tracking_events,
                             args.runs)
    finally:
        server.stop()


def format_results(results: list[BackendResult], runs: int) -> str:
    """The figures as a small table."""
    lines = [f"Reports on a year of data (ending {END:%Y-%m-%d %H:%M}); best of {runs} runs",
             f"{'backend':<11} {'rows (orders / scans)':>22} {'seed':>8}  "
             f"{'daily (last day)':<24} {'daily (' + PAST_DAY.isoformat() + ')':<24} "
             f"{'monthly (' + str(MONTH) + ')':<24}"]
    for r in results:
        lines.append(f"{r.backend:<11} {f'{r.work_orders:,} / {r.tracking_events:,}':>22} "
                     f"{r.seed_s:6.1f} s  {str(r.daily_today):<24} {str(r.daily_past):<24} "
                     f"{str(r.monthly):<24}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.bench.reports``."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench.reports",
                                     description="time the reports on a year of data, "
                                                 "on SQLite and PostgreSQL")
    parser.add_argument("--pg-url", default=None,
                        help="a scratch PostgreSQL database (its PostDesk tables are dropped; "
                             "default POSTDESK_TEST_PG_URL, else "
                             "a throwaway server from the Debian package)")
    parser.add_argument("--sqlite-path", type=Path, default=None,
                        help="the SQLite file to seed (default: a temporary file)")
    parser.add_argument("--work-orders", type=int, default=100_000)
    parser.add_argument("--tracking-events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each report")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """Seed and time on each backend, print the figures."""
    results = []
    if not args.skip_sqlite:
        print("SQLite: seeding a year …", flush=True)
        results.append(_sqlite(args))
    if not args.skip_postgresql:
        print("PostgreSQL: seeding a year …", flush=True)
        result = _postgresql(args)
        if result is not None:
            results.append(result)
    print()
    print(format_results(results, args.runs))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when done, 2 when a database is unusable or an argument is wrong."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    args = build_parser().parse_args(argv)
    try:
        return run_bench(args)
    except (ArgumentError, SQLAlchemyError) as exc:
        print(f"数据库不可用：{type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
