"""Who arrives when, and what they ask: the open-loop schedule, deterministic for a seed."""
from __future__ import annotations

import random
from dataclasses import dataclass

# Questions about the demo mail (bot/store/seed.py) and the usual small talk: none of them asks
# for a person, so the bot keeps answering every customer to the end of the run.
QUESTIONS = (
    "EA000000005CN到哪了",
    "帮我查一下EA000000014CN",
    "RR123456785CN怎么被退回了",
    "9812345678901什么时候能到腾冲",
    "查一下1151238971060",
    "寄到腾冲多少钱",
    "景洪的邮局几点关门",
    "寄充电宝可以吗",
    "怎么取件",
    "你好",
    "谢谢",
)


@dataclass(frozen=True)
class Customer:
    """One simulated customer: when they arrive (seconds into the run) and their messages."""

    index: int
    arrives_at: float
    messages: tuple[str, ...]


def arrival_times(rate: float, duration: float, seed: int, poisson: bool = True) -> list[float]:
    """Arrival offsets in [0, duration): exponential gaps of mean 1/rate, or exactly 1/rate."""
    if rate <= 0 or duration <= 0:
        return []
    if not poisson:
        count = int(duration * rate - 1e-9) + 1
        return [i / rate for i in range(count) if i / rate < duration]
    rng = random.Random(seed)
    times: list[float] = []
    t = rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def plan_customers(rate: float, duration: float, messages_each: int, seed: int,
                   poisson: bool = True) -> list[Customer]:
    """The customers of a run: arrival times and `messages_each` questions drawn per customer.

    The same arguments give the same plan, so two runs (or two servers) see the same load.
    """
    rng = random.Random(f"questions-{seed}")
    return [Customer(i, t, tuple(rng.choice(QUESTIONS) for _ in range(messages_each)))
            for i, t in enumerate(arrival_times(rate, duration, seed, poisson))]
