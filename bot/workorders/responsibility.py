"""Suggested responsibility (判责) for a complaint work order, read from the mail's tracking trail.

The rules are those of domain.md, "Responsibility": the unit at fault is usually where the mail
stopped moving, where it was last scanned before the damage was reported, or who delivered it.
A suggestion is only a starting point: the agent confirms or changes it, so every suggestion says
which scans it rests on and how sure the trail makes it.

All times are naive Beijing time, as in the store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from bot.store.status import Category, StatusCode, label_of
from bot.text.masking import mask_signer


@dataclass(frozen=True)
class TrailEvent:
    """One scan of a mail item."""

    occurred_at: datetime
    place: str
    unit: str
    status_code: str
    description: str


@dataclass(frozen=True)
class MailFacts:
    """What the trail-based rules need to know about a mail item; `trail` is oldest first."""

    number: str
    product: str
    status_code: str
    sender_area: str
    recipient_area: str
    posted_at: datetime
    promised_by: datetime | None
    insured_value: Decimal | None
    postage: Decimal
    signed_by: str | None
    trail: tuple[TrailEvent, ...]


@dataclass(frozen=True)
class WorkOrderFacts:
    """A work order as the drafting rules see it; phone and description are raw."""

    number: str
    channel: str
    category: str
    mail_number: str | None
    customer_phone: str | None
    description: str
    opened_at: datetime
    deadline: datetime
    priority: str


class Role(str, Enum):
    """The link of the postal chain a suggestion blames."""

    COLLECTING_OUTLET = "collecting_outlet"
    PROCESSING_CENTRE = "processing_centre"
    TRANSPORT = "transport"
    DELIVERING_OUTLET = "delivering_outlet"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """The Chinese name of the link (收寄网点, 处理中心, ...)."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.COLLECTING_OUTLET: "收寄网点",
    Role.PROCESSING_CENTRE: "处理中心",
    Role.TRANSPORT: "运输环节",
    Role.DELIVERING_OUTLET: "投递网点",
    Role.UNKNOWN: "待定",
}


