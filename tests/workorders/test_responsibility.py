from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from bot.store import seed
from bot.store.models import MailItem
from bot.store.status import Category, StatusCode
from bot.workorders.responsibility import (
    MailFacts,
    ResponsibilityRules,
    ResponsibilitySuggestion,
    TrailEvent,
    WorkOrderFacts,
    damage_word,
    suggest_responsibility,
)

NOW = datetime(2026, 11, 26, 14, 0)
KUNMING = "昆明邮区中心局"
QUJING = "曲靖邮区中心局"
BANNA = "西双版纳州邮区中心局"
CUIHU = "昆明市五华区邮政分公司翠湖营业部"
HONGQIAO = "宣威市邮政分公司虹桥营业部"


def scan(hours_ago: float, status: StatusCode, unit: str, text: str = "", place: str | None = None) -> TrailEvent:
    text = text or f"【{unit}】{status.label}"
    return TrailEvent(NOW - timedelta(hours=hours_ago), place or unit, unit, status.value, text)


def mail(*trail: TrailEvent, status: StatusCode | None = None, signed_by: str | None = None,
         product: str = "EMS", number: str = "EA305127681CN") -> MailFacts:
    last = trail[-1].status_code if trail else StatusCode.POSTED.value
    return MailFacts(
        number=number, product=product, status_code=status.value if status else last,
        sender_area="五华区", recipient_area="宣威市", posted_at=NOW - timedelta(days=3),
        promised_by=None, insured_value=None, postage=Decimal("18.00"), signed_by=signed_by,
        trail=tuple(trail),
    )


def order(category: Category, description: str = "", opened_hours_ago: float = 1,
          mail_number: str | None = "EA305127681CN") -> WorkOrderFacts:
    opened = NOW - timedelta(hours=opened_hours_ago)
    return WorkOrderFacts(
        number="GD20261126-0007", channel="wechat", category=category.value, mail_number=mail_number,
        customer_phone="13812345678", description=description, opened_at=opened,
        deadline=opened + timedelta(hours=24), priority="normal",
    )


