from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.store import seed
from bot.store.models import HandoverRequest
from bot.store.repositories import HandoverRepository
from bot.store.services import (
    list_waiting_handovers,
    lookup_mail,
    record_handover,
)
from bot.store.status import HandoverStatus, StatusCode
from bot.store.uow import UowFactory

pytestmark = pytest.mark.usefixtures("seeded")


# number, status, stuck, overdue, at_station, returned, signed_by_masked
DEMO_STATES = [
    (seed.IN_TRANSIT_TO_JINGHONG, StatusCode.IN_TRANSIT, False, False, False, False, None),
    (seed.STUCK_AT_KUNMING, StatusCode.IN_TRANSIT, True, True, False, False, None),
    (seed.STUCK_AT_KUNMING_VALID, StatusCode.IN_TRANSIT, True, True, False, False, None),
    (seed.DELIVERED_TO_GATEKEEPER, StatusCode.DELIVERED, False, False, False, False, "门卫代收"),
    (seed.AT_STATION_TENGCHONG, StatusCode.AT_STATION, False, False, True, False, None),
    (seed.RETURNED_TO_MENGZI, StatusCode.RETURNED, False, False, False, True, None),
    ("EA305127681CN", StatusCode.DELIVERED, False, False, False, False, "陈**"),
    ("1172039845806", StatusCode.DELIVERED, False, False, False, False, "同事李*代收"),
    ("9834216570482", StatusCode.ARRIVED, False, True, False, False, None),
    ("9806152347718", StatusCode.RETURNING, False, False, False, True, None),
    ("EB412760937CN", StatusCode.OUT_FOR_DELIVERY, False, False, False, False, None),
    ("EE520183743CN", StatusCode.FAILED, False, True, False, False, None),
]


@pytest.mark.parametrize("number,status,stuck,overdue,at_station,returned,signer", DEMO_STATES)
def test_lookup_judges_each_demo_state(
    uows: UowFactory, now: datetime, number: str, status: StatusCode, stuck: bool, overdue: bool,
    at_station: bool, returned: bool, signer: str | None,
) -> None:
    found = lookup_mail(uows, number, now)
    assert found is not None
    assert (found.number, found.status_code, found.status_label) == (number, status, status.label)
    assert found.is_stuck is stuck
    assert found.is_overdue is overdue
    assert found.at_station is at_station
    assert found.returned is returned
    assert found.signed_by_masked == signer


def test_in_transit_to_jinghong(uows: UowFactory, now: datetime) -> None:
    found = lookup_mail(uows, "EA000000005CN", now)
    assert found is not None
    assert (found.product, found.sender_area, found.recipient_area) == ("EMS", "昆明市", "景洪市")
    assert found.hours_since_update == 4
    assert len(found.last_events) == 3
    newest = found.last_events[0]
    assert newest.place == "西双版纳州邮区中心局"
    assert newest.occurred_at == now - timedelta(hours=4)
    assert [e.occurred_at for e in found.last_events] == sorted(
        (e.occurred_at for e in found.last_events), reverse=True)
    assert "下一站【西双版纳州邮区中心局】" in found.last_events[1].description


def test_stuck_item_was_last_seen_in_kunming_four_days_ago(uows: UowFactory, now: datetime) -> None:
    found = lookup_mail(uows, "EA000000019CN", now)
    assert found is not None
    assert found.hours_since_update == 96
    assert found.last_events[0].place == "昆明邮区中心局"
    assert found.promised_by is not None and found.promised_by < now


def test_stuck_threshold_is_a_parameter(uows: UowFactory, now: datetime) -> None:
    assert lookup_mail(uows, "EA000000019CN", now, stuck_hours=100).is_stuck is False
    assert lookup_mail(uows, "EA000000005CN", now, stuck_hours=4).is_stuck is True
    assert lookup_mail(uows, "EA000000005CN", now, stuck_hours=5).is_stuck is False


def test_final_items_are_never_stuck_or_overdue(uows: UowFactory, now: datetime) -> None:
    later = now + timedelta(days=30)
    for number in ("1151238971060", "RR123456785CN"):
        found = lookup_mail(uows, number, later)
        assert found is not None and found.hours_since_update > 48 * 10
        assert not found.is_stuck and not found.is_overdue


def test_item_with_a_single_scan(uows: UowFactory, now: datetime) -> None:
    found = lookup_mail(uows, "EA607342156CN", now)
    assert found is not None
    assert found.status_code is StatusCode.POSTED
    assert len(found.last_events) == 1 and found.hours_since_update == 2


@pytest.mark.parametrize("typed", ["ea000000005cn", " EA 0000 0000 5CN ", "ea 00000000 5 cn"])
def test_lookup_ignores_case_and_spaces(uows: UowFactory, now: datetime, typed: str) -> None:
    found = lookup_mail(uows, typed, now)
    assert found is not None and found.number == "EA000000005CN"


