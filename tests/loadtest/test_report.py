"""The load harness's arithmetic: the open-loop plan, percentiles and the ordering check."""
from __future__ import annotations

import math
from typing import Any

import pytest

from bot.loadtest.plan import QUESTIONS, arrival_times, plan_customers
from bot.loadtest.report import (
    ANSWERED,
    Ordering,
    Turn,
    check_order,
    format_report,
    markers_in_events,
    percentile,
    summarise,
)


def test_percentiles_interpolate_between_ranks() -> None:
    samples = [float(x) for x in range(1, 101)]  # 1 … 100, shuffled order must not matter
    samples.reverse()
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 95) == pytest.approx(95.05)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile(samples, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_the_plan_is_the_same_for_a_seed_and_differs_for_another() -> None:
    one = plan_customers(5, 10, 3, seed=7)
    assert one == plan_customers(5, 10, 3, seed=7)
    assert one != plan_customers(5, 10, 3, seed=8)
    assert all(0 <= c.arrives_at < 10 for c in one)
    assert [c.arrives_at for c in one] == sorted(c.arrives_at for c in one)
    assert all(len(c.messages) == 3 and set(c.messages) <= set(QUESTIONS) for c in one)
    assert 25 <= len(one) <= 80  # Poisson with a mean of 50 customers


def test_fixed_arrivals_are_evenly_spaced() -> None:
    assert arrival_times(2, 2, seed=1, poisson=False) == [0.0, 0.5, 1.0, 1.5]
    assert arrival_times(2, 1, seed=1, poisson=False) == [0.0, 0.5]
    assert arrival_times(0, 5, seed=1) == []


def test_a_conversation_in_order_is_clean() -> None:
    assert check_order([0, 1, 2, 3], [0, 1, 2, 3]) == Ordering()


def test_a_missing_message_is_lost() -> None:
    assert check_order([0, 1, 2, 3], [0, 1, 3]) == Ordering(lost=1)


def test_a_message_seen_twice_is_duplicated() -> None:
    assert check_order([0, 1, 2], [0, 1, 1, 2]) == Ordering(duplicated=1)


def test_a_swapped_pair_counts_once_out_of_order() -> None:
    assert check_order([0, 1, 2, 3], [0, 2, 1, 3]) == Ordering(out_of_order=1)
    assert check_order([0, 1, 2, 3], [3, 0, 1, 2]) == Ordering(out_of_order=3)


def test_messages_of_other_runs_are_unexpected() -> None:
    assert check_order([0, 1], [0, -1, 1, 5]) == Ordering(unexpected=2)


def test_markers_are_read_from_rest_metadata_and_wechat_msg_ids() -> None:
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": "你好", "metadata": {"loadtest": {"run": "ab12", "seq": 0}}},
        {"event": "bot", "text": "您好"},
        {"event": "user", "text": "谢谢",
         "metadata": {"wechat": {"msg_id": "ltab12c3s1", "msg_type": "text"}}},
        {"event": "user", "text": "别的", "metadata": {"loadtest": {"run": "zz99", "seq": 2}}},
        {"event": "user", "text": "手打的"},
    ]
    assert markers_in_events(events, "ab12") == [0, 1, -1, -1]


def test_the_report_has_every_figure() -> None:
    turns = [Turn(0, 0, ANSWERED, 0.2), Turn(0, 1, ANSWERED, 0.4),
             Turn(1, 0, "timeout", 30.0), Turn(1, 1, "http 429", 0.01, refused=True)]
    report = summarise("rest", 2, turns, elapsed_s=4.0, offered_turns_per_s=1.0)
    report.ordering = Ordering(lost=1)
    assert (report.turns_sent, report.turns_answered, report.turns_per_s) == (4, 2, 0.5)
    assert report.latencies_ms["p50"] == pytest.approx(300)
    assert report.latencies_ms["max"] == pytest.approx(400)
    assert report.errors == {"http 429": 1, "timeout": 1}
    text = format_report(report)
    for figure in ("customers 2", "turns sent 4", "answered 2", "0.50 achieved / 1.00 offered",
                   "p50 300 ms", "p95", "p99", "max 400 ms", "http 429 1", "timeout 1",
                   "lost 1", "duplicated 0", "out of order 0"):
        assert figure in text
    assert report.as_json()["turns_per_s"] == 0.5
