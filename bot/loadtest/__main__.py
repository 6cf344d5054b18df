"""Load test: ``python -m bot.loadtest [--target rest|wechat|both] [--rate R] [--duration S]``.

Customers arrive open loop, ``--rate`` a second (Poisson, or ``--arrivals fixed``) for
``--duration`` seconds, whatever the servers' speed; each sends ``--messages-per-customer``
questions about the demo mail, one after the other (the next once the previous is answered),
over REST and/or as WeChat's servers would (signed XML; encrypted when an EncodingAESKey is
set). Printed per channel: customers, turns sent and answered, turns/s achieved against
offered, latency p50/p95/p99/max of answered turns, errors by kind, and from Rasa's trackers
the messages lost, duplicated and out of order (each carries its sequence number: REST as
metadata, WeChat as its MsgId). ``--json`` prints the same for machines. Exit status 1 when a
message was lost, duplicated or reordered.

``--start-cluster N`` starts ``make cluster``'s cluster of its own instead (bot.cluster: N Rasa
replicas behind HAProxy on a private PostgreSQL and Redis, same WeChat set-up) and loads
HAProxy's front; ``--url`` can also name a running cluster's front (``make cluster``).

``--start-stack`` starts a seeded stack of its own on free ports with the trained model
(address limit off, since every customer comes from this one address; WeChat in plain mode
with a fake customer-service API, so late replies are timed too). Otherwise it loads the
stack at ``--url`` (e.g. ``make run``), with the tokens and WeChat settings of this
environment (RASA_TOKEN or var/rasa_token for the trackers); start that stack with
``ADDRESS_RATE_PER_MINUTE=0`` or the REST channel answers most customers 429.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Optional, Sequence, Union

import aiohttp

from bot.channels.wechat_errors import ProtocolError
from bot.config import PROJECT_ROOT, Settings, load_settings
from bot.launcher import Stack, free_port
from bot.loadtest.clients import FakeWeChatApi, RestChannel, WeChatChannel, tracker_events
from bot.loadtest.plan import Customer, plan_customers
from bot.loadtest.report import (
    Ordering,
    TargetReport,
    Turn,
    check_order,
    format_report,
    markers_in_events,
    summarise,
)

Channel = Union[RestChannel, WeChatChannel]
MODEL = PROJECT_ROOT / "models" / "postdesk.tar.gz"


@dataclass
class Target:
    """Where to send the load and with which credentials."""

    base_url: str
    rasa_token: str = ""
    rest_token: str = ""
    wechat_token: str = ""
    wechat_app_id: str = ""
    wechat_aes_key: str = ""
    api: Optional[FakeWeChatApi] = None


def parse_args(argv: Optional[Sequence[str]], settings: Settings) -> argparse.Namespace:
    """The harness's options (the default URL is the local stack of ``make run``)."""
    parser = argparse.ArgumentParser(prog="python -m bot.loadtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("rest", "wechat", "both"), default="both")
    parser.add_argument("--rate", type=float, default=2.0, help="customers arriving a second")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds during which customers arrive")
    parser.add_argument("-k", "--messages-per-customer", type=int, default=3)
    parser.add_argument("--arrivals", choices=("poisson", "fixed"), default="poisson")
    parser.add_argument("--seed", type=int, default=1, help="the same seed, the same load")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default=f"http://127.0.0.1:{settings.rasa_port}",
                       help="the Rasa server of a running stack (default: %(default)s)")
    where.add_argument("--start-stack", action="store_true",
                       help="start a seeded stack of its own on free ports, stopped afterwards")
    where.add_argument("--start-cluster", type=int, default=0, metavar="N",
                       help="start a cluster of its own (bot.cluster: N Rasa replicas behind "
                            "HAProxy on a private PostgreSQL and Redis), stopped afterwards")
    parser.add_argument("--model", type=Path, default=MODEL, help="with --start-stack")
    parser.add_argument("--rasa-token", default="",
                        help="to read the trackers (default: RASA_TOKEN, or var/rasa_token)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser.parse_args(argv)


def _kept(path: Path) -> str:
    """A token the launcher keeps in var/, or "" (never created here)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def running_target(args: argparse.Namespace, settings: Settings) -> Target:
    """The stack at ``--url`` with this environment's tokens and WeChat settings."""
    var = PROJECT_ROOT / "var"
    return Target(args.url.rstrip("/"),
                  rasa_token=args.rasa_token or settings.rasa_token or _kept(var / "rasa_token"),
                  rest_token=settings.rest_token or _kept(var / "rest_token"),
                  wechat_token=settings.wechat_token, wechat_app_id=settings.wechat_app_id,
                  wechat_aes_key=settings.wechat_encoding_aes_key)


@contextlib.asynccontextmanager
async def own_cluster(model: Path, settings: Settings, replicas: int) -> AsyncIterator[Target]:
    """A cluster of `replicas` Rasa servers behind HAProxy in a temporary directory (private
    PostgreSQL and Redis), WeChat in plain mode on a fake API; the load goes to HAProxy."""
    from bot.cluster.cluster import Cluster, ClusterOptions

    api = FakeWeChatApi()
    await api.start(free_port())
    target = Target("", rasa_token=secrets.token_urlsafe(24), rest_token=secrets.token_urlsafe(24),
                    wechat_token=secrets.token_hex(16), wechat_app_id=settings.wechat_app_id,
                    api=api)
    tokens = load_settings({"RASA_TOKEN": target.rasa_token, "REST_TOKEN": target.rest_token,
                            "ACTION_TOKEN": secrets.token_urlsafe(24)})
    env = {"ADDRESS_RATE_PER_MINUTE": "0", "WECHAT_TOKEN": target.wechat_token,
           "WECHAT_APP_ID": target.wechat_app_id, "WECHAT_ENCODING_AES_KEY": "",
           "WECHAT_APP_SECRET": secrets.token_hex(16), "WECHAT_API_BASE_URL": api.base_url}
    with tempfile.TemporaryDirectory(prefix="postdesk-loadtest-") as tmp, \
            tempfile.TemporaryDirectory(prefix="postdesk-loadtest-pg-") as pg_dir:
        options = ClusterOptions(model=model, replicas=replicas, front_port=free_port(),
                                 workdir=Path(tmp), pg_dir=Path(pg_dir), env=env)
        with open(Path(tmp) / "cluster.log", "w") as log:
            cluster = Cluster(options, tokens, log=log)
            try:
                await asyncio.to_thread(cluster.start)
                target.base_url = cluster.front_url
                yield target
            finally:
                await asyncio.to_thread(cluster.close)
                await api.close()


@contextlib.asynccontextmanager
async def own_stack(model: Path, settings: Settings) -> AsyncIterator[Target]:
    """A seeded stack in a temporary directory, WeChat in plain mode on a fake API."""
    api = FakeWeChatApi()
    await api.start(free_port())
    with tempfile.TemporaryDirectory(prefix="postdesk-loadtest-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'loadtest.db'}"
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "bot.workorders", "seed", "--database-url",
                             db_url], cwd=PROJECT_ROOT, check=True, capture_output=True)
        target = Target("", rasa_token=secrets.token_urlsafe(24),
                        wechat_token=secrets.token_hex(16), wechat_app_id=settings.wechat_app_id,
                        api=api)
        with open(workdir / "servers.log", "w") as log:
            stack = Stack(model, target.rasa_token, db_url, free_port(), free_port(), log=log,
                          workdir=workdir)
            # Every customer comes from this one address: the per-address limit is for real
            # clients. The per-customer limit stays as configured.
            stack.env.update(ADDRESS_RATE_PER_MINUTE="0", WECHAT_TOKEN=target.wechat_token,
                             WECHAT_APP_ID=target.wechat_app_id, WECHAT_ENCODING_AES_KEY="",
                             WECHAT_APP_SECRET=secrets.token_hex(16),
                             WECHAT_API_BASE_URL=api.base_url)
            try:
                await asyncio.to_thread(stack.start_actions)
                await asyncio.to_thread(stack.start_server)
                target.base_url = f"http://{stack.rasa_host}:{stack.rasa_port}"
                target.rest_token = stack.rest_token
                yield target
            finally:
                await asyncio.to_thread(stack.close)
                await api.close()


