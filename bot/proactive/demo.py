"""Demo data of the proactive service (what `make run` seeds): three VIP customers, 特安 mail, a
身份证 batch and a 法院文书 batch, several of them with exceptions, so a new user sees tasks at
once. Most watched mail is the store's demo mail (`bot.store.seed`); two more items are added
here: an ID card never scanned since posting and a court document missorted to Baoshan.

Idempotent: customers by name, watched mail by number and reason; ``refresh`` re-times the two
items added here (the store's demo mail is re-timed by its own seed).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.store.models import MailItem, TrackingEvent, as_store_time
from bot.store.proactive import VipRecord, WatchEntry, save_vips, vip_ids_by_name, watch
from bot.store.seed import (
    AT_STATION_TENGCHONG,
    BAOSHAN,
    DELIVERED_TO_GATEKEEPER,
    IN_TRANSIT_TO_JINGHONG,
    KUNMING,
    QUJING,
    RETURNED_TO_MENGZI,
    STUCK_AT_KUNMING_VALID,
)
from bot.store.uow import UowFactory
from bot.text.tracking import make_s10

ID_CARD_NOT_SCANNED = make_s10("RR", "60010001")
COURT_PAPER_MISSORTED = make_s10("RR", "60020002")

BAIYAO = "云南白药集团电商部"
COURT = "曲靖市麒麟区人民法院"
TEA = "勐海县茶叶合作社"


def demo_vips() -> list[VipRecord]:
    """The demo VIP customers (invented contacts; two agreed to notices)."""
    return [
        VipRecord(BAIYAO, "李华", "13800871111", "昆明市五华区邮政分公司", "王磊",
                  openid="oDEMO_vip_baiyao_000001", consent=True),
        VipRecord(COURT, "孙静", "13908742222", "曲靖市麒麟区邮政分公司", "赵敏",
                  openid="oDEMO_vip_court_0000002", consent=True),
        VipRecord(TEA, "岩温", "13988143333", "勐海县邮政分公司", "刀国华", consent=False),
    ]


@dataclass(frozen=True)
class DemoSeed:
    """What seeding did."""

    vips_added: int
    mail_added: int
    watched_added: int


def _items(now: datetime) -> list[MailItem]:
    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    outlet = "曲靖市麒麟区邮政分公司南宁营业部"
    return [
        MailItem(number=ID_CARD_NOT_SCANNED, product="挂号信", sender_area="麒麟区",
                 sender_prefecture="曲靖市", recipient_area="宣威市", recipient_prefecture="曲靖市",
                 recipient_name="浦建国", recipient_phone="13887451234",
                 recipient_address="宣威市宛水街道建设路12号", posted_at=ago(60),
                 postage=Decimal("4.20"), weight_g=20, status="POSTED", events=[]),
        MailItem(number=COURT_PAPER_MISSORTED, product="挂号信", sender_area="麒麟区",
                 sender_prefecture="曲靖市", recipient_area="景洪市",
                 recipient_prefecture="西双版纳傣族自治州", recipient_name="玉香",
                 recipient_phone="13988175566", recipient_address="景洪市勐泐大道66号",
                 posted_at=ago(40), postage=Decimal("4.20"), weight_g=30, status="ARRIVED",
                 events=[
                     TrackingEvent(occurred_at=ago(40), place="曲靖市麒麟区", unit=outlet,
                                   status_code="POSTED", description=f"【{outlet}】已收寄"),
                     TrackingEvent(occurred_at=ago(37), place="曲靖市麒麟区", unit=outlet,
                                   status_code="DEPARTED",
                                   description=f"【{outlet}】已发出，下一站【{QUJING}】"),
                     TrackingEvent(occurred_at=ago(33), place=QUJING, unit=QUJING,
                                   status_code="ARRIVED",
                                   description=f"【{QUJING}】已到达，正在进行分拣处理"),
                     TrackingEvent(occurred_at=ago(28), place=QUJING, unit=QUJING,
                                   status_code="DEPARTED",
                                   description=f"【{QUJING}】已发出，下一站【{KUNMING}】"),
                     TrackingEvent(occurred_at=ago(18), place=KUNMING, unit=KUNMING,
                                   status_code="ARRIVED",
                                   description=f"【{KUNMING}】已到达，正在进行分拣处理"),
                     TrackingEvent(occurred_at=ago(14), place=KUNMING, unit=KUNMING,
                                   status_code="DEPARTED",
                                   description=f"【{KUNMING}】已发出，下一站【西双版纳州邮区中心局】"),
                     TrackingEvent(occurred_at=ago(6), place=BAOSHAN, unit=BAOSHAN,
                                   status_code="ARRIVED",
                                   description=f"【{BAOSHAN}】已到达，正在进行分拣处理"),
                 ]),
    ]


def _watch_list(vips: dict[str, int]) -> list[WatchEntry]:
    baiyao, court, tea = vips[BAIYAO], vips[COURT], vips[TEA]
    return [
        # The VIP customers' mail.
        WatchEntry(IN_TRANSIT_TO_JINGHONG, "vip", vip_id=baiyao),
        WatchEntry(STUCK_AT_KUNMING_VALID, "vip", vip_id=baiyao),   # no update, overdue
        WatchEntry("EE520183743CN", "vip", vip_id=baiyao),          # delivery failed
        WatchEntry("9912873460159", "vip", vip_id=baiyao),
        WatchEntry(AT_STATION_TENGCHONG, "vip", vip_id=tea),
        WatchEntry("9806152347718", "vip", vip_id=tea),             # on its way back
        # 特安 mail: it must be signed by the addressee.
        WatchEntry(DELIVERED_TO_GATEKEEPER, "te_an"),               # 门卫代收
        WatchEntry("EA305127681CN", "te_an"),                       # the addressee signed
        WatchEntry("1172039845806", "te_an"),                       # a colleague signed
        WatchEntry("RR406172897CN", "te_an"),                       # the mail room signed
        # Key projects.
        WatchEntry(ID_CARD_NOT_SCANNED, "project", project="身份证"),
        WatchEntry("RR258039147CN", "project", project="身份证"),
        WatchEntry("9845902716634", "project", project="身份证"),
        WatchEntry(RETURNED_TO_MENGZI, "project", project="法院文书", vip_id=court),
        WatchEntry(COURT_PAPER_MISSORTED, "project", project="法院文书", vip_id=court),
    ]


def seed_demo(uow_factory: UowFactory, now: datetime, refresh: bool = False) -> DemoSeed:
    """Seed the demo customers, the two extra mail items and the watch list (see module doc).

    The store's demo mail (`bot.store.seed.seed_demo_mail`) should be seeded first; a watched
    number the store does not know is watched all the same (and found "not scanned" later).
    """
    now = as_store_time(now)
    before = len(vip_ids_by_name(uow_factory))
    save_vips(uow_factory, [v for v in demo_vips()
                            if v.name not in vip_ids_by_name(uow_factory)], now)
    vips = vip_ids_by_name(uow_factory)
    mail_added = 0
    with uow_factory() as uow:
        for item in _items(now):
            existing = uow.mail.get_by_number(item.number)
            if existing is not None and not refresh:
                continue
            if existing is not None:
                uow.mail.remove(existing)
            else:
                mail_added += 1
            uow.mail.add(item)
        uow.commit()
    watched = watch(uow_factory, _watch_list(vips), now)
    return DemoSeed(len(vips) - before, mail_added, watched)
