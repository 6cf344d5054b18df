"""Proactive-service fixtures: the store fixtures (SQLite and PostgreSQL), the configuration and
deadline policy, and helpers that write mail with hand-made trails."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Sequence

import pytest

from bot.proactive.config import ProactiveConfig, load_config
from bot.store.models import MailItem, TrackingEvent
from bot.store.uow import UowFactory
from bot.workorders.policy import DeadlinePolicy, load_policy
from tests.store.conftest import engine, pg_url, session_factory, uows  # noqa: F401

# A Tuesday morning, a working day, outside the quiet hours.
NOW = datetime(2025, 6, 10, 10, 0)


@pytest.fixture(scope="session")
def config() -> ProactiveConfig:
    """The shipped thresholds.yml."""
    return load_config()


@pytest.fixture(scope="session")
def policy() -> DeadlinePolicy:
    """The shipped work-order deadline policy."""
    return load_policy()


Scan = tuple[float, str, str, str]  # hours before NOW, status, unit, description


def add_mail(uows: UowFactory, number: str, scans: Sequence[Scan], *, product: str = "EMS",
             posted_hours: float | None = None, promised_hours: float | None = None,
             recipient: str = "张三", signed_by: str | None = None,
             now: datetime = NOW) -> None:
    """Store a mail item whose trail is `scans` (times in hours before `now`)."""
    posted = now - timedelta(hours=posted_hours if posted_hours is not None
                             else (scans[0][0] if scans else 10))
    with uows() as uow:
        uow.mail.add(MailItem(
            number=number, product=product, sender_area="麒麟区", sender_prefecture="曲靖市",
            recipient_area="景洪市", recipient_prefecture="西双版纳傣族自治州",
            recipient_name=recipient, recipient_phone="13988123456",
            recipient_address="景洪市勐泐大道18号", posted_at=posted,
            promised_by=(posted + timedelta(hours=promised_hours)
                         if promised_hours is not None else None),
            postage=Decimal("20.00"), weight_g=500,
            status=scans[-1][1] if scans else "POSTED", signed_by=signed_by,
            events=[TrackingEvent(occurred_at=now - timedelta(hours=h), place=unit, unit=unit,
                                  status_code=status, description=text)
                    for h, status, unit, text in scans]))
        uow.commit()


def add_scan(uows: UowFactory, number: str, scan: Scan, signed_by: str | None = None,
             now: datetime = NOW) -> None:
    """Append one scan to a stored mail's trail."""
    hours, status, unit, text = scan
    with uows() as uow:
        mail = uow.mail.get_by_number(number)
        assert mail is not None
        mail.events.append(TrackingEvent(occurred_at=now - timedelta(hours=hours), place=unit,
                                         unit=unit, status_code=status, description=text))
        mail.status = status
        if signed_by is not None:
            mail.signed_by = signed_by
        uow.commit()
