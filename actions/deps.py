"""What the actions need from outside, created on first use (never at import time).

Tests replace the unit-of-work factory and the clock with :func:`override`.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Optional

from bot.config import load_settings, local_now
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UnitOfWork
from bot.workorders.policy import DeadlinePolicy, policy_from_settings

logger = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]

_uow_factory: Optional[UowFactory] = None
_clock: Callable[[], datetime] = local_now
_stuck_hours: Optional[float] = None
_rules: Optional[DeadlinePolicy] = None


def uow_factory() -> UowFactory:
    """The unit-of-work factory over the configured database (created once)."""
    global _uow_factory, _stuck_hours
    if _uow_factory is None:
        settings = load_settings()
        engine = make_engine(settings.database_url)
        create_schema(engine)
        session_factory = make_session_factory(engine)
        _uow_factory = lambda: UnitOfWork(session_factory)  # noqa: E731
        _stuck_hours = settings.stuck_hours
        logger.info("mail store opened (%s)", engine.url.render_as_string(hide_password=True))
    return _uow_factory


def stuck_hours() -> float:
    """Hours without a scan after which a mail counts as stuck."""
    if _stuck_hours is None:
        return load_settings().stuck_hours
    return _stuck_hours


def deadline_rules() -> DeadlinePolicy:
    """The work-order deadline policy from the configured files (loaded once)."""
    global _rules
    if _rules is None:
        _rules = policy_from_settings(load_settings())
    return _rules


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
