"""Command line of the workbench.

``python -m bot.workbench serve [--host H] [--port 8080]`` starts the web app;
``python -m bot.workbench users add USERNAME --role agent [--display-name N] [--password-stdin]``,
``users list``, ``users deactivate USERNAME``, ``users passwd USERNAME [--password-stdin]``,
``users unlock USERNAME`` (or ``users unlock --address ADDR``) and ``users seed-demo`` manage
the accounts. Each takes ``--database-url URL`` (default: the settings' ``DATABASE_URL``).
"""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Sequence

from bot.config import load_settings
from bot.store.accounts import (
    DEMO_ACCOUNTS,
    AccountError,
    Role,
    ThrottleKind,
    create_account,
    deactivate,
    list_accounts,
    normalise_username,
    seed_demo_accounts,
    set_password,
    unlock_login,
)
from bot.store.uow import UowFactory


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.workbench``."""
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--database-url", default=None,
                       help="the store (default: DATABASE_URL from the environment or .env)")
    parser = argparse.ArgumentParser(prog="python -m bot.workbench",
                                     description="PostDesk agent workbench")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[store], help="start the web workbench")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None,
                       help="port to listen on (WORKBENCH_PORT, default 8080)")

    users = commands.add_parser("users", help="manage workbench accounts")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[store],
                             help="create an account (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--display-name", default=None, help="name shown on pages")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    passwd = actions.add_parser("passwd", parents=[store], help="set an account's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    actions.add_parser("list", parents=[store], help="list the accounts")
    off = actions.add_parser("deactivate", parents=[store], help="stop an account from logging in")
    off.add_argument("username")
    unlock = actions.add_parser("unlock", parents=[store],
                                help="clear a username's failed logins and lockout")
    unlock.add_argument("name", help="the username (with --address: the client address)")
    unlock.add_argument("--address", action="store_true",
                        help="NAME is a client address whose failed logins are cleared")
    actions.add_parser("seed-demo", parents=[store],
                       help="create the demo accounts that are missing ("
                            + ", ".join(d.username for d in DEMO_ACCOUNTS) + ")")
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码: ")
    if getpass.getpass("再次输入密码: ") != first:
        raise AccountError("两次输入的密码不一致")
    return first


def _users(args: argparse.Namespace, uows: UowFactory) -> int:
    if args.action == "add":
        account = create_account(uows, args.username, _read_password(args.password_stdin),
                                 args.role, args.display_name)
        print(f"已创建 {account.username}（{account.role_label}）")
    elif args.action == "passwd":
        set_password(uows, args.username, _read_password(args.password_stdin))
        print(f"已修改 {args.username} 的密码")
    elif args.action == "deactivate":
        account = deactivate(uows, args.username)
        print(f"已停用 {account.username}")
    elif args.action == "unlock":
        kind = ThrottleKind.ADDRESS if args.address else ThrottleKind.ACCOUNT
        name = normalise_username(args.name) if kind is ThrottleKind.ACCOUNT else args.name
        if unlock_login(uows, kind, name):
            print(f"已解锁{kind.label} {name}")
        else:
            print(f"{kind.label} {name} 没有未过期的登录失败记录")
    elif args.action == "seed-demo":
        created = seed_demo_accounts(uows)
        print(f"demo accounts: {created} added, {len(DEMO_ACCOUNTS) - created} already there")
    else:  # list
        print(f"{'username':<20} {'role':<11} {'active':<6} {'last login':<16} display name")
        for a in list_accounts(uows):
            last = f"{a.last_login_at:%Y-%m-%d %H:%M}" if a.last_login_at else "-"
            print(f"{a.username:<20} {a.role.value:<11} {'yes' if a.active else 'no':<6} "
                  f"{last:<16} {a.display_name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status (1 when an account request fails)."""
    args = build_parser().parse_args(argv)
    settings = load_settings()
    database_url = args.database_url or settings.database_url
    if args.command == "serve":
        from dataclasses import replace

        from aiohttp import web

        from bot.workbench.app import create_app

        # Operator lines (failed logins, lockouts, unlocks) go to standard error with a time.
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
        app = create_app(replace(settings, database_url=database_url))
        port = args.port or settings.workbench_port
        print(f"workbench on http://{args.host}:{port}/")
        web.run_app(app, host=args.host, port=port, print=None)
        return 0

    from bot.store.db import create_schema, make_engine, make_session_factory
    from bot.store.uow import uow_factory

    engine = make_engine(database_url)
    try:
        create_schema(engine)
        return _users(args, uow_factory(make_session_factory(engine)))
    except AccountError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
