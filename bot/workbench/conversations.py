"""Hand-over queue and conversation pages of the workbench."""
from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """The queue and conversation routes."""
