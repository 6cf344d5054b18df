"""RateLimiter: a sliding one-minute window per key, on a clock the tests move by hand."""
from __future__ import annotations

import threading

from bot.channels import limits
from bot.channels.limits import RateLimiter


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_limit_is_allowed_and_the_next_refused() -> None:
    limiter = RateLimiter(3, clock=FakeClock())
    assert [limiter.allow("o_a") for _ in range(5)] == [True, True, True, False, False]


def test_keys_are_limited_separately() -> None:
    limiter = RateLimiter(1, clock=FakeClock())
    assert limiter.allow("o_a") and limiter.allow("o_b")
    assert not limiter.allow("o_a") and not limiter.allow("o_b")


def test_the_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, window_s=60, clock=clock)
    assert limiter.allow("k")
    clock.now += 30
    assert limiter.allow("k")
    assert not limiter.allow("k")
    clock.now += 29.9            # the first event is 59.9 s old: still counted
    assert not limiter.allow("k")
    clock.now += 0.1             # exactly one window old: it has left the window
    assert limiter.allow("k")
    assert not limiter.allow("k")


def test_refused_attempts_are_not_counted() -> None:
    # A customer who keeps trying is let through once the allowed events leave the window.
    clock = FakeClock()
    limiter = RateLimiter(1, window_s=60, clock=clock)
    assert limiter.allow("k")
    for _ in range(50):
        clock.now += 1
        limiter.allow("k")
    clock.now += 10              # 60 s after the one allowed event
    assert limiter.allow("k")


def test_a_limit_of_zero_or_less_is_off() -> None:
    for limit in (0, -1):
        limiter = RateLimiter(limit, clock=FakeClock())
        assert all(limiter.allow("k") for _ in range(1000))


def test_idle_keys_are_forgotten_when_the_table_is_full(monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_KEYS", 10)
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock)
    for k in range(10):
        limiter.allow(f"old{k}")
    clock.now += 61
    assert limiter.allow("new")
    assert len(limiter._events) == 1
    # Full of busy keys: the oldest inserted goes, memory stays bounded.
    for k in range(20):
        limiter.allow(f"busy{k}")
    assert len(limiter._events) <= 10


def test_concurrent_callers_never_exceed_the_limit() -> None:
    limiter = RateLimiter(100, clock=FakeClock())
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(100):
            ok = limiter.allow("k")
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 100
