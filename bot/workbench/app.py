"""The workbench application factory and its routes (all of them, in `setup_routes`).

`create_app` puts what the views use under the keys of `bot.workbench.keys`; the views read it
from there and never import this module.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Callable

from aiohttp import web

from bot.config import Settings, local_now
from bot.store.accounts import LoginPolicy
from bot.store.uow import UowFactory
from bot.trainer.vocabulary import domain_vocabulary
from bot.workbench import (
    accounts_views,
    calls,
    conversations,
    metrics_views,
    models_views,
    orders,
    proactive_views,
    reports_views,
    trainer_views,
    views,
)
from bot.workbench.auth import (
    AuthConfig,
    Handler,
    LoginGuard,
    SessionStore,
    check_routes,
    csrf_middleware,
    session_middleware,
)
from bot.workbench.keys import (
    AUTH,
    CLOCK,
    FORBIDDEN,
    LOGIN_GUARD,
    MAX_REQUEST_BYTES,
    METRICS,
    POLICY,
    SETTINGS,
    TEMPLATES,
    TRAINER_PATHS,
    UOWS,
    VOCABULARY,
    Clock,
    in_thread,
    is_api,
    json_error,
)
from bot.workorders.policy import policy_from_settings

logger = logging.getLogger(__name__)

PURGE_INTERVAL_S = 300.0
# What the API answers when a handler fails unexpectedly (the details go to the log only).
INTERNAL_ERROR = "服务器内部错误，请稍后重试"

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


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer an unexpected exception in the JSON API with a generic JSON 500 and log it.

    The answer says nothing about the failure (no traceback, nothing the request carried); the
    operator's log gets the method, the path and the traceback. Pages, and answers already
    being sent (event streams), fail as aiohttp makes them fail: its 500 page and log line.
    """
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        if not is_api(request) or request.writer.output_size > 0:
            raise
        logger.exception("unexpected error answering %s %s", request.method, request.path)
        return json_error(INTERNAL_ERROR, 500)


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
    calls.setup_routes(app)  # before orders: /orders/new and /orders/upload are not numbers
    orders.setup_routes(app)
    conversations.setup_routes(app)
    proactive_views.setup_routes(app)
    reports_views.setup_routes(app)
    trainer_views.setup_routes(app)
    models_views.setup_routes(app)
    metrics_views.setup_routes(app)  # GET /metrics, for Prometheus


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


async def _load_rules(app: web.Application) -> None:
    """On startup: the deadline policy from the settings (unless a test set one) and the
    domain's intents and entities, read once here rather than on every request."""
    if POLICY not in app:
        app[POLICY] = policy_from_settings(app[SETTINGS])
    if VOCABULARY not in app:
        app[VOCABULARY] = domain_vocabulary(app[TRAINER_PATHS].domain_path)


async def _purge_sessions(app: web.Application) -> AsyncIterator[None]:
    async def purge() -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await in_thread(app[AUTH].sessions.purge_expired, app[UOWS])
            except Exception:  # the database is away for a moment: the next round retries
                logger.warning("could not purge expired workbench sessions", exc_info=True)

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
    clock: Clock = local_now,
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
            ``settings.login_max_failures`` and ``settings.login_lockout_minutes`` apply, on
            the app's clock.
        clock: "now" for every view and the default login guard (naive Beijing time); tests
            pin it here or by setting ``app[keys.CLOCK]`` before the first request.

    Returns:
        The application, ready for ``web.run_app`` or a test server.
    """
    # Every request body is bounded (aiohttp answers 413 beyond it); JSON bodies much tighter
    # (`keys.json_body`).
    app = web.Application(
        middlewares=[security_headers, api_errors, session_middleware, csrf_middleware],
        client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[AUTH] = AuthConfig(
        sessions=sessions if sessions is not None
        else SessionStore(max_age=settings.session_max_hours * 3600.0),
        secure_cookies=settings.workbench_secure_cookies,
        trusted_proxies=frozenset(settings.trusted_proxies),
    )
    app[LOGIN_GUARD] = (login_guard if login_guard is not None
                        else LoginGuard(LoginPolicy.from_settings(settings),
                                        clock=lambda: app[CLOCK]()))
    app[TEMPLATES] = views.make_templates()
    app[FORBIDDEN] = views.render_forbidden
    app[METRICS] = metrics_views.make_registry(app)
    if uow_factory is not None:
        app[UOWS] = uow_factory
    else:
        app.cleanup_ctx.append(_store_context(settings))
    app.cleanup_ctx.append(_purge_sessions)
    # aiohttp 3.9 types its signals for the aiosignal before 1.4 (a handler is fine at runtime).
    app.on_startup.append(_load_rules)  # type: ignore[arg-type]
    setup_routes(app)
    check_routes(app)
    return app
