"""What the actions need from outside, created on first use (never at import time).

rasa_sdk awaits each action's ``run`` on the action server's one event loop, so anything that
blocks (the store, and the first-use set-up below, which reads settings and files and opens the
database) goes through :func:`off_loop` and runs in a worker thread meanwhile.

Tests replace the unit-of-work factory and the clock with :func:`override`.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime
from typing import Callable, Optional, ParamSpec, TypeVar

from bot.config import load_settings, local_now
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory
from bot.store.uow import uow_factory as make_uow_factory
from bot.workorders.policy import DeadlinePolicy, policy_from_settings

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Worker threads may ask for the factory at the same time on first use: one opens the store.
_lock = threading.Lock()
_uow_factory: Optional[UowFactory] = None
_clock: Callable[[], datetime] = local_now
_stuck_hours: Optional[float] = None
_rules: Optional[DeadlinePolicy] = None


def uow_factory() -> UowFactory:
    """The unit-of-work factory over the configured database (created once)."""
    global _uow_factory, _stuck_hours
    with _lock:
        if _uow_factory is None:
            settings = load_settings()
            engine = make_engine(settings.database_url)
            create_schema(engine)
            _uow_factory = make_uow_factory(make_session_factory(engine))
            _stuck_hours = settings.stuck_hours
            logger.info("mail store opened (%s)",
                        engine.url.render_as_string(hide_password=True))
        return _uow_factory


def stuck_hours() -> float:
    """Hours without a scan after which a mail counts as stuck."""
    if _stuck_hours is None:
        return load_settings().stuck_hours
    return _stuck_hours


def deadline_rules() -> DeadlinePolicy:
    """The work-order deadline policy from the configured files (loaded once)."""
    global _rules
    with _lock:
        if _rules is None:
            _rules = policy_from_settings(load_settings())
        return _rules


async def off_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking work (the store, first-use set-up) in a worker thread and await its result.

    The action server's event loop keeps serving other conversations meanwhile; exceptions
    raised by `work` (e.g. ``SQLAlchemyError``) come out of the ``await`` unchanged.
    """
    return await asyncio.to_thread(work, *args, **kwargs)


def now() -> datetime:
    """The current time (Beijing, naive), replaceable in tests."""
    return _clock()


def override(
    factory: Optional[UowFactory] = None,
    clock: Optional[Callable[[], datetime]] = None,
    stuck: Optional[float] = None,
    rules: Optional[DeadlinePolicy] = None,
) -> None:
    """Replace the dependencies (for tests); ``override()`` with no arguments resets them."""
    global _uow_factory, _clock, _stuck_hours, _rules
    _uow_factory = factory
    _clock = clock or local_now
    _stuck_hours = stuck
    _rules = rules
