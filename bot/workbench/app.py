"""The workbench application factory and its routes (all of them, in `setup_routes`)."""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Callable

from aiohttp import web

from bot.config import Settings
from bot.store.accounts import LoginPolicy
from bot.store.uow import UowFactory
from bot.workbench import (
    accounts_views,
    conversations,
    models_views,
    orders,
    reports_views,
    trainer_views,
    views,
)
from bot.workbench.auth import (
    AUTH,
    FORBIDDEN,
    LOGIN_GUARD,
    UOWS,
    AuthConfig,
    Handler,
    LoginGuard,
    SessionStore,
    check_routes,
    csrf_middleware,
    session_middleware,
)

SETTINGS = web.AppKey("postdesk.settings", Settings)
PURGE_INTERVAL_S = 300.0

# No scripts from anywhere but this site, no framing, forms post only here.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add the headers every answer carries (CSP, no sniffing, no framing, no caching)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(exc)
        raise
    _harden(response)
    return response


def _harden(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")


def setup_routes(app: web.Application) -> None:
    """Every route of the workbench (each part adds its own in its module's `setup_routes`)."""
    app.router.add_get("/static/{name}", views.static_file, name="static")
    app.router.add_get("/login", views.login_page, name="login")
    app.router.add_post("/logout", views.logout, name="logout")
    app.router.add_get("/", views.home, name="home")
    app.router.add_get("/api/me", views.api_me, name="api_me")
    accounts_views.setup_routes(app)  # POST /login (counted failures) and /admin/users
    orders.setup_routes(app)
    conversations.setup_routes(app)
    reports_views.setup_routes(app)
    trainer_views.setup_routes(app)
    models_views.setup_routes(app)


def _store_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Open the store named by the settings on startup, close it on cleanup."""

    async def store(app: web.Application) -> AsyncIterator[None]:
        from bot.store.db import create_schema, make_engine, make_session_factory
        from bot.store.uow import uow_factory

        engine = make_engine(settings.database_url)
        create_schema(engine)
        app[UOWS] = uow_factory(make_session_factory(engine))
        yield
        engine.dispose()

    return store


async def _purge_sessions(app: web.Application) -> AsyncIterator[None]:
    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            app[AUTH].sessions.purge_expired()

    task = asyncio.create_task(purge())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(
    settings: Settings,
    uow_factory: UowFactory | None = None,
    *,
    sessions: SessionStore | None = None,
    login_guard: LoginGuard | None = None,
) -> web.Application:
    """Build the workbench application.

    Args:
        settings: the runtime settings; ``workbench_secure_cookies`` (default False) adds
            ``Secure`` to the session cookie.
        uow_factory: the store to use; None opens ``settings.database_url`` on startup
            (migrating it to the newest schema) and closes it on cleanup.
        sessions: the session store (tests pass one with a fake clock); by default one whose
            sessions end ``settings.session_max_hours`` after login.
        login_guard: counts failed logins (tests pass one with a pinned clock); by default
            ``settings.login_max_failures`` and ``settings.login_lockout_minutes`` apply.

    Returns:
        The application, ready for ``web.run_app`` or a test server.
    """
    # Every request body is bounded (aiohttp answers 413 beyond it); JSON bodies much tighter
    # (`views.json_body`).
    app = web.Application(middlewares=[security_headers, session_middleware, csrf_middleware],
                          client_max_size=views.MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[AUTH] = AuthConfig(
        sessions=sessions if sessions is not None
        else SessionStore(max_age=settings.session_max_hours * 3600.0),
        secure_cookies=settings.workbench_secure_cookies,
        trusted_proxies=frozenset(settings.trusted_proxies),
    )
    app[LOGIN_GUARD] = (login_guard if login_guard is not None
                        else LoginGuard(LoginPolicy.from_settings(settings)))
    app[views.TEMPLATES] = views.make_templates()
    app[FORBIDDEN] = views.render_forbidden
    if uow_factory is not None:
        app[UOWS] = uow_factory
    else:
        app.cleanup_ctx.append(_store_context(settings))
    app.cleanup_ctx.append(_purge_sessions)
    setup_routes(app)
    check_routes(app)
    return app
