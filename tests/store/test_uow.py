from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from bot.store.models import MailItem
from bot.store.status import StatusCode
from bot.store.uow import UowFactory


def _mail(number: str) -> MailItem:
    return MailItem(
        number=number, product="挂号信", sender_area="蒙自市", sender_prefecture="红河哈尼族彝族自治州",
        recipient_area="个旧市", recipient_prefecture="红河哈尼族彝族自治州", recipient_name="杨春林",
        recipient_phone="13908735162", recipient_address="个旧市金湖东路116号",
        posted_at=datetime(2025, 6, 1, 9, 0), postage=Decimal("4.20"), weight_g=20,
        status=StatusCode.POSTED.value,
    )


def test_nothing_is_kept_without_commit(uows: UowFactory) -> None:
    with uows() as uow:
        uow.mail.add(_mail("RR258039147CN"))
        assert uow.mail.get_by_number("RR258039147CN") is not None  # visible inside the unit
    with uows() as uow:
        assert uow.mail.get_by_number("RR258039147CN") is None


def test_commit_keeps_the_work(uows: UowFactory) -> None:
    with uows() as uow:
        uow.mail.add(_mail("RR258039147CN"))
        uow.commit()
    with uows() as uow:
        assert [m.number for m in uow.mail.list()] == ["RR258039147CN"]


def test_an_error_rolls_back_and_propagates(uows: UowFactory) -> None:
    with pytest.raises(RuntimeError):
        with uows() as uow:
            uow.mail.add(_mail("RR406172897CN"))
            uow.session.flush()
            raise RuntimeError("boom")
    with uows() as uow:
        assert uow.mail.list() == []


def test_list_filters_by_status(uows: UowFactory) -> None:
    delivered = _mail("RR406172897CN")
    delivered.status = StatusCode.DELIVERED.value
    with uows() as uow:
        uow.mail.add(_mail("RR258039147CN"))
        uow.mail.add(delivered)
        uow.commit()
    with uows() as uow:
        assert [m.number for m in uow.mail.list(StatusCode.DELIVERED)] == ["RR406172897CN"]
        assert len(uow.mail.list()) == 2
