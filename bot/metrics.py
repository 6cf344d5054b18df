"""Prometheus metrics of PostDesk's processes, and who may read them (README "Metrics").

Each process serves its own metrics at ``/metrics``:

* the Rasa server (`bot.channels.metrics`): ``postdesk_turns_total`` and
  ``postdesk_turn_seconds`` per channel, ``postdesk_wechat_api_errors_total`` per kind;
* the action server (`bot.actions_server`): ``postdesk_fallback_turns_total`` per channel and
  outcome (a turn the NLU could not read: ``clarify`` asked, ``hand_over`` to a person);
* the workbench (`bot.workbench.metrics_views`): ``postdesk_handover_queue_length`` and
  ``postdesk_work_orders_overdue``, read from the store at scrape time, and the WeChat API
  errors of agents' replies.

Labels are bounded enums (channel, kind, outcome), never an openid, a phone or a text.
Volumes are business information: a scrape is served to a caller on this machine (a loopback
peer whose request no proxy relayed), or to one sending ``Authorization: Bearer
<METRICS_TOKEN>``; anyone else gets 401 (a token is configured) or 403 (none is).
"""
from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from contextlib import contextmanager
from typing import Collection, Iterator, Mapping, Optional

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A turn takes from about 10 ms (a rule, no custom action) to seconds (actions on the store).
TURN_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# What went wrong with a call to WeChat's API (bot/channels/wechat_api.py).
WECHAT_API_ERROR_KINDS = (
    "busy",           # errcode -1 or HTTP 5xx: retried
    "timeout",        # no answer in time: retried
    "connection",     # the connection failed: retried
    "http",           # another HTTP status
    "bad_answer",     # cut off, not JSON, or not an object: retried
    "token_invalid",  # 40001/42001/40014: the token is renewed
    "window_closed",  # 45015/45047: the customer has to be reached another way
    "refused",        # any other errcode (wrong secret, IP not whitelisted, ...)
)
FALLBACK_OUTCOMES = ("clarify", "hand_over")
WECHAT_API_ERRORS = "postdesk_wechat_api_errors_total"
# A request carrying one of these came through a proxy, whatever the peer's address.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class Metrics:
    """The counters and histograms PostDesk records, registered in one registry.

    Args:
        registry: where they are registered: prometheus_client's ``REGISTRY`` for a real
            process (`process_metrics`), a fresh ``CollectorRegistry`` in a test.
        only: the names of the metrics to register (default: all); the others are recorded
            in no registry (the workbench serves only ``WECHAT_API_ERRORS`` of these).
    """

    def __init__(self, registry: CollectorRegistry,
                 only: Optional[Collection[str]] = None) -> None:
        self.registry = registry

        def where(name: str) -> Optional[CollectorRegistry]:
            return registry if only is None or name in only else None

        self.turns = Counter(
            "postdesk_turns_total", "Customer messages handed to Rasa, by channel.",
            ["channel"], registry=where("postdesk_turns_total"))
        self.turn_seconds = Histogram(
            "postdesk_turn_seconds", "Time Rasa took to answer a customer message, by channel.",
            ["channel"], buckets=TURN_BUCKETS_S, registry=where("postdesk_turn_seconds"))
        self.fallback_turns = Counter(
            "postdesk_fallback_turns_total",
            "Turns the NLU could not read (nlu_fallback), by channel and how they were answered.",
            ["channel", "outcome"], registry=where("postdesk_fallback_turns_total"))
        self.wechat_api_errors = Counter(
            WECHAT_API_ERRORS, "Failed calls to WeChat's API (each attempt), by kind.",
            ["kind"], registry=where(WECHAT_API_ERRORS))
        for kind in WECHAT_API_ERROR_KINDS:  # every series exists from the start, at 0
            self.wechat_api_errors.labels(kind=kind)

    @contextmanager
    def turn(self, channel: str) -> Iterator[None]:
        """Count a turn on `channel` and time the block (also when it raises)."""
        self.turns.labels(channel=channel).inc()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.turn_seconds.labels(channel=channel).observe(time.perf_counter() - started)

    def fallback_turn(self, channel: str, outcome: str) -> None:
        """Count an nlu_fallback turn answered by `outcome` (one of `FALLBACK_OUTCOMES`)."""
        if outcome not in FALLBACK_OUTCOMES:
            raise ValueError(f"unknown fallback outcome {outcome!r}")
        self.fallback_turns.labels(channel=channel, outcome=outcome).inc()

    def wechat_api_error(self, kind: str) -> None:
        """Count a failed WeChat API call of `kind` (one of `WECHAT_API_ERROR_KINDS`)."""
        if kind not in WECHAT_API_ERROR_KINDS:
            raise ValueError(f"unknown WeChat API error kind {kind!r}")
        self.wechat_api_errors.labels(kind=kind).inc()


_lock = threading.Lock()
_process_metrics: Optional[Metrics] = None


def process_metrics() -> Metrics:
    """This process's metrics, in prometheus_client's ``REGISTRY`` (created on first use)."""
    global _process_metrics
    with _lock:
        if _process_metrics is None:
            _process_metrics = Metrics(REGISTRY)
        return _process_metrics


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format (`CONTENT_TYPE`); runs every collector."""
    return generate_latest(registry)


def may_scrape(peer: Optional[str], headers: Mapping[str, str], token: str) -> bool:
    """Whether a scrape may be served: the right bearer token, or a caller on this machine.

    Args:
        peer: the address of the connection's other end (not a forwarded one).
        headers: the request's headers (looked up case-insensitively by aiohttp and Sanic).
        token: METRICS_TOKEN; "" accepts local callers only.
    """
    if token:
        sent = headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode("utf-8"), f"Bearer {token}".encode("utf-8")):
            return True
    return _is_loopback(peer) and not any(name in headers for name in FORWARDING_HEADERS)


def refusal(token: str) -> tuple[int, str, dict[str, str]]:
    """Status, text and headers for a refused scrape: 401 when a token would do, else 403."""
    if token:
        return (401, "metrics need Authorization: Bearer <METRICS_TOKEN>",
                {"WWW-Authenticate": "Bearer"})
    return 403, "metrics are served to this machine only (or set METRICS_TOKEN)", {}


def _is_loopback(peer: Optional[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:  # a Unix socket, or no address at all
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return (mapped or address).is_loopback