async def drive(channel: Channel, customers: Sequence[Customer], timeout: float,
                start: float) -> tuple[list[Turn], float]:
    """Let every customer arrive on time and talk; return their turns and the seconds taken."""
    loop = asyncio.get_running_loop()
    turns: list[Turn] = []

    async def customer(c: Customer) -> None:
        await asyncio.sleep(max(0.0, start + c.arrives_at - loop.time()))
        for seq, text in enumerate(c.messages):
            t0 = time.perf_counter()
            try:
                outcome, refused = await asyncio.wait_for(channel.send(c.index, seq, text),
                                                          timeout)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                outcome = ("timeout" if isinstance(exc, asyncio.TimeoutError)
                           else f"connection ({type(exc).__name__})")
                refused = isinstance(exc, aiohttp.ClientConnectorError)
            except (ValueError, ProtocolError) as exc:  # not JSON; a reply that does not decrypt
                outcome, refused = f"bad reply ({type(exc).__name__})", False
            turns.append(Turn(c.index, seq, outcome, time.perf_counter() - t0, refused))

    await asyncio.gather(*(customer(c) for c in customers))
    return turns, loop.time() - start


async def check_trackers(http: aiohttp.ClientSession, channel: Channel, target: Target,
                         run: str, turns: Sequence[Turn], customers: Sequence[Customer]
                         ) -> Ordering:
    """Read each customer's tracker and compare its user messages with what was sent."""
    gate = asyncio.Semaphore(8)

    async def one(c: Customer) -> Ordering:
        sent = [t.seq for t in sorted(turns, key=lambda t: t.seq)
                if t.customer == c.index and not t.refused]
        async with gate:
            events = await tracker_events(http, target.base_url, channel.conversation(c.index),
                                          target.rasa_token)
        return check_order(sent, markers_in_events(events, run))

    total = Ordering()
    for ordering in await asyncio.gather(*(one(c) for c in customers)):
        total = total + ordering
    return total