class Confidence(str, Enum):
    """How firmly the trail supports a suggestion."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        """高, 中 or 低."""
        return {"high": "高", "medium": "中", "low": "低"}[self.value]


@dataclass(frozen=True)
class ResponsibilitySuggestion:
    """The unit the trail points at, for the agent to confirm or change.

    Attributes:
        unit: the unit (or transport leg) suggested, None when the trail cannot tell.
        role: a `Role` value.
        reason: one Chinese sentence explaining the suggestion.
        evidence: the trail lines that support it.
        confidence: a `Confidence` value.
    """

    unit: str | None
    role: str
    reason: str
    evidence: tuple[TrailEvent, ...]
    confidence: str


@dataclass(frozen=True)
class ResponsibilityRules:
    """Thresholds of the rules; callers pass the configured values.

    Attributes:
        stalled_high_hours: a mail without a new scan for this long is firmly stuck where it is.
        stalled_medium_hours: below this, a quiet mail may still be moving normally (low
            confidence).
    """

    stalled_high_hours: float = 24.0
    stalled_medium_hours: float = 12.0


DEFAULT_RULES = ResponsibilityRules()

_CENTRE_MARKERS = ("中心局", "处理中心", "分拨中心", "集散中心", "转运中心")
_DELIVERY_STATUSES = frozenset({
    StatusCode.OUT_FOR_DELIVERY.value, StatusCode.DELIVERED.value,
    StatusCode.AT_STATION.value, StatusCode.FAILED.value,
})
_MOVING_STATUSES = frozenset({StatusCode.DEPARTED.value, StatusCode.IN_TRANSIT.value})
_NEXT_STOP_RE = re.compile(r"(?:下一站|运往|发往)【([^】]+)】")
# Words of a scan that records damage or a short item; "无破损", "未见破损" say the opposite.
_DAMAGE_RE = re.compile(r"破损|损毁|受损|破裂|短少|拆封|重量不符")
_NEGATIONS = ("无", "未", "没", "不见")

# Words that place an attitude or fee complaint at the sender's or the recipient's end.
_SENDER_WORDS = ("寄件", "收寄", "揽收", "揽件", "上门取件", "寄快递", "寄包裹", "寄东西",
                 "营业厅", "柜台", "包装费")
_RECIPIENT_WORDS = ("投递", "派送", "派件", "送货", "送件", "取件码", "驿站", "快递柜", "包裹柜",
                    "签收", "送上门", "到付", "投递员", "不送", "代收")


def is_centre(unit: str) -> bool:
    """True when the unit is a processing centre (邮区中心局 and the like), not an outlet."""
    return any(marker in unit for marker in _CENTRE_MARKERS)


def status_label(status_code: str) -> str:
    """The customer-facing label of a status code, or the code itself when it is unknown."""
    return label_of(StatusCode, status_code)


def clock(moment: datetime) -> str:
    """A scan time as agents read it in evidence and notes: 2026-11-26 13:20.

    Deliberately not `bot.text.dates.customer_moment` ("11月26日 13:20"): these lines are for
    agents comparing scans across days and years, never shown to a customer.
    """
    return moment.strftime("%Y-%m-%d %H:%M")


def hours_between(start: datetime, end: datetime) -> float:
    """The hours from `start` to `end` (negative when `end` comes first)."""
    return (end - start).total_seconds() / 3600


def _collecting_unit(trail: tuple[TrailEvent, ...]) -> str | None:
    for event in trail:
        if event.status_code == StatusCode.POSTED.value:
            return event.unit
    return None


def _role_of(event: TrailEvent, collecting_unit: str | None) -> Role:
    if event.status_code in _DELIVERY_STATUSES:
        return Role.DELIVERING_OUTLET
    if is_centre(event.unit):
        return Role.PROCESSING_CENTRE
    if event.unit == collecting_unit:
        return Role.COLLECTING_OUTLET
    return Role.DELIVERING_OUTLET


def _suggest(unit: str | None, role: Role, reason: str, evidence: tuple[TrailEvent, ...],
             confidence: Confidence) -> ResponsibilitySuggestion:
    return ResponsibilitySuggestion(unit, role.value, reason, evidence, confidence.value)


def _unknown(reason: str, evidence: tuple[TrailEvent, ...] = ()) -> ResponsibilitySuggestion:
    return _suggest(None, Role.UNKNOWN, reason, evidence, Confidence.LOW)


def next_stop(event: TrailEvent) -> str | None:
    """The next stop a scan announces (下一站/运往/发往【...】), or None when it names none."""
    match = _NEXT_STOP_RE.search(event.description)
    return match.group(1) if match else None


def transport_leg(origin: str, destination: str | None) -> str:
    """The name of a transport leg: 昆明邮区中心局至西双版纳州邮区中心局运输段."""
    if destination:
        return f"{origin}至{destination}运输段"
    return f"{origin}发出后的运输段"


def _stall_confidence(hours: float, rules: ResponsibilityRules) -> Confidence:
    if hours >= rules.stalled_high_hours:
        return Confidence.HIGH
    if hours >= rules.stalled_medium_hours:
        return Confidence.MEDIUM
    return Confidence.LOW


def _where_it_stopped(category: Category, mail: MailFacts, trail: tuple[TrailEvent, ...],
                      now: datetime, rules: ResponsibilityRules) -> ResponsibilitySuggestion:
    """Delay and loss: the unit (or transport leg) where the mail stopped moving."""
    last = trail[-1]
    collecting = _collecting_unit(trail)
    if last.status_code == StatusCode.DELIVERED.value and category is Category.LOST:
        signer = f"（签收人：{mask_signer(mail.signed_by)}）" if mail.signed_by else ""
        return _suggest(
            last.unit, Role.DELIVERING_OUTLET,
            f"轨迹显示邮件已于{clock(last.occurred_at)}由{last.unit}投递签收{signer}而客户称未收到，"
            "应先核查该投递网点是否存在虚假签收或错投。",
            (last,), Confidence.MEDIUM,
        )
    if last.status_code == StatusCode.RETURNED.value and category is Category.LOST:
        return _suggest(
            last.unit, _role_of(last, collecting),
            f"轨迹显示邮件已于{clock(last.occurred_at)}退回{last.unit}并由寄件人签收，"
            "客户称丢失，需先核实寄件人是否已领回。",
            (last,), Confidence.LOW,
        )
    finished = (StatusCode.DELIVERED.value, StatusCode.RETURNED.value)
    if last.status_code in finished and len(trail) > 1:
        return _longest_wait(trail, collecting, rules)

    stalled = max(hours_between(last.occurred_at, now), 0.0)
    confidence = _stall_confidence(stalled, rules)
    caveat = "，但间隔尚短，邮件也可能仍在正常流转" if confidence is Confidence.LOW else ""
    if last.status_code in _MOVING_STATUSES:
        destination = next_stop(last)
        towards = f"到达{destination}" if destination else "到达下一站"
        return _suggest(
            transport_leg(last.unit, destination), Role.TRANSPORT,
            f"邮件于{clock(last.occurred_at)}从{last.unit}发出后已{stalled:.0f}小时没有{towards}的扫描，"
            f"停滞在两地之间的运输环节{caveat}。",
            (last,), confidence,
        )
    if last.status_code == StatusCode.AT_STATION.value:
        confidence = Confidence.MEDIUM
        caveat = "，邮件已到代收点，需核实是否通知了收件人"
    return _suggest(
        last.unit, _role_of(last, collecting),
        f"邮件于{clock(last.occurred_at)}在{last.unit}“{status_label(last.status_code)}”后"
        f"已{stalled:.0f}小时没有新的扫描，停在该单位{caveat}。",
        (last,), confidence,
    )


def _longest_wait(trail: tuple[TrailEvent, ...], collecting: str | None,
                  rules: ResponsibilityRules) -> ResponsibilitySuggestion:
    """A finished trail: the delay most likely sits in the longest gap between two scans."""
    before, after = max(zip(trail, trail[1:]),
                        key=lambda pair: pair[1].occurred_at - pair[0].occurred_at)
    gap = hours_between(before.occurred_at, after.occurred_at)
    # Gaps include normal transport times, so a finished trail never gives more than medium.
    confidence = Confidence.MEDIUM if gap >= rules.stalled_high_hours else Confidence.LOW
    finished = status_label(trail[-1].status_code)
    if before.status_code in _MOVING_STATUSES and after.unit != before.unit:
        unit, role = transport_leg(before.unit, after.unit), Role.TRANSPORT
    else:
        unit, role = before.unit, _role_of(before, collecting)
    return _suggest(
        unit, role,
        f"邮件已{finished}，全程间隔最长的是{clock(before.occurred_at)}至{clock(after.occurred_at)}"
        f"的{gap:.0f}小时，延误最可能发生在{unit}。",
        (before, after), confidence,
    )


def damage_word(description: str) -> str | None:
    """The first word of a scan description recording damage (破损, 短少, ...), unless negated."""
    for found in _DAMAGE_RE.finditer(description):
        before = description[max(0, found.start() - 4):found.start()]
        if not any(negation in before for negation in _NEGATIONS):
            return found.group(0)
    return None


def _last_before_damage(category: Category, order: WorkOrderFacts,
                        trail: tuple[TrailEvent, ...]) -> ResponsibilitySuggestion:
    """Damage and missing contents: the unit that first recorded damage, else the last before."""
    collecting = _collecting_unit(trail)
    what = "破损" if category is Category.DAMAGED else "短少或拆封"
    for event in trail:
        found = damage_word(event.description)
        if found:
            return _suggest(
                event.unit, _role_of(event, collecting),
                f"{event.unit}于{clock(event.occurred_at)}的扫描首次记录了异常（{found}），"
                "损失最可能在该单位或其上一交接环节发生。",
                (event,), Confidence.HIGH,
            )
    earlier = [event for event in trail if event.occurred_at <= order.opened_at]
    if not earlier:
        return _unknown(f"投诉受理前邮件没有任何扫描记录，无法从轨迹判断{what}发生在哪个环节。")
    last = earlier[-1]
    return _suggest(
        last.unit, _role_of(last, collecting),
        f"投诉受理前最后扫描邮件的是{last.unit}（{clock(last.occurred_at)}“{status_label(last.status_code)}”），"
        f"各环节交接均未记录{what}，按交接验视规则由最后经手的单位先行核查。",
        (last,), Confidence.MEDIUM,
    )


def _delivering_outlet(mail: MailFacts,
                       trail: tuple[TrailEvent, ...]) -> ResponsibilitySuggestion:
    """Delivery service and false 'signed': the outlet that delivered, left it, or signed."""
    for wanted, confidence in (
        ((StatusCode.DELIVERED.value, StatusCode.AT_STATION.value), Confidence.HIGH),
        ((StatusCode.FAILED.value, StatusCode.OUT_FOR_DELIVERY.value), Confidence.MEDIUM),
    ):
        scans = [event for event in trail if event.status_code in wanted]
        if scans:
            scan = scans[-1]
            signer = ""
            if scan.status_code == StatusCode.DELIVERED.value and mail.signed_by:
                signer = f"，签收人为“{mask_signer(mail.signed_by)}”"
            return _suggest(
                scan.unit, Role.DELIVERING_OUTLET,
                f"邮件于{clock(scan.occurred_at)}由{scan.unit}“{status_label(scan.status_code)}”{signer}，"
                "投递环节由该网点负责。",
                (scan,), confidence,
            )
    collecting = _collecting_unit(trail)
    last = trail[-1]
    if not is_centre(last.unit) and last.unit != collecting:
        return _suggest(
            last.unit, Role.DELIVERING_OUTLET,
            f"轨迹中还没有投递扫描，邮件最后于{clock(last.occurred_at)}到达{last.unit}，该网点应为投递网点。",
            (last,), Confidence.LOW,
        )
    return _unknown(
        f"轨迹中还没有任何投递环节的扫描（最后一条是{clock(last.occurred_at)}{last.unit}“{status_label(last.status_code)}”），"
        "无法确定投递网点。",
        (last,),
    )


def _collecting_outlet(trail: tuple[TrailEvent, ...]) -> ResponsibilitySuggestion:
    """Pickup and counter service: the outlet that posted the mail."""
    for event in trail:
        if event.status_code == StatusCode.POSTED.value:
            return _suggest(
                event.unit, Role.COLLECTING_OUTLET,
                f"邮件于{clock(event.occurred_at)}由{event.unit}收寄，收寄服务由该网点负责。",
                (event,), Confidence.HIGH,
            )
    first = trail[0]
    return _suggest(
        first.unit, _role_of(first, None),
        f"轨迹中没有收寄扫描，最早一条是{clock(first.occurred_at)}{first.unit}的扫描，暂按该单位核查。",
        (first,), Confidence.LOW,
    )


def _customer_side(description: str, trail: tuple[TrailEvent, ...]) -> str:
    """"recipient" or "sender": which end of the chain the customer dealt with."""
    sender = sum(word in description for word in _SENDER_WORDS)
    recipient = sum(word in description for word in _RECIPIENT_WORDS)
    if sender != recipient:
        return "sender" if sender > recipient else "recipient"
    delivered = any(event.status_code in _DELIVERY_STATUSES for event in trail)
    return "recipient" if delivered else "sender"


def _nearest_customer(category: Category, order: WorkOrderFacts,
                      trail: tuple[TrailEvent, ...]) -> ResponsibilitySuggestion:
    """Attitude, fees and data leaks: the outlet the customer dealt with, always low confidence."""
    what = {
        Category.ATTITUDE: "服务态度问题",
        Category.IMPROPER_FEE: "收费问题",
        Category.DATA_LEAK: "信息泄露问题",
    }[category]
    side = _customer_side(order.description, trail)
    if side == "recipient":
        scans = [event for event in trail if event.status_code in _DELIVERY_STATUSES]
        if scans:
            scan = scans[-1]
            return _suggest(
                scan.unit, Role.DELIVERING_OUTLET,
                f"{what}无法从轨迹直接判定，客户接触的是投递端，暂按{clock(scan.occurred_at)}"
                f"“{status_label(scan.status_code)}”的{scan.unit}核查。",
                (scan,), Confidence.LOW,
            )
    posted = [event for event in trail if event.status_code == StatusCode.POSTED.value]
    scan = posted[0] if posted else trail[0]
    role = Role.COLLECTING_OUTLET if posted else _role_of(scan, None)
    return _suggest(
        scan.unit, role,
        f"{what}无法从轨迹直接判定，客户接触的是收寄端，暂按{clock(scan.occurred_at)}"
        f"“{status_label(scan.status_code)}”的{scan.unit}核查。",
        (scan,), Confidence.LOW,
    )


def _current_unit(trail: tuple[TrailEvent, ...]) -> ResponsibilitySuggestion:
    """Other complaints: the unit that holds the mail now, as a place to start asking."""
    last = trail[-1]
    return _suggest(
        last.unit, _role_of(last, _collecting_unit(trail)),
        f"其他类投诉无法从轨迹判责，暂由邮件当前所在的{last.unit}（{clock(last.occurred_at)}"
        f"“{status_label(last.status_code)}”）先行了解情况。",
        (last,), Confidence.LOW,
    )


def suggest_responsibility(order: WorkOrderFacts, mail: MailFacts | None, now: datetime,
                           rules: ResponsibilityRules = DEFAULT_RULES) -> ResponsibilitySuggestion:
    """Suggest the unit responsible for a complaint from the mail's tracking trail.

    Args:
        order: the work order; its category chooses the rule.
        mail: the mail it concerns, None when the order names no (known) mail.
        now: the current time, to tell how long a mail has been standing still.
        rules: the configured thresholds.

    Returns:
        The suggested unit, its role, a one-sentence reason, the supporting scans and a confidence.
    """
    category = Category(order.category)
    if mail is None:
        if order.mail_number:
            return _unknown(f"系统中查不到邮件{order.mail_number}的信息，"
                            "无法从轨迹判责，需人工核实。")
        return _unknown("工单没有关联邮件号，无法从轨迹判责，需根据投诉内容人工核实。")
    trail = tuple(sorted(mail.trail, key=lambda event: event.occurred_at))
    if not trail:
        return _unknown(f"邮件{mail.number}还没有任何扫描记录，"
                        "无法从轨迹判责，需联系收寄网点人工核实。")

    if category in (Category.DELAY, Category.LOST):
        return _where_it_stopped(category, mail, trail, now, rules)
    if category in (Category.DAMAGED, Category.CONTENTS_MISSING):
        return _last_before_damage(category, order, trail)
    if category is Category.DELIVERY_SERVICE:
        return _delivering_outlet(mail, trail)
    if category is Category.PICKUP_SERVICE:
        return _collecting_outlet(trail)
    if category in (Category.ATTITUDE, Category.IMPROPER_FEE, Category.DATA_LEAK):
        return _nearest_customer(category, order, trail)
    return _current_unit(trail)
