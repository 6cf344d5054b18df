from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.store.models import HandoverRequest, MailItem, TrackingEvent
from bot.store.status import FINAL_STATUSES, HandoverStatus, StatusCode


def _mail(number: str = "EA305127681CN", **overrides: object) -> MailItem:
    values: dict = dict(
        number=number, product="EMS", sender_area="昆明市", sender_prefecture="昆明市",
        recipient_area="景洪市", recipient_prefecture="西双版纳傣族自治州", recipient_name="玉应罕",
        recipient_phone="13988123456", recipient_address="景洪市勐泐大道18号",
        posted_at=datetime(2025, 6, 1, 9, 0), postage=Decimal("24.10"), weight_g=820,
        status=StatusCode.IN_TRANSIT.value,
    )
    values.update(overrides)
    return MailItem(**values)


def _event(at: datetime, code: StatusCode, place: str) -> TrackingEvent:
    return TrackingEvent(occurred_at=at, place=place, unit=place, status_code=code.value,
                         description=f"【{place}】{code.label}")


def test_mail_round_trip_keeps_values_and_orders_events(session_factory: sessionmaker) -> None:
    t0 = datetime(2025, 6, 1, 9, 0)
    mail = _mail(" ea 3051 2768 1cn ", insured_value=Decimal("3000.05"), promised_by=t0 + timedelta(days=2))
    # Added out of order: the relationship must still read oldest first.
    mail.events = [
        _event(t0 + timedelta(hours=20), StatusCode.ARRIVED, "西双版纳州邮区中心局"),
        _event(t0, StatusCode.POSTED, "昆明市五华区邮政分公司翠湖营业部"),
        _event(t0 + timedelta(hours=3), StatusCode.ARRIVED, "昆明邮区中心局"),
    ]
    with session_factory() as session:
        session.add(mail)
        session.commit()

    with session_factory() as session:
        stored = session.execute(select(MailItem)).scalar_one()
        assert stored.number == "EA305127681CN"
        assert stored.postage == Decimal("24.10")
        assert stored.insured_value == Decimal("3000.05")
        assert stored.promised_by == t0 + timedelta(days=2)
        assert stored.signed_by is None
        assert stored.recipient_phone == "13988123456"  # stored raw, not masked
        assert stored.created_at is not None
        assert [e.place for e in stored.events] == [
            "昆明市五华区邮政分公司翠湖营业部", "昆明邮区中心局", "西双版纳州邮区中心局"]
        assert stored.events[0].mail is stored


def test_number_is_unique_whatever_the_spelling(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        session.add(_mail("EA305127681CN"))
        session.commit()
        session.add(_mail("ea305127681cn"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_deleting_mail_deletes_its_events(session_factory: sessionmaker) -> None:
    mail = _mail()
    mail.events = [_event(datetime(2025, 6, 1, 9, 0), StatusCode.POSTED, "昆明邮区中心局")]
    with session_factory() as session:
        session.add(mail)
        session.commit()
        session.delete(mail)
        session.commit()
        assert session.execute(select(func.count(TrackingEvent.id))).scalar_one() == 0


def test_foreign_key_is_enforced(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        session.add(TrackingEvent(mail_id=999, occurred_at=datetime(2025, 6, 1), place="x", unit="x",
                                  status_code="POSTED", description="x"))
        with pytest.raises(IntegrityError):
            session.commit()


def _handover(sender: str, status: HandoverStatus) -> HandoverRequest:
    at = datetime(2025, 6, 1, 9, 0)
    return HandoverRequest(sender_id=sender, channel="wechat", reason="request_human", last_message="转人工",
                           intent="request_human", status=status.value, created_at=at, updated_at=at)


def test_one_open_handover_per_sender(session_factory: sessionmaker) -> None:
    with session_factory() as session:
        session.add_all([_handover("o1", HandoverStatus.CLOSED), _handover("o1", HandoverStatus.CLOSED),
                         _handover("o1", HandoverStatus.WAITING)])
        session.commit()  # closed ones do not count
        session.add(_handover("o1", HandoverStatus.TAKEN))
        with pytest.raises(IntegrityError):
            session.commit()


def test_status_labels_and_final_states() -> None:
    assert StatusCode.DELIVERED.label == "已妥投"
    assert StatusCode.AT_STATION.label == "已投递至驿站/代收点待取"
    assert StatusCode("IN_TRANSIT").label == "运输中"
    assert FINAL_STATUSES == {StatusCode.DELIVERED, StatusCode.RETURNED}
    assert not StatusCode.RETURNING.is_final
    assert all(code.label for code in StatusCode)