async def load(args: argparse.Namespace, target: Target) -> list[TargetReport]:
    """Run the load on the chosen channels at once; their reports."""
    run = secrets.token_hex(3)  # new conversations each run, so runs never mix in the trackers
    customers = plan_customers(args.rate, args.duration, args.messages_per_customer, args.seed,
                               poisson=args.arrivals == "poisson")
    names = ("rest", "wechat") if args.target == "both" else (args.target,)
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=connector) as http:
        channels: list[Channel] = []
        for name in names:
            if name == "rest":
                channels.append(RestChannel(http, target.base_url, run, target.rest_token))
            else:
                channels.append(WeChatChannel(http, target.base_url, run, target.wechat_token,
                                              target.wechat_app_id, target.wechat_aes_key,
                                              target.api, timeout=args.timeout))
        start = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(drive(ch, customers, args.timeout, start)
                                         for ch in channels))
        offered = args.rate * args.messages_per_customer
        reports = []
        for channel, (turns, elapsed) in zip(channels, results):
            # The run lasts the arrival window, or until the last answer if that comes later.
            report = summarise(channel.name, len(customers), turns,
                               max(elapsed, args.duration), offered)
            if not target.rasa_token:
                report.ordering_note = "no Rasa API token: set RASA_TOKEN or --rasa-token"
            else:
                try:
                    report.ordering = await check_trackers(http, channel, target, run, turns,
                                                           customers)
                except (aiohttp.ClientError, RuntimeError, asyncio.TimeoutError) as exc:
                    report.ordering_note = f"trackers not read: {exc}"
            reports.append(report)
    return reports


def warnings_for(args: argparse.Namespace, settings: Settings) -> list[str]:
    """What may spoil the figures before the run starts (rate limits, mostly)."""
    out = []
    per_minute = args.rate * args.messages_per_customer * 60
    own = args.start_stack or args.start_cluster
    if (not own and args.target != "wechat" and settings.address_rate_per_minute > 0
            and per_minute > settings.address_rate_per_minute):
        out.append(f"about {per_minute:.0f} REST messages a minute from one address, over "
                   f"ADDRESS_RATE_PER_MINUTE={settings.address_rate_per_minute}: start the "
                   "stack with ADDRESS_RATE_PER_MINUTE=0, or use --start-stack")
    if 0 < settings.sender_rate_per_minute < args.messages_per_customer:
        out.append(f"{args.messages_per_customer} messages a customer, over "
                   f"SENDER_RATE_PER_MINUTE={settings.sender_rate_per_minute}")
    return out


async def amain(args: argparse.Namespace, settings: Settings) -> list[TargetReport]:
    """Load the running stack, or one of our own started for the run."""
    if args.start_cluster:
        async with own_cluster(args.model, settings, args.start_cluster) as target:
            return await load(args, target)
    if not args.start_stack:
        return await load(args, running_target(args, settings))
    async with own_stack(args.model, settings) as target:
        return await load(args, target)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the load and print the figures; 1 when a message was lost, doubled or reordered."""
    settings = load_settings()
    args = parse_args(argv, settings)
    if (args.start_stack or args.start_cluster) and not args.model.exists():
        print(f"no model at {args.model}: run 'make train'", file=sys.stderr)
        return 2
    for warning in warnings_for(args, settings):
        print(f"warning: {warning}", file=sys.stderr)
    try:
        reports = asyncio.run(amain(args, settings))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"load test not run: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"rate": args.rate, "duration_s": args.duration,
                          "messages_per_customer": args.messages_per_customer,
                          "arrivals": args.arrivals, "seed": args.seed,
                          "targets": [r.as_json() for r in reports]}, ensure_ascii=False,
                         indent=2))
    else:
        where = ("own stack" if args.start_stack
                 else f"own cluster of {args.start_cluster} replicas" if args.start_cluster
                 else args.url)
        print(f"PostDesk load test against {where}: {args.rate:g} customers/s ({args.arrivals}, "
              f"seed {args.seed}) for {args.duration:g} s, {args.messages_per_customer} "
              "messages each")
        for report in reports:
            print(format_report(report))
    bad = any(r.ordering is not None and (r.ordering.lost or r.ordering.duplicated
                                          or r.ordering.out_of_order) for r in reports)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
