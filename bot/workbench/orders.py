"""Work-order pages of the workbench (list, detail, actions)."""
from __future__ import annotations

from aiohttp import web


def setup_routes(app: web.Application) -> None:
    """The work-order routes."""