# A parcel from 翠湖 (Kunming) to 宣威, delivered by the 虹桥 outlet.
DELIVERED_TRAIL = (
    scan(80, StatusCode.POSTED, CUIHU, "【昆明市五华区邮政分公司翠湖营业部】已收寄，揽投员：杨志刚，电话：13708712345"),
    scan(76, StatusCode.ARRIVED, KUNMING),
    scan(70, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【{QUJING}】"),
    scan(30, StatusCode.ARRIVED, QUJING),
    scan(26, StatusCode.DEPARTED, QUJING, f"【{QUJING}】已发出，下一站【{HONGQIAO}】"),
    scan(10, StatusCode.ARRIVED, HONGQIAO),
    scan(8, StatusCode.OUT_FOR_DELIVERY, HONGQIAO),
    scan(6, StatusCode.DELIVERED, HONGQIAO, "【宣威市邮政分公司虹桥营业部】已妥投，签收人：同事李明代收"),
)


def one_sentence(suggestion: ResponsibilitySuggestion) -> bool:
    return suggestion.reason.endswith("。") and suggestion.reason.count("。") == 1


# --- delay and lost: where the mail stopped moving ---------------------------------------------

def test_delay_points_at_the_centre_where_the_mail_stopped() -> None:
    trail = (scan(125, StatusCode.POSTED, CUIHU), scan(118, StatusCode.ARRIVED, QUJING),
             scan(112, StatusCode.DEPARTED, QUJING, f"【{QUJING}】已发出，下一站【{KUNMING}】"),
             scan(96, StatusCode.ARRIVED, KUNMING))
    result = suggest_responsibility(order(Category.DELAY), mail(*trail), NOW)
    assert (result.unit, result.role, result.confidence) == (KUNMING, "processing_centre", "high")
    assert result.evidence == (trail[-1],)
    assert "96小时" in result.reason and one_sentence(result)


def test_a_recent_last_scan_gives_low_confidence() -> None:
    trail = (scan(30, StatusCode.POSTED, CUIHU), scan(24, StatusCode.ARRIVED, KUNMING),
             scan(21, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【{BANNA}】"),
             scan(4, StatusCode.ARRIVED, BANNA))
    result = suggest_responsibility(order(Category.DELAY), mail(*trail), NOW)
    assert (result.unit, result.confidence) == (BANNA, "low")
    assert "正常流转" in result.reason


def test_departed_and_never_arrived_blames_the_transport_leg() -> None:
    departed = scan(30, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【{BANNA}】")
    trail = (scan(40, StatusCode.POSTED, CUIHU), scan(36, StatusCode.ARRIVED, KUNMING), departed)
    result = suggest_responsibility(order(Category.LOST), mail(*trail), NOW)
    assert result.role == "transport"
    assert result.unit == f"{KUNMING}至{BANNA}运输段"
    assert result.confidence == "high"
    assert result.evidence == (departed,)
    assert BANNA in result.reason and one_sentence(result)


def test_in_transit_leg_is_read_from_the_description() -> None:
    moving = scan(14, StatusCode.IN_TRANSIT, KUNMING, f"【{KUNMING}】已发出，正在运往【保山邮区中心局】，运输途中")
    result = suggest_responsibility(order(Category.DELAY), mail(scan(30, StatusCode.POSTED, CUIHU), moving), NOW)
    assert (result.role, result.unit, result.confidence) == ("transport", f"{KUNMING}至保山邮区中心局运输段", "medium")


def test_thresholds_come_from_the_rules() -> None:
    trail = (scan(30, StatusCode.POSTED, CUIHU), scan(4, StatusCode.ARRIVED, BANNA))
    strict = ResponsibilityRules(stalled_high_hours=3, stalled_medium_hours=2)
    assert suggest_responsibility(order(Category.DELAY), mail(*trail), NOW, strict).confidence == "high"


def test_lost_but_delivered_suspects_the_delivering_outlet_and_masks_the_signer() -> None:
    result = suggest_responsibility(order(Category.LOST), mail(*DELIVERED_TRAIL, signed_by="同事李明代收"), NOW)
    assert (result.unit, result.role, result.confidence) == (HONGQIAO, "delivering_outlet", "medium")
    assert result.evidence == (DELIVERED_TRAIL[-1],)
    assert "同事李*代收" in result.reason and "李明" not in result.reason


def test_delay_of_a_delivered_mail_points_at_the_longest_wait() -> None:
    result = suggest_responsibility(order(Category.DELAY), mail(*DELIVERED_TRAIL), NOW)
    # 70h -> 30h: 40 hours between leaving Kunming and reaching Qujing.
    assert (result.role, result.unit) == ("transport", f"{KUNMING}至{QUJING}运输段")
    assert result.evidence == (DELIVERED_TRAIL[2], DELIVERED_TRAIL[3])
    assert result.confidence == "medium"


def test_lost_but_returned_asks_whether_the_sender_has_it() -> None:
    trail = (scan(288, StatusCode.POSTED, "蒙自市邮政分公司天马路营业部"),
             scan(244, StatusCode.FAILED, "个旧市邮政分公司金湖营业部"),
             scan(50, StatusCode.RETURNED, "蒙自市邮政分公司天马路营业部"))
    result = suggest_responsibility(order(Category.LOST), mail(*trail, product="挂号信"), NOW)
    assert (result.unit, result.role, result.confidence) == ("蒙自市邮政分公司天马路营业部", "collecting_outlet", "low")
    assert "寄件人" in result.reason and one_sentence(result)


# --- damage and missing contents ------------------------------------------------------------

def test_damage_goes_to_the_last_unit_that_scanned_before_the_report() -> None:
    trail = (scan(30, StatusCode.POSTED, CUIHU), scan(24, StatusCode.ARRIVED, KUNMING),
             scan(21, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【{BANNA}】"),
             scan(4, StatusCode.ARRIVED, BANNA, f"【{BANNA}】已到达，正在进行分拣处理"),
             scan(0.5, StatusCode.ARRIVED, "景洪市邮政分公司勐泐大道营业部"))  # after the report
    result = suggest_responsibility(order(Category.DAMAGED, "包裹破了我要投诉", opened_hours_ago=1), mail(*trail), NOW)
    assert (result.unit, result.role, result.confidence) == (BANNA, "processing_centre", "medium")
    assert result.evidence == (trail[3],)
    assert one_sentence(result)


def test_the_first_scan_that_records_damage_wins() -> None:
    first = scan(20, StatusCode.ARRIVED, QUJING, f"【{QUJING}】已到达，外包装破损，已拍照留存")
    trail = (scan(40, StatusCode.POSTED, CUIHU),
             scan(30, StatusCode.ARRIVED, KUNMING, f"【{KUNMING}】已到达，外包装完好，未见破损"),
             first,
             scan(10, StatusCode.ARRIVED, HONGQIAO, f"【{HONGQIAO}】已到达，邮件破损"),
             scan(8, StatusCode.DELIVERED, HONGQIAO))
    result = suggest_responsibility(order(Category.DAMAGED), mail(*trail), NOW)
    assert (result.unit, result.role, result.confidence) == (QUJING, "processing_centre", "high")
    assert result.evidence == (first,)


def test_contents_missing_uses_the_same_rule() -> None:
    result = suggest_responsibility(order(Category.CONTENTS_MISSING, "少了一盒茶叶"), mail(*DELIVERED_TRAIL), NOW)
    assert (result.unit, result.role) == (HONGQIAO, "delivering_outlet")
    assert "短少" in result.reason
    short = scan(9, StatusCode.ARRIVED, HONGQIAO, f"【{HONGQIAO}】已到达，重量不符，疑似短少")
    result = suggest_responsibility(order(Category.CONTENTS_MISSING), mail(*DELIVERED_TRAIL[:5], short), NOW)
    assert (result.evidence, result.confidence) == ((short,), "high")


@pytest.mark.parametrize("text,word", [
    ("外包装破损，已拍照", "破损"), ("邮件外包装无破损", None), ("未见破损，正常交接", None),
    ("邮件重量不符", "重量不符"), ("已到达，正在进行分拣处理", None),
])
def test_damage_words_respect_negation(text: str, word: str | None) -> None:
    assert damage_word(text) == word


# --- delivery, pickup, attitude, fees ---------------------------------------------------------

def test_delivery_service_goes_to_the_outlet_that_delivered() -> None:
    result = suggest_responsibility(order(Category.DELIVERY_SERVICE, "没打电话就说签收了"),
                                    mail(*DELIVERED_TRAIL, signed_by="门卫代收"), NOW)
    assert (result.unit, result.role, result.confidence) == (HONGQIAO, "delivering_outlet", "high")
    assert result.evidence == (DELIVERED_TRAIL[-1],)
    assert "门卫代收" in result.reason


def test_delivery_service_at_a_station() -> None:
    station = scan(20, StatusCode.AT_STATION, "腾冲市邮政分公司和顺营业部", "已投递至【中邮驿站（和顺古镇店）】",
                   place="中邮驿站（和顺古镇店）")
    trail = (scan(50, StatusCode.POSTED, "保山市隆阳区邮政分公司正阳营业部"), scan(46, StatusCode.ARRIVED, "保山邮区中心局"), station)
    result = suggest_responsibility(order(Category.DELIVERY_SERVICE), mail(*trail), NOW)
    assert (result.unit, result.evidence) == ("腾冲市邮政分公司和顺营业部", (station,))


def test_delivery_service_without_a_delivery_scan_is_unknown() -> None:
    trail = (scan(30, StatusCode.POSTED, CUIHU), scan(4, StatusCode.ARRIVED, BANNA))
    result = suggest_responsibility(order(Category.DELIVERY_SERVICE), mail(*trail), NOW)
    assert (result.unit, result.role, result.confidence) == (None, "unknown", "low")


def test_pickup_service_goes_to_the_collecting_outlet() -> None:
    result = suggest_responsibility(order(Category.PICKUP_SERVICE), mail(*DELIVERED_TRAIL), NOW)
    assert (result.unit, result.role, result.confidence) == (CUIHU, "collecting_outlet", "high")
    assert result.evidence == (DELIVERED_TRAIL[0],)


@pytest.mark.parametrize("category,description,trail,unit,role", [
    (Category.ATTITUDE, "投递员态度很差，还骂人", DELIVERED_TRAIL, HONGQIAO, "delivering_outlet"),
    (Category.ATTITUDE, "寄件的时候营业厅的人很不耐烦", DELIVERED_TRAIL, CUIHU, "collecting_outlet"),
    (Category.IMPROPER_FEE, "驿站取件还要收两块钱", DELIVERED_TRAIL, HONGQIAO, "delivering_outlet"),
    (Category.IMPROPER_FEE, "多收了钱", DELIVERED_TRAIL[:4], CUIHU, "collecting_outlet"),
    (Category.DATA_LEAK, "收到快递后就有人打电话推销", DELIVERED_TRAIL, HONGQIAO, "delivering_outlet"),
])
def test_attitude_and_fees_go_to_the_unit_nearest_the_customer_with_low_confidence(
        category: Category, description: str, trail: tuple[TrailEvent, ...], unit: str, role: str) -> None:
    result = suggest_responsibility(order(category, description), mail(*trail), NOW)
    assert (result.unit, result.role, result.confidence) == (unit, role, "low")
    assert one_sentence(result)


def test_other_starts_with_the_unit_holding_the_mail() -> None:
    result = suggest_responsibility(order(Category.OTHER), mail(*DELIVERED_TRAIL[:4]), NOW)
    assert (result.unit, result.confidence) == (QUJING, "low")


# --- nothing to go on -------------------------------------------------------------------------

@pytest.mark.parametrize("category", list(Category))
def test_no_mail_is_unknown_and_says_why(category: Category) -> None:
    result = suggest_responsibility(order(category, mail_number=None), None, NOW)
    assert (result.unit, result.role, result.confidence, result.evidence) == (None, "unknown", "low", ())
    assert "没有关联邮件号" in result.reason and one_sentence(result)


def test_unknown_mail_number_is_named() -> None:
    result = suggest_responsibility(order(Category.DELAY, mail_number="EA999999995CN"), None, NOW)
    assert result.role == "unknown" and "EA999999995CN" in result.reason


@pytest.mark.parametrize("category", list(Category))
def test_empty_trail_is_unknown(category: Category) -> None:
    result = suggest_responsibility(order(category), mail(), NOW)
    assert (result.unit, result.role, result.confidence) == (None, "unknown", "low")
    assert "没有任何扫描记录" in result.reason


def test_trail_order_does_not_matter() -> None:
    shuffled = mail(*reversed(DELIVERED_TRAIL))
    assert suggest_responsibility(order(Category.PICKUP_SERVICE), shuffled, NOW).unit == CUIHU


# --- the demo trails of bot.store.seed --------------------------------------------------------

def _facts(item: MailItem) -> MailFacts:
    return MailFacts(
        number=item.number, product=item.product, status_code=item.status,
        sender_area=item.sender_area, recipient_area=item.recipient_area, posted_at=item.posted_at,
        promised_by=item.promised_by, insured_value=item.insured_value, postage=item.postage,
        signed_by=item.signed_by,
        trail=tuple(TrailEvent(e.occurred_at, e.place, e.unit, e.status_code, e.description) for e in item.events),
    )


@pytest.mark.parametrize("number,category,unit,role,confidence", [
    (seed.STUCK_AT_KUNMING, Category.DELAY, seed.KUNMING, "processing_centre", "high"),
    ("9978120346651", Category.DELAY, f"{seed.KUNMING}至{seed.BAOSHAN}运输段", "transport", "medium"),
    (seed.DELIVERED_TO_GATEKEEPER, Category.DELIVERY_SERVICE, HONGQIAO, "delivering_outlet", "high"),
    (seed.AT_STATION_TENGCHONG, Category.PICKUP_SERVICE, "保山市隆阳区邮政分公司正阳营业部", "collecting_outlet", "high"),
    (seed.IN_TRANSIT_TO_JINGHONG, Category.DAMAGED, seed.BANNA, "processing_centre", "medium"),
])
def test_demo_trails(number: str, category: Category, unit: str, role: str, confidence: str) -> None:
    item = next(m for m in seed.demo_mail(NOW) if m.number == number)
    result = suggest_responsibility(order(category, mail_number=number), _facts(item), NOW)
    assert (result.unit, result.role, result.confidence) == (unit, role, confidence)
