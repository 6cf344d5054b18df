"""The exception rules on hand-made trails: each exception, its thresholds, and recovery."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.proactive.config import ProductThresholds, QuietHours, load_config
from bot.proactive.rules import Exception_ as E
from bot.proactive.rules import WatchedTrail, findings, signed_by_addressee
from bot.workorders.responsibility import TrailEvent

NOW = datetime(2025, 6, 10, 10, 0)
TH = ProductThresholds(no_scan_hours=12, no_update_hours=24, station_hours=48)
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"
QJ = "曲靖邮区中心局"
KM = "昆明邮区中心局"
BN = "西双版纳州邮区中心局"
BH = "保山邮区中心局"
JH = "景洪市邮政分公司勐泐营业部"


def ev(hours: float, status: str, unit: str, text: str = "") -> TrailEvent:
    return TrailEvent(NOW - timedelta(hours=hours), unit, unit, status, text or f"【{unit}】")


def mail(*trail: TrailEvent, reasons: tuple[str, ...] = ("vip",), posted_hours: float = 60,
         promised_hours: float | None = None, signed_by: str | None = None,
         recipient: str = "张三") -> WatchedTrail:
    posted = NOW - timedelta(hours=posted_hours)
    return WatchedTrail(
        mail_number="EA000000005CN", reasons=frozenset(reasons), watched_since=posted,
        product="EMS", posted_at=posted,
        promised_by=posted + timedelta(hours=promised_hours) if promised_hours else None,
        recipient_name=recipient, signed_by=signed_by, trail=trail)


def kinds(m: WatchedTrail, now: datetime = NOW) -> set[E]:
    return {f.exception for f in findings(m, TH, now)}


ON_ROUTE = (
    ev(40, "POSTED", OUTLET, "已收寄"),
    ev(38, "DEPARTED", OUTLET, f"已发出，下一站【{QJ}】"),
    ev(34, "ARRIVED", QJ, "已到达"),
    ev(30, "DEPARTED", QJ, f"【{QJ}】已发出，下一站【{KM}】"),
    ev(20, "ARRIVED", KM, "已到达"),
)


def test_a_mail_moving_normally_has_no_exception() -> None:
    assert kinds(mail(*ON_ROUTE)) == set()


def test_no_scan_since_posting_after_the_products_threshold() -> None:
    assert kinds(mail(posted_hours=11)) == set()
    found = findings(mail(posted_hours=13), TH, NOW)
    assert [f.exception for f in found] == [E.NO_SCAN]
    assert "13 小时" in found[0].detail
    # The first scan is the recovery.
    assert kinds(mail(ev(1, "POSTED", OUTLET, "已收寄"), posted_hours=13)) == set()


def test_no_scan_counts_from_the_watch_when_the_store_does_not_know_the_mail() -> None:
    unknown = WatchedTrail("EA000000005CN", frozenset({"project"}),
                           watched_since=NOW - timedelta(hours=30))
    assert kinds(unknown) == {E.NO_SCAN}


def test_no_update_names_the_unit_where_the_mail_stopped() -> None:
    assert kinds(mail(*ON_ROUTE)) == set()  # last scan 20 h ago, threshold 24 h
    found = findings(mail(*ON_ROUTE), TH, NOW + timedelta(hours=5))
    assert [(f.exception, f.unit) for f in found] == [(E.NO_UPDATE, KM)]
    moved = mail(*ON_ROUTE, ev(1, "DEPARTED", KM, f"已发出，下一站【{BN}】"))
    assert kinds(moved, NOW + timedelta(hours=5)) == set()


def test_past_the_promised_time_until_delivered() -> None:
    late = mail(*ON_ROUTE, posted_hours=60, promised_hours=48)
    assert kinds(late) == {E.OVERDUE}
    delivered = mail(*ON_ROUTE, ev(1, "DELIVERED", JH, "已妥投，签收人：本人签收"),
                     promised_hours=48, signed_by="本人签收")
    assert kinds(delivered) == set()


def test_a_failed_delivery_recovers_when_it_goes_out_again() -> None:
    failed = mail(*ON_ROUTE, ev(3, "FAILED", JH, "投递失败，原因：收件人电话无人接听"))
    found = findings(failed, TH, NOW)
    assert [(f.exception, f.unit) for f in found] == [(E.DELIVERY_FAILED, JH)]
    again = mail(*failed.trail, ev(1, "OUT_FOR_DELIVERY", JH, "再次安排投递"))
    assert kinds(again) == set()


def test_refused_is_not_a_failed_delivery_and_returned_is_its_own_exception() -> None:
    refused = mail(*ON_ROUTE, ev(2, "FAILED", JH, "收件人拒收"))
    assert kinds(refused) == {E.REFUSED}
    back = mail(*ON_ROUTE, ev(2, "RETURNING", JH, "收件人拒收，邮件正在退回寄件人"))
    assert kinds(back) == {E.REFUSED}
    undeliverable = mail(*ON_ROUTE, ev(2, "RETURNING", JH, "邮件无法投递，已按规定退回寄件人"))
    assert kinds(undeliverable) == {E.RETURNED}
    # Returned mail does not recover by itself: still there once back with the sender.
    home = mail(*undeliverable.trail, ev(1, "RETURNED", OUTLET, "退回妥投"))
    assert kinds(home) == {E.RETURNED}


def test_missorted_when_arriving_off_the_announced_route_until_back_on_it() -> None:
    wrong = mail(*ON_ROUTE, ev(15, "DEPARTED", KM, f"已发出，下一站【{BN}】"),
                 ev(8, "ARRIVED", BH, "已到达"))
    found = findings(wrong, TH, NOW)
    assert [(f.exception, f.unit) for f in found] == [(E.MISSORTED, KM)]  # who sent it wrong
    assert BN in found[0].detail and BH in found[0].detail
    back = mail(*wrong.trail, ev(6, "DEPARTED", BH, f"已发出，下一站【{BN}】"),
                ev(2, "ARRIVED", BN, "已到达"))
    assert kinds(back) == set()


def test_missorted_when_the_scan_says_so() -> None:
    said = mail(*ON_ROUTE, ev(15, "DEPARTED", KM, f"已发出，下一站【{BH}】"),
                ev(8, "ARRIVED", BH, f"【{BH}】邮件错分，正在退回原分拣中心"))
    assert kinds(said) == {E.MISSORTED}


def test_waiting_at_a_station_too_long_until_collected() -> None:
    waiting = mail(*ON_ROUTE, ev(50, "AT_STATION", JH, "已投递至驿站"), posted_hours=90)
    assert kinds(waiting) == {E.STATION}
    assert kinds(mail(*ON_ROUTE, ev(47, "AT_STATION", JH, "已投递至驿站"))) == set()
    picked = mail(*waiting.trail, ev(1, "DELIVERED", JH, "已妥投，驿站代收"), signed_by="驿站代收")
    assert kinds(picked) == set()


@pytest.mark.parametrize(("signed_by", "own"), [
    ("本人签收", True), ("张三", True), ("张三签收", True),
    ("门卫代收", False), ("同事李明代收", False), ("快递柜", False), ("张三丰", False),
])
def test_who_counts_as_the_addressee(signed_by: str, own: bool) -> None:
    assert signed_by_addressee(signed_by, "张三") is own


def test_te_an_mail_signed_by_someone_else_is_an_exception_with_the_signer_masked() -> None:
    delivered = (*ON_ROUTE, ev(1, "DELIVERED", JH, "已妥投，签收人：同事李明代收"))
    te_an = mail(*delivered, reasons=("te_an",), signed_by="同事李明代收")
    found = findings(te_an, TH, NOW)
    assert [(f.exception, f.unit) for f in found] == [(E.SIGNED_BY_OTHER, JH)]
    assert "李明" not in found[0].detail and "李*" in found[0].detail
    # The same signature on an ordinary VIP mail is no exception; the addressee's own is none.
    assert kinds(mail(*delivered, reasons=("vip",), signed_by="同事李明代收")) == set()
    assert kinds(mail(*delivered, reasons=("te_an",), signed_by="本人签收")) == set()


def test_the_shipped_configuration_has_thresholds_per_product() -> None:
    config = load_config()
    assert config.thresholds("EMS").no_update_hours < config.thresholds("挂号信").no_update_hours
    assert config.thresholds("未知产品") == config.default
    assert config.quiet == QuietHours()
    assert config.daily_cap >= 1


def test_quiet_hours_span_midnight() -> None:
    quiet = QuietHours()
    assert quiet.next_allowed(datetime(2025, 6, 10, 22, 30)) == datetime(2025, 6, 11, 8, 0)
    assert quiet.next_allowed(datetime(2025, 6, 10, 6, 0)) == datetime(2025, 6, 10, 8, 0)
    assert quiet.next_allowed(datetime(2025, 6, 10, 12, 0)) == datetime(2025, 6, 10, 12, 0)


def test_a_bad_configuration_names_the_entry(tmp_path) -> None:
    bad = tmp_path / "t.yml"
    bad.write_text("default: {no_scan_hours: -1, no_update_hours: 2, station_hours: 3}\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="default: no_scan_hours"):
        load_config(bad)
