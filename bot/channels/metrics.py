"""The Rasa server's Prometheus metrics at ``/metrics`` (README "Metrics").

Rasa 3.6 has no metrics endpoint and its app is built by Rasa itself, but it mounts the
blueprint of every input channel listed in ``credentials.yml``. `MetricsInput` is such a
"channel" that carries no conversation: its blueprint serves this process's registry
(`bot.metrics.process_metrics`, where the REST and WeChat channels count and time their
turns). Rasa mounts a channel at ``urljoin("/webhooks/", url_prefix())``; an absolute prefix
therefore puts the route at ``/metrics``, where Prometheus looks by default.

Access as for every PostDesk metrics route (`bot.metrics.may_scrape`): callers on this
machine, or ``Authorization: Bearer <METRICS_TOKEN>``.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.config import Settings, load_settings
from bot.metrics import CONTENT_TYPE, Metrics, exposition, may_scrape, process_metrics, refusal

logger = logging.getLogger(__name__)


class MetricsInput(InputChannel):
    """Serves the Rasa process's metrics at ``/metrics``; receives no messages."""

    @classmethod
    def name(cls) -> Text:
        """The channel name (Rasa needs one; no conversation ever carries it)."""
        return "metrics"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MetricsInput":
        """Configured from the settings (METRICS_TOKEN), not from credentials.yml values."""
        return cls(load_settings())

    def __init__(self, settings: Settings, metrics: Optional[Metrics] = None) -> None:
        self.token = settings.metrics_token
        self.metrics = metrics or process_metrics()

    def url_prefix(self) -> Text:
        """``/metrics``: absolute, so Rasa mounts it at the root rather than under /webhooks/."""
        return "/metrics"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The one route: ``GET /metrics``, Prometheus' text format."""
        metrics = Blueprint("postdesk_metrics", __name__)

        @metrics.route("/", methods=["GET"])
        async def scrape(request: Request) -> HTTPResponse:
            if not may_scrape(request.ip, request.headers, self.token):
                status, text, headers = refusal(self.token)
                logger.warning("metrics scrape from %s refused (%d)", request.ip, status)
                return response.text(text, status=status, headers=headers)
            return response.raw(exposition(self.metrics.registry), content_type=CONTENT_TYPE)

        return metrics
