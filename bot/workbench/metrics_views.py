"""The workbench's Prometheus metrics at ``/metrics`` (README "Metrics").

The agents' load, read from the store at each scrape (in a worker thread, like every view's
store call): ``postdesk_handover_queue_length``, the hand-overs waiting for an agent, and
``postdesk_work_orders_overdue``, the orders open, unanswered and past their deadline (the
rule of the order list's "overdue only"). Beside them: the WeChat API errors of agents'
replies, counted straight into this registry by the app's `bot.workbench.delivery.Deliverer`
(registered when it is made, on startup), and the Python process's own metrics.

Each app has a registry of its own (``keys.METRICS``, made by `make_registry`), so test apps
do not see each other's collectors. Access as for every PostDesk metrics route
(`bot.metrics.may_scrape`): callers on this machine, or ``Authorization: Bearer
<METRICS_TOKEN>``; a request relayed by a reverse proxy counts as from elsewhere.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable

from aiohttp import web
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics import CONTENT_TYPE, exposition, may_scrape, refusal
from bot.store.models import as_store_time
from bot.store.uow import UowFactory
from bot.workbench.auth import public
from bot.workbench.keys import CLOCK, METRICS, UOWS, in_thread, settings

logger = logging.getLogger(__name__)

QUEUE_LENGTH = "postdesk_handover_queue_length"
QUEUE_HELP = "Hand-overs waiting for an agent (not yet taken)."
OVERDUE = "postdesk_work_orders_overdue"
OVERDUE_HELP = "Work orders open, unanswered and past their deadline."


def desk_load(uows: UowFactory, now: datetime) -> tuple[int, int]:
    """(hand-overs waiting for an agent, overdue work orders) as of `now`, in one unit of work."""
    with uows() as uow:
        waiting = uow.handovers.count_waiting()
        overdue = uow.work_orders.count_overdue(as_store_time(now))
    return waiting, overdue


class DeskLoad(Collector):
    """The queue and overdue gauges, read from the app's store whenever they are collected."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The gauges' names, without reading the store (the registry asks on registration)."""
        return [GaugeMetricFamily(QUEUE_LENGTH, QUEUE_HELP),
                GaugeMetricFamily(OVERDUE, OVERDUE_HELP)]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """Both gauges as of the app's "now" (blocking: the store is read here)."""
        waiting, overdue = desk_load(self._app[UOWS], self._app[CLOCK]())
        return [GaugeMetricFamily(QUEUE_LENGTH, QUEUE_HELP, value=waiting),
                GaugeMetricFamily(OVERDUE, OVERDUE_HELP, value=overdue)]


def make_registry(app: web.Application) -> CollectorRegistry:
    """The registry `/metrics` serves for `app`: its desk load and the Python process's
    collectors (the app's deliverer adds the WeChat API errors of agents' replies)."""
    registry = CollectorRegistry()
    registry.register(DeskLoad(app))
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


@public
async def scrape(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus' text format, or 401/403 for a caller it is not for."""
    token = settings(request).metrics_token
    if not may_scrape(request.remote, request.headers, token):
        status, text, headers = refusal(token)
        logger.warning("metrics scrape from %s refused (%d)", request.remote, status)
        return web.Response(status=status, text=text, headers=headers)
    try:
        body = await in_thread(exposition, request.app[METRICS])
    except SQLAlchemyError:
        logger.exception("metrics: the store could not be read")
        return web.Response(status=503, text="the store could not be read")
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def setup_routes(app: web.Application) -> None:
    """The metrics route."""
    app.router.add_get("/metrics", scrape, name="metrics")
