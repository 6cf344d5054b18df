"""The exceptions (异常) the proactive scan looks for in a watched mail's trail: plain functions.

Each rule reads one `WatchedTrail` (the mail, its scans oldest first, why it is watched) and
returns a `Finding` or None. An exception holds as long as its rule still finds it: when the
trail comes right (a new scan, the delivery, a later arrival on route) the rule finds nothing
and the scan closes the task as recovered. Returned mail and a 特安 mail signed by someone other
than the addressee never come right by themselves: an agent resolves them.

All times are naive Beijing time, as in the store.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable, Optional

from bot.proactive.config import ProductThresholds
from bot.store.status import StatusCode
from bot.text.masking import mask_signer
from bot.workorders.responsibility import (
    TrailEvent,
    clock,
    hours_between,
    is_centre,
    next_stop,
)

S = StatusCode


class Exception_(str, Enum):
    """The exceptions a proactive task is opened for (domain.md, "Tracking exceptions")."""

    NO_SCAN = "no_scan"
    NO_UPDATE = "no_update"
    OVERDUE = "overdue"
    DELIVERY_FAILED = "delivery_failed"
    REFUSED = "refused"
    RETURNED = "returned"
    MISSORTED = "missorted"
    STATION = "station"
    SIGNED_BY_OTHER = "signed_by_other"

    @property
    def label(self) -> str:
        """The Chinese name agents know it by (发货无信息, 超时未更新, ...)."""
        return _LABELS[self]


_LABELS = {
    Exception_.NO_SCAN: "发货无信息",
    Exception_.NO_UPDATE: "超时未更新",
    Exception_.OVERDUE: "超时未签收",
    Exception_.DELIVERY_FAILED: "派件异常",
    Exception_.REFUSED: "拒收",
    Exception_.RETURNED: "退回",
    Exception_.MISSORTED: "错分",
    Exception_.STATION: "驿站超时未取",
    Exception_.SIGNED_BY_OTHER: "特安邮件非本人签收",
}


class WatchReason(str, Enum):
    """Why a mail is watched."""

    VIP = "vip"
    TE_AN = "te_an"
    PROJECT = "project"

    @property
    def label(self) -> str:
        """大客户, 特安 or 重点项目."""
        return {"vip": "大客户", "te_an": "特安", "project": "重点项目"}[self.value]


@dataclass(frozen=True)
class WatchedTrail:
    """A watched mail as the rules see it.

    Attributes:
        mail_number: the number watched.
        reasons: why it is watched (`WatchReason` values).
        watched_since: when it was put on watch (the clock of "no scan" when the store does
            not know the mail yet).
        product: EMS, 邮政快递包裹, 挂号信, ... (None when the mail is not in the store).
        posted_at: when it was posted, if known.
        promised_by: the promised delivery time, if any.
        recipient_name: the addressee (raw), for the 特安 signature check.
        signed_by: who signed, as the store has it.
        trail: the scans, oldest first.
    """

    mail_number: str
    reasons: frozenset[str]
    watched_since: datetime
    product: Optional[str] = None
    posted_at: Optional[datetime] = None
    promised_by: Optional[datetime] = None
    recipient_name: Optional[str] = None
    signed_by: Optional[str] = None
    trail: tuple[TrailEvent, ...] = ()

    @property
    def last(self) -> TrailEvent | None:
        """The latest scan, if any."""
        return self.trail[-1] if self.trail else None

    @property
    def delivered(self) -> bool:
        """Delivered to the addressee (the latest scan says so)."""
        return self.last is not None and self.last.status_code == S.DELIVERED.value


@dataclass(frozen=True)
class Finding:
    """An exception found on a trail: what, why (one Chinese line with the scan), which unit."""

    exception: Exception_
    detail: str
    unit: Optional[str]


def _at(event: TrailEvent) -> str:
    return f"{clock(event.occurred_at)} {event.unit}"


_MOVING = frozenset({S.POSTED.value, S.DEPARTED.value, S.ARRIVED.value, S.IN_TRANSIT.value,
                     S.OUT_FOR_DELIVERY.value})
_RETURN_STATUSES = frozenset({S.RETURNING.value, S.RETURNED.value})
_REFUSED_RE = re.compile(r"拒收|拒签|拒绝签收")
_MISSORT_RE = re.compile(r"错分|错发|误发")


def no_scan(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """发货无信息: posted (or watched) `no_scan_hours` ago and not scanned since."""
    if mail.trail:
        return None
    since = mail.posted_at or mail.watched_since
    hours = hours_between(since, now)
    if hours <= th.no_scan_hours:
        return None
    what = "收寄登记" if mail.posted_at else "列入关注"
    return Finding(Exception_.NO_SCAN, f"{what}后 {hours:.0f} 小时没有任何扫描记录", None)


def no_update(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """超时未更新: on its way, but no new scan for `no_update_hours`."""
    last = mail.last
    if last is None or last.status_code not in _MOVING:
        return None
    hours = hours_between(last.occurred_at, now)
    if hours <= th.no_update_hours:
        return None
    return Finding(Exception_.NO_UPDATE,
                   f"最后扫描 {_at(last)}，已 {hours:.0f} 小时没有更新", last.unit)


def overdue(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """超时未签收: past the promised delivery time and not delivered (nor on its way back)."""
    if mail.promised_by is None or now <= mail.promised_by or mail.delivered:
        return None
    if any(e.status_code in _RETURN_STATUSES for e in mail.trail):
        return None  # "returned" says it better
    last = mail.last
    where = f"，最后扫描 {_at(last)}" if last else ""
    return Finding(Exception_.OVERDUE,
                   f"承诺 {clock(mail.promised_by)} 前投递，已超时 "
                   f"{hours_between(mail.promised_by, now):.0f} 小时{where}",
                   last.unit if last else None)


def delivery_failed(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """派件异常: the latest scan is a failed delivery (a refusal is `refused`)."""
    last = mail.last
    if last is None or last.status_code != S.FAILED.value or _REFUSED_RE.search(last.description):
        return None
    return Finding(Exception_.DELIVERY_FAILED, f"{_at(last)}：{last.description}", last.unit)


def refused(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """拒收: a scan records a refusal and the mail has not been delivered since."""
    if mail.delivered:
        return None
    for event in reversed(mail.trail):
        if _REFUSED_RE.search(event.description):
            return Finding(Exception_.REFUSED, f"{_at(event)}：{event.description}", event.unit)
    return None


def returned(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """退回: the mail is on its way back to the sender, or back already (unless refused)."""
    first = next((e for e in mail.trail if e.status_code in _RETURN_STATUSES), None)
    if first is None or _REFUSED_RE.search(first.description):
        return None
    return Finding(Exception_.RETURNED, f"{_at(first)}：{first.description}", first.unit)


def missorted(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """错分: the latest arrival is off the route the trail itself sets.

    Off route means the arrival scan says so (错分), or the mail arrived somewhere other than
    the next stop the departure before it announced, or it came back to a centre it had already
    left (the centre between was off its route). The unit that sent it wrong is responsible.
    A later arrival on route (the announced stop) clears it.
    """
    if mail.delivered:
        return None
    arrivals = [i for i, e in enumerate(mail.trail) if e.status_code == S.ARRIVED.value]
    if not arrivals:
        return None
    index = arrivals[-1]
    arrival = mail.trail[index]
    departure = next((e for e in reversed(mail.trail[:index])
                      if next_stop(e)), None)
    sender = departure.unit if departure is not None else None
    if _MISSORT_RE.search(arrival.description):
        return Finding(Exception_.MISSORTED, f"{_at(arrival)}：{arrival.description}", sender)
    if departure is not None:
        announced = next_stop(departure)
        if announced and announced != arrival.unit and is_centre(arrival.unit):
            return Finding(Exception_.MISSORTED,
                           f"{_at(departure)} 发往【{announced}】，却到达【{arrival.unit}】",
                           departure.unit)
    return None


def station(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """驿站超时未取: waiting at a station or locker for `station_hours`."""
    last = mail.last
    if last is None or last.status_code != S.AT_STATION.value:
        return None
    hours = hours_between(last.occurred_at, now)
    if hours <= th.station_hours:
        return None
    return Finding(Exception_.STATION, f"{_at(last)} 投递至驿站/代收点，已 {hours:.0f} 小时未取",
                   last.unit)


def signed_by_addressee(signed_by: str, recipient_name: str | None) -> bool:
    """Whether a signature is the addressee's own: 本人签收, or the addressee's name."""
    signer = signed_by.strip()
    if "本人" in signer:
        return True
    if not recipient_name or "代" in signer:
        return False
    return signer == recipient_name or signer.removesuffix("签收") == recipient_name


def signed_by_other(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> Finding | None:
    """特安 mail delivered but signed by someone other than the addressee (代收, 门卫, 快递柜)."""
    if WatchReason.TE_AN.value not in mail.reasons or not mail.delivered:
        return None
    signer = mail.signed_by or ""
    if signer and signed_by_addressee(signer, mail.recipient_name):
        return None
    last = mail.last
    assert last is not None
    return Finding(Exception_.SIGNED_BY_OTHER,
                   f"{_at(last)} 妥投，签收人：{mask_signer(signer) if signer else '未记录'}"
                   "（特安邮件须本人签收）",
                   last.unit)


Rule = Callable[[WatchedTrail, ProductThresholds, datetime], Optional[Finding]]

RULES: tuple[Rule, ...] = (no_scan, no_update, overdue, delivery_failed, refused, returned,
                           missorted, station, signed_by_other)


def findings(mail: WatchedTrail, th: ProductThresholds, now: datetime) -> list[Finding]:
    """Every exception the rules find on `mail`'s trail at `now`."""
    found = []
    for rule in RULES:
        finding = rule(mail, th, now)
        if finding is not None:
            found.append(finding)
    return found
