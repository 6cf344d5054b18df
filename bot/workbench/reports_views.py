"""Supervisors' pages of the workbench: the daily report and the monthly statistics."""
from __future__ import annotations

from aiohttp import web

from bot.store.accounts import Role
from bot.workbench.auth import require_role
from bot.workbench.views import render


@require_role(Role.SUPERVISOR)
async def supervisor(request: web.Request) -> web.StreamResponse:
    """GET /supervisor: the supervisors' page."""
    return render(request, "supervisor.html")


def setup_routes(app: web.Application) -> None:
    """The supervisors' routes."""
    app.router.add_get("/supervisor", supervisor, name="supervisor")
