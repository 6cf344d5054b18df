from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.store import seed
from bot.store.models import MailItem, TrackingEvent
from bot.store.seed import demo_mail, seed_demo_mail
from bot.store.services import lookup_mail
from bot.store.status import StatusCode
from bot.store.uow import UowFactory
from bot.text import gazetteer
from bot.text.tracking import Kind, parse

FIXED = [seed.IN_TRANSIT_TO_JINGHONG, seed.STUCK_AT_KUNMING, seed.DELIVERED_TO_GATEKEEPER,
         seed.AT_STATION_TENGCHONG, seed.RETURNED_TO_MENGZI]


def _counts(uows: UowFactory) -> tuple[int, int]:
    with uows() as uow:
        mails = uow.session.execute(select(func.count(MailItem.id))).scalar_one()
        events = uow.session.execute(select(func.count(TrackingEvent.id))).scalar_one()
    return mails, events


def test_seeding_twice_adds_nothing_the_second_time(uows: UowFactory, now: datetime) -> None:
    first = seed_demo_mail(uows, now)
    counts = _counts(uows)
    second = seed_demo_mail(uows, now + timedelta(days=1))
    assert first.added == counts[0] and 18 <= first.added <= 25
    assert (second.added, second.replaced, second.kept) == (0, 0, first.added)
    assert _counts(uows) == counts


def test_refresh_retimes_the_demo_without_duplicates(uows: UowFactory, now: datetime) -> None:
    seed_demo_mail(uows, now)
    counts = _counts(uows)
    later = now + timedelta(days=3)
    result = seed_demo_mail(uows, later, refresh=True)
    assert (result.added, result.replaced) == (0, counts[0])
    assert _counts(uows) == counts
    found = lookup_mail(uows, seed.IN_TRANSIT_TO_JINGHONG, later)
    assert found.hours_since_update == 4 and not found.is_stuck


def test_fixed_numbers_are_stored(uows: UowFactory, now: datetime) -> None:
    seed_demo_mail(uows, now)
    for number in FIXED:
        assert lookup_mail(uows, number, now) is not None


def test_invented_numbers_have_valid_check_digits(now: datetime) -> None:
    for mail in demo_mail(now):
        number = parse(mail.number)
        assert number is not None, mail.number
        if mail.number == seed.STUCK_AT_KUNMING:
            # Fixed by the brief; it fails the S10 check (EA000000014CN is its valid twin).
            assert number.check_ok is False
        elif number.kind is Kind.PARCEL13:
            assert number.check_ok is None
        else:
            assert number.check_ok is True, mail.number


def test_fixed_numbers_parse_as_their_kind() -> None:
    kinds = {n: parse(n).kind for n in FIXED}
    assert kinds[seed.DELIVERED_TO_GATEKEEPER] is Kind.EMS13
    assert kinds[seed.AT_STATION_TENGCHONG] is Kind.PARCEL13
    assert kinds[seed.RETURNED_TO_MENGZI] is Kind.S10
    assert parse(seed.STUCK_AT_KUNMING_VALID).check_ok is True


def test_demo_covers_the_four_prefectures_with_official_names(now: datetime) -> None:
    mails = demo_mail(now)
    assert len({m.number for m in mails}) == len(mails)
    touched = set()
    for mail in mails:
        for area, prefecture in ((mail.sender_area, mail.sender_prefecture),
                                 (mail.recipient_area, mail.recipient_prefecture)):
            place = gazetteer.lookup(area)
            if place is not None:
                assert place.name == area and place.prefecture == prefecture
                touched.add(prefecture)
    assert touched == set(gazetteer.prefectures())


def test_demo_trails_are_consistent(now: datetime) -> None:
    mails = demo_mail(now)
    for mail in mails:
        times = [e.occurred_at for e in mail.events]
        assert times == sorted(times) and times[-1] <= now, mail.number
        assert mail.posted_at == times[0]
        assert mail.events[0].status_code == StatusCode.POSTED.value
        assert (mail.signed_by is not None) == (mail.status == StatusCode.DELIVERED.value), mail.number
        assert all(e.description.startswith("【") for e in mail.events)
    statuses = {m.status for m in mails}
    assert statuses == {code.value for code in StatusCode} - {StatusCode.DEPARTED.value}


def test_demo_timing_accepts_an_aware_now(now: datetime) -> None:
    aware = (now - timedelta(hours=8)).replace(tzinfo=timezone.utc)
    assert [m.posted_at for m in demo_mail(aware)] == [m.posted_at for m in demo_mail(now)]


@pytest.mark.parametrize("number", FIXED)
def test_fixed_demo_numbers_are_module_constants(number: str) -> None:
    assert number in {m.number for m in demo_mail(datetime(2025, 1, 1))}


def test_demo_work_orders_cover_the_channels_and_seed_once(uows, now) -> None:
    from bot.store import workorders as wo
    from bot.store.seed import seed_demo_mail, seed_demo_work_orders
    from bot.store.status import Channel, Priority
    from bot.workorders.policy import load_policy

    rules = load_policy()
    seed_demo_mail(uows, now)
    assert seed_demo_work_orders(uows, rules, now) == 8  # 7 channel orders + 1 pickup escalation
    assert seed_demo_work_orders(uows, rules, now) == 0
    orders = wo.list_work_orders(uows, rules, now)
    assert len(orders) == 8
    assert {o.channel for o in orders} == set(Channel) - {Channel.HOTLINE_11183}
    assert any(o.overdue for o in orders) and any(not o.overdue for o in orders)
    escalation = [o for o in orders if o.priority is Priority.HIGH and "预约揽收" in o.description]
    assert len(escalation) == 1
