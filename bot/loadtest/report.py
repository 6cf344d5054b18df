"""The figures of a run: latency percentiles, throughput, errors, and the ordering check."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Sequence

ANSWERED = "answered"


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) with linear interpolation between ranks; NaN when empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Turn:
    """One message sent: its customer, its place in their sequence, what came back, how fast."""

    customer: int
    seq: int
    outcome: str  # ANSWERED, or the kind of error ("timeout", "http 429", …)
    latency_s: float
    refused: bool = False  # the server turned it away: it cannot be in the tracker


@dataclass(frozen=True)
class Ordering:
    """A conversation's user messages in the tracker against those the customer sent."""

    lost: int = 0          # sent (and not refused) but not in the tracker
    duplicated: int = 0    # in the tracker more than once (each extra copy counts)
    out_of_order: int = 0  # in the tracker before a message the customer sent earlier
    unexpected: int = 0    # in the tracker but never sent by this run

    def __add__(self, other: "Ordering") -> "Ordering":
        return Ordering(self.lost + other.lost, self.duplicated + other.duplicated,
                        self.out_of_order + other.out_of_order,
                        self.unexpected + other.unexpected)


def check_order(sent: Sequence[int], seen: Sequence[int]) -> Ordering:
    """Compare the sequence numbers a customer sent with those found in their tracker.

    Out of order counts each message found after one that was sent later (first copies only),
    so one swapped pair counts 1.
    """
    expected = set(sent)
    counts = Counter(seen)
    first: list[int] = []
    for marker in seen:
        if marker in expected and marker not in first:
            first.append(marker)
    position = {marker: i for i, marker in enumerate(sent)}
    out_of_order, latest = 0, -1
    for marker in first:
        if position[marker] < latest:
            out_of_order += 1
        else:
            latest = position[marker]
    return Ordering(
        lost=len(expected - set(seen)),
        duplicated=sum(n - 1 for m, n in counts.items() if m in expected and n > 1),
        out_of_order=out_of_order,
        unexpected=sum(n for m, n in counts.items() if m not in expected),
    )


def markers_in_events(events: Sequence[Mapping[str, Any]], run: str) -> list[int]:
    """The sequence numbers of this run's user messages in a tracker's events, in order.

    REST messages carry ``{"loadtest": {"run": …, "seq": …}}`` as metadata; WeChat ones carry
    their MsgId (``lt<run>c<customer>s<seq>``), which the channel keeps as ``wechat.msg_id``.
    A user event without a marker of this run counts as -1 (unexpected).
    """
    found: list[int] = []
    for event in events:
        if event.get("event") != "user":
            continue
        metadata = event.get("metadata") or {}
        tag = metadata.get("loadtest") or {}
        msg_id = str((metadata.get("wechat") or {}).get("msg_id") or "")
        if tag.get("run") == run and isinstance(tag.get("seq"), int):
            found.append(tag["seq"])
        elif msg_id.startswith(f"lt{run}c") and "s" in msg_id[len(run) + 3:]:
            found.append(int(msg_id.rsplit("s", 1)[1]))
        else:
            found.append(-1)
    return found


@dataclass
class TargetReport:
    """What one channel did under the load."""

    target: str
    customers: int
    turns_sent: int
    turns_answered: int
    elapsed_s: float
    offered_turns_per_s: float
    latencies_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    ordering: Optional[Ordering] = None  # None: the trackers could not be read
    ordering_note: str = ""

    @property
    def turns_per_s(self) -> float:
        """Answered turns per second of the run (the arrival window, or until the last answer
        when that is later)."""
        return self.turns_answered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON values (``--json``)."""
        out = asdict(self)
        out["turns_per_s"] = round(self.turns_per_s, 3)
        out["latencies_ms"] = {k: (None if math.isnan(v) else round(v, 1))
                               for k, v in self.latencies_ms.items()}
        return out


def summarise(target: str, customers: int, turns: Sequence[Turn], elapsed_s: float,
              offered_turns_per_s: float) -> TargetReport:
    """A channel's report from its turns (latencies of the answered ones only)."""
    answered = [t.latency_s * 1000 for t in turns if t.outcome == ANSWERED]
    latencies = {f"p{q}": percentile(answered, q) for q in (50, 95, 99)}
    latencies["max"] = max(answered) if answered else math.nan
    errors = Counter(t.outcome for t in turns if t.outcome != ANSWERED)
    return TargetReport(target, customers, len(turns), len(answered), elapsed_s,
                        offered_turns_per_s, latencies, dict(sorted(errors.items())))


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f} ms"


def format_report(report: TargetReport) -> str:
    """The report as a few aligned lines for a terminal."""
    lat = report.latencies_ms
    lines = [
        f"{report.target:<7} customers {report.customers}  turns sent {report.turns_sent}  "
        f"answered {report.turns_answered}  in {report.elapsed_s:.1f} s",
        f"        turns/s {report.turns_per_s:.2f} achieved / {report.offered_turns_per_s:.2f} "
        "offered",
        f"        latency p50 {_ms(lat['p50'])}  p95 {_ms(lat['p95'])}  p99 {_ms(lat['p99'])}  "
        f"max {_ms(lat['max'])}",
        "        errors: " + (", ".join(f"{kind} {n}" for kind, n in report.errors.items())
                              or "none"),
    ]
    if report.ordering is None:
        lines.append(f"        order: not checked ({report.ordering_note})")
    else:
        o = report.ordering
        lines.append(f"        order: lost {o.lost}  duplicated {o.duplicated}  out of order "
                     f"{o.out_of_order}  unexpected {o.unexpected}"
                     + (f"  ({report.ordering_note})" if report.ordering_note else ""))
    return "\n".join(lines)