@pytest.mark.parametrize("typed", ["EA000000006CN", "9812345678900", "", "not a number"])
def test_unknown_number_gives_none(uows: UowFactory, now: datetime, typed: str) -> None:
    assert lookup_mail(uows, typed, now) is None


def test_aware_now_is_read_as_beijing_time(uows: UowFactory, now: datetime) -> None:
    utc_now = (now - timedelta(hours=8)).replace(tzinfo=timezone.utc)
    assert lookup_mail(uows, "EA000000005CN", utc_now) == lookup_mail(uows, "EA000000005CN", now)


def test_status_shows_no_recipient_details(uows: UowFactory, now: datetime) -> None:
    # The view goes to whoever typed the number: no recipient name, phone or street address.
    found = lookup_mail(uows, "EA305127681CN", now)
    shown = repr(dataclasses.asdict(found))
    for secret in ("陈晓燕", "13908741583", "寥廓花园"):
        assert secret not in shown


# --- handovers --------------------------------------------------------------------------------

def _count_handovers(uows: UowFactory) -> int:
    with uows() as uow:
        return uow.session.execute(select(func.count(HandoverRequest.id))).scalar_one()


def _record(uows: UowFactory, sender: str, at: datetime, message: str = "转人工") -> object:
    return record_handover(uows, sender, "wechat", "request_human", message, "request_human", at)


def test_record_handover_is_idempotent_per_sender(uows: UowFactory, now: datetime) -> None:
    first = _record(uows, "oUser1", now, "我的快递EA000000019CN四天没动了，电话13908791234")
    again = _record(uows, "oUser1", now + timedelta(minutes=2), "人呢？")
    assert first.created is True and first.waiting_ahead == 0
    assert again.created is False and again.id == first.id and again.waiting_ahead == 0
    assert _count_handovers(uows) == 1
    [waiting] = list_waiting_handovers(uows)
    assert waiting.last_message == "我的快递EA000000019CN四天没动了，电话13908791234"  # raw, first message kept
    assert (waiting.sender_id, waiting.channel, waiting.reason, waiting.intent) == (
        "oUser1", "wechat", "request_human", "request_human")


def test_queue_position_counts_earlier_waiting_requests(uows: UowFactory, now: datetime) -> None:
    a = _record(uows, "oA", now)
    b = _record(uows, "oB", now + timedelta(minutes=1))
    c = _record(uows, "oC", now + timedelta(minutes=2))
    assert [a.waiting_ahead, b.waiting_ahead, c.waiting_ahead] == [0, 1, 2]
    assert _record(uows, "oC", now + timedelta(minutes=3)).waiting_ahead == 2
    _set_status(uows, a.id, HandoverStatus.TAKEN)
    assert _record(uows, "oC", now + timedelta(minutes=4)).waiting_ahead == 1
    assert [h.sender_id for h in list_waiting_handovers(uows)] == ["oB", "oC"]


def _set_status(uows: UowFactory, request_id: int, status: HandoverStatus) -> None:
    with uows() as uow:
        uow.session.get(HandoverRequest, request_id).status = status.value
        uow.commit()


def test_taken_request_is_still_open_but_closed_one_is_not(uows: UowFactory, now: datetime) -> None:
    first = _record(uows, "oUser2", now)
    _set_status(uows, first.id, HandoverStatus.TAKEN)
    during = _record(uows, "oUser2", now + timedelta(minutes=5))
    assert (during.created, during.id, during.waiting_ahead) == (False, first.id, 0)
    _set_status(uows, first.id, HandoverStatus.CLOSED)
    after = _record(uows, "oUser2", now + timedelta(hours=1))
    assert after.created is True and after.id != first.id
    assert _count_handovers(uows) == 2


def test_concurrent_request_is_not_written_twice(
    uows: UowFactory, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _record(uows, "oRace", now)
    real = HandoverRepository.open_for_sender
    calls: list[str] = []

    def misses_once(self: HandoverRepository, sender_id: str) -> HandoverRequest | None:
        # The first check runs "before" the other worker committed: it sees nothing.
        calls.append(sender_id)
        return None if len(calls) == 1 else real(self, sender_id)

    monkeypatch.setattr(HandoverRepository, "open_for_sender", misses_once)
    ticket = _record(uows, "oRace", now + timedelta(seconds=1))
    assert (ticket.created, ticket.id) == (False, first.id)
    assert len(calls) == 2
    assert _count_handovers(uows) == 1


def test_list_waiting_is_oldest_first(uows: UowFactory, now: datetime) -> None:
    _record(uows, "oLate", now + timedelta(minutes=10))
    _record(uows, "oEarly", now)
    assert [h.sender_id for h in list_waiting_handovers(uows)] == ["oEarly", "oLate"]
    assert list_waiting_handovers(uows)[0].created_at == now

