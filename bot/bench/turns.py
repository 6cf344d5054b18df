"""Benchmarks: NLU latency, full turns through the REST and WeChat channels, training time,
peak memory.

``python -m bot.bench --model models/postdesk.tar.gz`` (what ``make bench`` calls). Everything
runs on loopback against servers this command starts itself; figures are printed, not asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional, Sequence

from bot.channels.wechat_sim import WeChatSimulator
from bot.config import PROJECT_ROOT, load_settings
from bot.launcher import RASA_TOKEN_HEADER, Stack, free_port, post_json

MESSAGES = [
    "EA000000005CN到哪了", "你好", "我的快递三天没动了", "寄充电宝可以吗", "转人工",
    "显示签收了但我没收到", "寄到腾冲多少钱", "今天天气怎么样", "快递员态度太差了",
    "景洪的邮局几点关门", "谢谢", "我的包裹破了", "怎么取件", "1151238971060",
]


def percentiles(samples_ms: Sequence[float]) -> str:
    """'p50 … p95 … p99 …' of a list of milliseconds."""
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms  (n={len(samples_ms)})"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Call ``fn`` n times; return each call's wall time in ms."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_in_process(model: Path, n: int) -> list[float]:
    """NLU parse latency with the model loaded in this process."""
    from rasa.core.agent import Agent

    from bot.nlu.evaluate import quiet_parse_logs

    quiet_parse_logs()

    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    for m in MESSAGES:  # warm-up
        loop.run_until_complete(agent.parse_message(m))
    i = iter(range(n))
    return timed(lambda: loop.run_until_complete(
        agent.parse_message(MESSAGES[next(i) % len(MESSAGES)])), n)


def closed_loop_rate(call: Callable[[int], object], concurrency: int, seconds: float) -> float:
    """Calls per second of `concurrency` senders each calling again as soon as answered."""
    counter = itertools.count()
    stop = time.perf_counter() + seconds

    def sender(_: int) -> int:
        done = 0
        while time.perf_counter() < stop:
            call(next(counter))
            done += 1
        return done

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(sender, range(concurrency)))
    return total / (time.perf_counter() - t0)


def turn_cost(parse: Callable[[int], object], turn: Callable[[int], object], concurrency: int,
              rounds: int = 3, seconds: float = 5.0) -> tuple[float, float]:
    """Parses/s and turns/s at `concurrency`, measured in alternating windows.

    The windows alternate (parse, turn, parse, turn ...) so that whatever else the machine
    does weighs on both figures alike; each figure is the median of its windows.
    """
    parses, turns = [], []
    for _ in range(rounds):
        parses.append(closed_loop_rate(parse, concurrency, seconds))
        turns.append(closed_loop_rate(turn, concurrency, seconds))
    return statistics.median(parses), statistics.median(turns)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a running process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_training(out: Path) -> float:
    """Seconds to train the whole model (NLU and dialogue) from scratch, no cache."""
    t = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("rasa")), "train", "--out", str(out),
         "--fixed-model-name", "bench", "--quiet"],
        cwd=PROJECT_ROOT, check=True, capture_output=True,
        env={**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache")},
    )
    return time.perf_counter() - t


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmarks and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=__doc__)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models/postdesk.tar.gz")
    parser.add_argument("-n", type=int, default=300, help="requests per latency figure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no model at {args.model}: run 'make train'", file=sys.stderr)
        return 1

    print(f"NLU parse, in process:        {percentiles(bench_in_process(args.model, args.n))}",
          flush=True)

    with tempfile.TemporaryDirectory(prefix="postdesk-bench-") as tmp:
        tmpdir = Path(tmp)
        db_url = f"sqlite:///{tmpdir / 'bench.db'}"
        subprocess.run([sys.executable, "-m", "bot.workorders", "seed", "--database-url", db_url],
                       cwd=PROJECT_ROOT, check=True, capture_output=True)
        token = "bench-token"
        log = open(tmpdir / "servers.log", "w")
        stack = Stack(args.model, token, db_url, free_port(), free_port(), log=log,
                      workdir=tmpdir)
        # All the benchmark's customers come from one address: the per-address limit (120 a
        # minute by default) would answer most of them 429. Each customer sends one message.
        stack.env["ADDRESS_RATE_PER_MINUTE"] = "0"
        try:
            stack.start_actions()
            stack.start_server()
            parse_url = f"http://127.0.0.1:{stack.rasa_port}/model/parse"
            auth = {RASA_TOKEN_HEADER: token}
            i = iter(range(10 ** 9))
            for m in MESSAGES:
                post_json(parse_url, {"text": m}, headers=auth)
            http = timed(lambda: post_json(
                parse_url, {"text": MESSAGES[next(i) % len(MESSAGES)]}, headers=auth), args.n)
            print(f"NLU parse, over HTTP:         {percentiles(http)}", flush=True)

            turn = timed(lambda: stack.say(f"bench-{next(i)}", "EA000000005CN到哪了"), args.n)
            print(f"Full turn with action call:   {percentiles(turn)}", flush=True)

            # Issue 15's yardstick: customers each asking once about a seeded mail, against
            # the same question parsed alone, at the same concurrency, in the same run.
            question = "EA000000005CN到哪了"
            parses, turns = turn_cost(
                lambda k: post_json(parse_url, {"text": question}, headers=auth),
                lambda k: stack.say(f"bench-cost-{next(i)}", question), args.concurrency)
            print(f"Turn cost:                    {parses:.1f} parses/s, {turns:.1f} turns/s "
                  f"at {args.concurrency} concurrent: turns = {turns / parses:.2f} x parses",
                  flush=True)

            def one_turn(k: int) -> float:
                t = time.perf_counter()
                stack.say(f"bench-c{k}", MESSAGES[k % len(MESSAGES)])
                return time.perf_counter() - t

            total = args.n * 2
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one_turn, range(total)))
            elapsed = time.perf_counter() - t0
            print(f"Throughput, REST turns:       {total / elapsed:.1f} turns/s "
                  f"({total} mixed turns, {args.concurrency} concurrent senders)", flush=True)
            settings = load_settings()
            sim = WeChatSimulator(f"http://127.0.0.1:{stack.rasa_port}/webhooks/wechat/webhook",
                                  settings.wechat_token, settings.wechat_app_id)
            passive = timed(lambda: sim.say(f"o_bench_{next(i)}", "EA000000005CN到哪了"), args.n)
            print(f"WeChat passive reply:         {percentiles(passive)}", flush=True)

            def one_wechat(k: int) -> None:
                sim.say(f"o_bench_c{k}", MESSAGES[k % len(MESSAGES)])

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(one_wechat, range(total)))
            elapsed = time.perf_counter() - t0
            print(f"Throughput, WeChat webhook:   {total / elapsed:.1f} messages/s "
                  f"({total} mixed messages, signed, {args.concurrency} concurrent senders)",
                  flush=True)
            assert stack.server is not None and stack.actions is not None
            print(f"Peak memory:                  Rasa server {peak_rss_mb(stack.server.pid):.0f} "
                  f"MiB, action server {peak_rss_mb(stack.actions.pid):.0f} MiB", flush=True)
        finally:
            stack.close()
            log.close()

        if not args.skip_training:
            seconds = bench_training(tmpdir / "train")
            print(f"Training (NLU + dialogue):    {seconds:.0f} s from scratch, "
                  f"2 cores", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
