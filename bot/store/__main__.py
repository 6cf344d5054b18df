"""Command line of the store: ``python -m bot.store init|seed --database-url URL``.

``seed`` adds the demo mail; the demo workbench accounts (whose passwords are in the README)
only with ``--demo``, for trying PostDesk locally. The demo work orders need the deadline
policy, which lives above the store: ``python -m bot.workorders seed`` (same options) runs this
seed with the policy and adds them too; that is what ``make seed`` runs.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Sequence

from bot.config import local_now
from bot.store.accounts import DEMO_ACCOUNTS, seed_demo_accounts
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import as_store_time
from bot.store.seed import seed_demo_mail, seed_demo_work_orders
from bot.store.uow import UowFactory, uow_factory
from bot.store.workorders import DeadlineRules


def _iso_datetime(value: str) -> datetime:
    try:
        return as_store_time(datetime.fromisoformat(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}") from exc


def add_seed_arguments(seed: argparse.ArgumentParser) -> None:
    """The options of ``seed`` (shared with ``python -m bot.workorders seed``)."""
    seed.add_argument("--database-url", required=True, help="e.g. sqlite:///var/postdesk.db")
    seed.add_argument("--now", type=_iso_datetime, default=None,
                      help="time the demo trails end at, ISO 8601 (default: now, Beijing time)")
    seed.add_argument("--refresh", action="store_true",
                      help="replace demo items already stored with trails ending at --now")
    seed.add_argument("--demo", action="store_true",
                      help="also create the demo workbench accounts ("
                           + ", ".join(d.username for d in DEMO_ACCOUNTS)
                           + "; passwords in the README): for trying PostDesk locally only")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.store``."""
    parser = argparse.ArgumentParser(prog="python -m bot.store", description="PostDesk mail store")
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="create the tables that do not exist yet")
    init.add_argument("--database-url", required=True, help="e.g. sqlite:///var/postdesk.db")
    seed = commands.add_parser("seed", help="create the tables and add the demo mail items (and "
                                            "with --demo the demo accounts)")
    add_seed_arguments(seed)
    return parser


def _seed_accounts(uows: UowFactory, demo: bool) -> None:
    if not demo:
        print("workbench accounts: none created (demo accounts only with --demo); create an "
              "admin with: python -m bot.workbench users add NAME --role admin")
        return
    created = seed_demo_accounts(uows)
    names = ", ".join(d.username for d in DEMO_ACCOUNTS)
    print(f"DEMO workbench accounts ({names}): {created} added, "
          f"{len(DEMO_ACCOUNTS) - created} already there. Their passwords are published in "
          "the README: for trying PostDesk locally only, never on a workbench others can reach.")


def seed(args: argparse.Namespace, rules: DeadlineRules | None = None) -> int:
    """Run ``seed`` with the parsed options; the demo work orders only when `rules` are given.

    Args:
        args: the options `add_seed_arguments` defines.
        rules: the deadline policy of the work orders (None: no demo work orders).

    Returns:
        The process exit status.
    """
    engine = make_engine(args.database_url)
    try:
        create_schema(engine)
        now = args.now or local_now()
        uows = uow_factory(make_session_factory(engine))
        _seed_accounts(uows, args.demo)
        result = seed_demo_mail(uows, now, refresh=args.refresh)
        print(f"demo mail at {now:%Y-%m-%d %H:%M}: {result.added} added, "
              f"{result.replaced} replaced, {result.kept} already there")
        if rules is None:
            print("demo work orders: none (they need the deadline policy: "
                  "python -m bot.workorders seed adds them)")
        else:
            orders = seed_demo_work_orders(uows, rules, now)
            print(f"demo work orders: {orders} added")
        return 0
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "seed":
        return seed(args)
    engine = make_engine(args.database_url)
    try:
        create_schema(engine)
        print(f"schema ready at {engine.url!r}")
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
