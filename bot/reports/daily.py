"""The daily report the seats post to their WeChat work group (日报).

Four sections, each computed by SQL aggregates as the store stood at the report moment
``as_of`` (``now`` for today, 23:59:59 of the day for a past day):

1. **Abnormal mail per production unit** (异常邮件预警), by the tracking exceptions of
   domain.md. Two kinds:

   * states, judged on the last scan at or before ``as_of`` of each item posted within
     ``lookback_days`` (an item silent for longer is a loss case, followed by work orders):
     发货无信息 — the posting scan is the only one, for at least ``no_scan_hours``;
     超时未更新 — moving (not posted-only, not at a station, not final) and no scan for
     ``stuck_hours``; 驿站超时未取 — waiting at a station/locker for ``station_hours``;
     超时未签收 — the promised delivery time has passed and the item is neither delivered
     nor returned nor on its way back. The unit is the one of that last scan.
   * events, scans made on the day: 拒收 (the scan says refused), 派件异常 (a failed
     delivery scan), 破损 (damage noted), 无法联系 (addressee unreachable), 地址不详
     (address unclear, addressee unknown), 错分 (missorted), 退回 (a return begins). The
     unit is the one that scanned.

   Each type counts distinct mail items; an item may show under two types (a refused item is
   also returned). Units are listed by number of items, then name.
2. **Pending quality-control work orders per county** (待处理质控工单): orders open at
   ``as_of`` (opened, not closed), with how many are unanswered and overdue.
3. **Pickup chases** (揽收催办): pickups whose 3rd or 4th reminder (3催/4催) came on the
   day; each is listed with its phone and address masked.
4. **Overdue work orders by channel** (超时工单): open, unanswered and past the deadline at
   ``as_of`` (the rule of `bot.store.workorders.is_overdue`); the longest overdue are listed.

The text masks personal data (phones, addresses); units, order and mail numbers are not
personal. Ordering is stable: fixed type order, then counts, then names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, exists, func, or_, select, union, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.proactive.rules import Exception_
from bot.reports.calls import CallCounts, call_counts
from bot.reports.monthly import county_key, county_sort_key
from bot.reports.periods import count_where
from bot.reports.proactive import ProactiveDay, proactive_day
from bot.store.models import (
    MailItem,
    PickupOrder,
    PickupReminder,
    TrackingEvent,
    WorkOrder,
    as_store_time,
)
from bot.store.services import STUCK_HOURS
from bot.store.status import Category, Channel, PickupStatus, StatusCode, label_of
from bot.store.uow import UowFactory
from bot.text.masking import mask_address, mask_phone, mask_text

S = StatusCode

# Tracking exceptions in the order of domain.md: (key, label).
EXCEPTIONS: tuple[tuple[str, str], ...] = (
    ("no_scan", "发货无信息"),
    ("stale", "超时未更新"),
    ("unsigned", "超时未签收"),
    ("refused", "拒收"),
    ("failed", "派件异常"),
    ("station", "驿站超时未取"),
    ("damaged", "破损"),
    ("unreachable", "无法联系"),
    ("address", "地址不详"),
    ("missorted", "错分"),
    ("returned", "退回"),
)
LABELS = dict(EXCEPTIONS)

# What the scan descriptions say for the event-based exceptions.
_WORDS: dict[str, tuple[str, ...]] = {
    "refused": ("拒收",),
    "damaged": ("破损",),
    "unreachable": ("无法接通", "无人接听", "无法联系", "联系不上"),
    "address": ("地址不详", "查无此人", "地址有误", "地址错误"),
    "missorted": ("错分",),
}
_FINAL = (S.DELIVERED.value, S.RETURNED.value)


@dataclass(frozen=True)
class DailyThresholds:
    """How long is too long, and how much the text lists (configurable, see `from_settings`)."""

    no_scan_hours: float = 24.0
    stuck_hours: float = float(STUCK_HOURS)
    station_hours: float = 48.0
    lookback_days: int = 30
    max_units: int = 30
    max_pickups: int = 10
    max_orders: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> DailyThresholds:
        """Thresholds with the settings' ``stuck_hours`` (the rule the bot tells customers)."""
        return cls(stuck_hours=float(getattr(settings, "stuck_hours", STUCK_HOURS)))


@dataclass(frozen=True)
class UnitWarnings:
    """Abnormal mail of one production unit: exception key → distinct items."""

    unit: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """The unit's counts summed over the exception types."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class CountyOrders:
    """Open work orders of one county at the report moment."""

    prefecture: str
    county: str
    open: int
    unanswered: int
    overdue: int


@dataclass(frozen=True)
class ChasedPickup:
    """A pickup chased a 3rd or 4th time on the day (phone and address masked)."""

    number: str
    phone_masked: str
    address_masked: str
    reminders: int
    status: PickupStatus
    reached: tuple[int, ...]  # 3 and/or 4


@dataclass(frozen=True)
class OverdueOrder:
    """An overdue work order as the report lists it."""

    number: str
    channel: str
    category: str
    county: str | None
    deadline: datetime


@dataclass(frozen=True)
class DailyReport:
    """Everything the daily text says, as data."""

    day: date
    as_of: datetime
    abnormal_items: int
    units: tuple[UnitWarnings, ...]
    exception_totals: dict[str, int]
    counties: tuple[CountyOrders, ...]
    pickups_3: int
    pickups_4: int
    pickups: tuple[ChasedPickup, ...]
    overdue_by_channel: dict[str, int]
    overdue_orders: tuple[OverdueOrder, ...]
    thresholds: DailyThresholds = field(default_factory=DailyThresholds)
    calls: CallCounts = CallCounts()  # the call desk's day (bot.reports.calls)
    proactive: ProactiveDay = field(default_factory=ProactiveDay)  # bot.reports.proactive

    @property
    def overdue_total(self) -> int:
        """Overdue work orders over all channels."""
        return sum(self.overdue_by_channel.values())


def report_moment(day: date, now: datetime) -> datetime:
    """The moment a daily report of `day` describes: `now` for today, 23:59:59 for a past day.

    Raises:
        ValueError: `day` is after today.
    """
    now = as_store_time(now)
    if day > now.date():
        raise ValueError(f"{day:%Y-%m-%d} 还没有到，不能生成日报")
    if day == now.date():
        return now
    return datetime.combine(day, time(23, 59, 59))


def _like_any(column: Any, words: tuple[str, ...]) -> ColumnElement:
    return or_(*[column.like(f"%{w}%") for w in words])


def _event_conditions() -> dict[str, ColumnElement]:
    te = TrackingEvent
    conditions = {key: _like_any(te.description, words) for key, words in _WORDS.items()}
    conditions["failed"] = te.status_code == S.FAILED.value
    conditions["returned"] = te.status_code == S.RETURNING.value
    return conditions


def _last_scans(as_of: datetime, thresholds: DailyThresholds) -> Any:
    """Each watched item's last scan at or before `as_of` (a subquery, one row per item)."""
    te = TrackingEvent
    later = aliased(TrackingEvent, name="later")
    # An item final now, with no scan after `as_of`, was final then: nothing to watch. This
    # keeps today's report to the items still moving.
    scanned_later = exists(select(later.id).where(later.mail_id == MailItem.id,
                                                  later.occurred_at > as_of))
    watched = select(MailItem.id).where(
        MailItem.posted_at >= as_of - timedelta(days=thresholds.lookback_days),
        MailItem.posted_at <= as_of,
        or_(MailItem.status.not_in(_FINAL), scanned_later))
    ranked = (select(te.mail_id, te.unit, te.status_code, te.occurred_at,
                     func.row_number().over(partition_by=te.mail_id,
                                            order_by=(te.occurred_at.desc(), te.id.desc()))
                     .label("rn"))
              .where(te.occurred_at <= as_of, te.mail_id.in_(watched))
              .subquery("ranked"))
    return ranked


def _state_conditions(last: Any, as_of: datetime,
                      thresholds: DailyThresholds) -> dict[str, ColumnElement]:
    def quiet_for(hours: float) -> ColumnElement:
        return last.c.occurred_at <= as_of - timedelta(hours=hours)

    status = last.c.status_code
    return {
        "no_scan": and_(status == S.POSTED.value, quiet_for(thresholds.no_scan_hours)),
        "station": and_(status == S.AT_STATION.value, quiet_for(thresholds.station_hours)),
        "stale": and_(status.not_in([*_FINAL, S.POSTED.value, S.AT_STATION.value]),
                      quiet_for(thresholds.stuck_hours)),
        "unsigned": and_(status.not_in([*_FINAL, S.RETURNING.value]),
                         MailItem.promised_by.is_not(None), MailItem.promised_by < as_of),
    }


def _count_distinct(condition: ColumnElement, mail_id: Any) -> ColumnElement:
    return func.count(distinct(case((condition, mail_id))))


def _mail_warnings(session: Any, day: date, as_of: datetime,
                   thresholds: DailyThresholds) -> tuple[int, dict[str, dict[str, int]]]:
    te = TrackingEvent
    start = datetime.combine(day, time())
    per_unit: dict[str, dict[str, int]] = {}

    def collect(rows: Any, keys: list[str]) -> None:
        for unit, *counts in rows:
            for key, n in zip(keys, counts):
                if n:
                    per_unit.setdefault(unit, {})[key] = int(n)

    last = _last_scans(as_of, thresholds)
    states = _state_conditions(last, as_of, thresholds)
    joined = last.join(MailItem, MailItem.id == last.c.mail_id)
    collect(session.execute(
        select(last.c.unit, *[_count_distinct(c, last.c.mail_id) for c in states.values()])
        .select_from(joined).where(last.c.rn == 1).group_by(last.c.unit)), list(states))

    events = _event_conditions()
    on_the_day = and_(te.occurred_at >= start, te.occurred_at <= as_of)
    collect(session.execute(
        select(te.unit, *[_count_distinct(c, te.mail_id) for c in events.values()])
        .where(on_the_day).group_by(te.unit)), list(events))

    flagged = union(
        select(last.c.mail_id).select_from(joined)
        .where(last.c.rn == 1, or_(*states.values())),
        select(te.mail_id).where(on_the_day, or_(*events.values())),
    ).subquery()
    items = session.execute(select(func.count()).select_from(flagged)).scalar_one()
    return int(items), per_unit


def _open_at(as_of: datetime) -> ColumnElement:
    """Opened by `as_of` and not closed then.

    Spelled as ``id IN (not closed ∪ closed later)`` so that both parts are index lookups on
    ``closed_at`` (most orders are closed; SQLite's planner would otherwise walk an index
    over nearly all of them).
    """
    w = WorkOrder
    unclosed = union_all(select(w.id).where(w.closed_at.is_(None)),
                         select(w.id).where(w.closed_at > as_of))
    return and_(w.id.in_(unclosed), w.opened_at <= as_of)


def _unanswered_at(as_of: datetime) -> ColumnElement:
    w = WorkOrder
    return or_(w.answered_at.is_(None), w.answered_at > as_of)


def _county_orders(session: Any, as_of: datetime) -> tuple[CountyOrders, ...]:
    w = WorkOrder
    unanswered = _unanswered_at(as_of)
    stmt = (select(w.county, func.count(w.id), count_where(unanswered),
                   count_where(and_(unanswered, w.deadline < as_of)))
            .where(_open_at(as_of)).group_by(w.county))
    merged: dict[tuple[str, str], list[int]] = {}
    for county, n, unanswered_n, overdue_n in session.execute(stmt):
        sums = merged.setdefault(county_key(county), [0, 0, 0])
        for i, v in enumerate((n, unanswered_n, overdue_n)):
            sums[i] += int(v)
    return tuple(CountyOrders(p, c, *merged[(p, c)])
                 for p, c in sorted(merged, key=county_sort_key))


def _chased_pickups(session: Any, day: date, as_of: datetime) -> tuple[ChasedPickup, ...]:
    r = PickupReminder
    start = datetime.combine(day, time())
    chased_today = select(r.pickup_id).where(r.at >= start, r.at <= as_of)
    counts = (select(r.pickup_id, count_where(r.at < start).label("before"),
                     func.count(r.id).label("through"))
              .where(r.at <= as_of, r.pickup_id.in_(chased_today))
              .group_by(r.pickup_id).subquery())
    reached = or_(*[and_(counts.c.before < n, counts.c.through >= n) for n in (3, 4)])
    stmt = (select(PickupOrder.number, PickupOrder.phone, PickupOrder.address,
                   PickupOrder.status, counts.c.before, counts.c.through)
            .join(counts, counts.c.pickup_id == PickupOrder.id).where(reached)
            .order_by(counts.c.through.desc(), PickupOrder.number))
    return tuple(
        ChasedPickup(number or "", mask_phone(phone), mask_address(address), int(through),
                     PickupStatus(status),
                     tuple(n for n in (3, 4) if int(before) < n <= int(through)))
        for number, phone, address, status, before, through in session.execute(stmt))


def _overdue_orders(session: Any, as_of: datetime,
                    limit: int) -> tuple[dict[str, int], tuple[OverdueOrder, ...]]:
    w = WorkOrder
    overdue = and_(_open_at(as_of), _unanswered_at(as_of), w.deadline < as_of)
    counts = dict(session.execute(
        select(w.channel, func.count(w.id)).where(overdue).group_by(w.channel)).all())
    by_channel = {c.value: int(counts.pop(c.value)) for c in Channel if c.value in counts}
    by_channel.update(sorted((k, int(v)) for k, v in counts.items()))
    rows = session.execute(
        select(w.number, w.channel, w.category, w.county, w.deadline).where(overdue)
        .order_by(w.deadline, w.id).limit(limit))
    return by_channel, tuple(OverdueOrder(n or "", ch, cat, county, deadline)
                             for n, ch, cat, county, deadline in rows)


def build_daily(uows: UowFactory, day: date, now: datetime,
                thresholds: DailyThresholds | None = None) -> DailyReport:
    """Compute the daily report of `day` as the store stood at its report moment.

    Args:
        uows: opens a unit of work on the store.
        day: the day reported on (today or earlier).
        now: the current time (naive Beijing time, or aware).
        thresholds: limits of the mail exceptions and list lengths (defaults when None).

    Raises:
        ValueError: `day` is in the future.
    """
    thresholds = thresholds or DailyThresholds()
    as_of = report_moment(day, now)
    with uows() as uow:
        session = uow.session
        items, per_unit = _mail_warnings(session, day, as_of, thresholds)
        counties = _county_orders(session, as_of)
        pickups = _chased_pickups(session, day, as_of)
        by_channel, overdue = _overdue_orders(session, as_of, thresholds.max_orders)
        calls = call_counts(session, datetime.combine(day, time.min), as_of + timedelta(seconds=1))
        proactive = proactive_day(session, datetime.combine(day, time.min),
                                  as_of + timedelta(seconds=1))
    units = tuple(sorted((UnitWarnings(u, c) for u, c in per_unit.items()),
                         key=lambda w: (-w.total, w.unit)))
    totals = {key: sum(u.counts.get(key, 0) for u in units) for key, _ in EXCEPTIONS}
    return DailyReport(
        day=day, as_of=as_of, abnormal_items=items, units=units,
        exception_totals={k: v for k, v in totals.items() if v},
        counties=counties,
        pickups_3=sum(1 for p in pickups if 3 in p.reached),
        pickups_4=sum(1 for p in pickups if 4 in p.reached),
        pickups=pickups, overdue_by_channel=by_channel, overdue_orders=overdue,
        thresholds=thresholds, calls=calls, proactive=proactive,
    )


# --- text --------------------------------------------------------------------------------------



def _types(counts: dict[str, int]) -> str:
    return "、".join(f"{label} {counts[key]}" for key, label in EXCEPTIONS if counts.get(key))


def overdue_for(deadline: datetime, as_of: datetime) -> str:
    """How long past the deadline: 45分钟, 5小时, 2天3小时."""
    minutes = max(0, int((as_of - deadline).total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时"
    return f"{minutes}分钟"


_PICKUP_STATUS = {PickupStatus.BOOKED: "仍未揽收", PickupStatus.COLLECTED: "已揽收",
                  PickupStatus.CANCELLED: "已取消"}


def format_daily(report: DailyReport) -> str:
    """The report as the text posted to the group (plain text, one item per line)."""
    t = report.thresholds
    lines = [f"【云南邮政客服日报】{report.day.year}年{report.day.month}月{report.day.day}日",
             f"统计截至 {report.as_of:%Y-%m-%d %H:%M}"]
    if report.calls.calls or report.calls.shown:  # a day without calls says nothing of them
        lines.append(f"当日来电 {report.calls.calls} 通，其中开工单 {report.calls.with_order} 通；"
                     f"来电建议答复采纳 {report.calls.adopted}/{report.calls.shown}")
    lines.append("")

    lines.append(f"一、异常邮件预警（按生产机构）：共 {report.abnormal_items} 件")
    if report.units:
        for i, unit in enumerate(report.units[:t.max_units], 1):
            lines.append(f"{i}. {unit.unit}：{_types(unit.counts)}")
        rest = report.units[t.max_units:]
        if rest:
            lines.append(f"另有 {len(rest)} 个机构共 {sum(u.total for u in rest)} 条预警")
        lines.append(f"按类型：{_types(report.exception_totals)}")
    else:
        lines.append("无")
    lines.append("")

    open_n = sum(c.open for c in report.counties)
    lines.append(f"二、待处理质控工单（按区县）：共 {open_n} 件，其中未反馈 "
                 f"{sum(c.unanswered for c in report.counties)} 件、已超时 "
                 f"{sum(c.overdue for c in report.counties)} 件")
    for c in report.counties:
        place = f"{c.prefecture} {c.county}" if c.prefecture else c.county
        lines.append(f"{place}：{c.open} 件（未反馈 {c.unanswered}，超时 {c.overdue}）")
    if not report.counties:
        lines.append("无")
    lines.append("")

    lines.append(f"三、揽收催办：当日 3催 {report.pickups_3} 件、4催 {report.pickups_4} 件")
    for p in report.pickups[:t.max_pickups]:
        lines.append(f"{p.number}（{p.phone_masked}，{p.address_masked}）"
                     f"已催 {p.reminders} 次，{_PICKUP_STATUS[p.status]}")
    if len(report.pickups) > t.max_pickups:
        lines.append(f"另有 {len(report.pickups) - t.max_pickups} 件")
    lines.append("")

    lines.append(f"四、超时工单（按渠道）：共 {report.overdue_total} 件")
    if report.overdue_by_channel:
        lines.append("；".join(f"{label_of(Channel, ch)} {n} 件"
                              for ch, n in report.overdue_by_channel.items()))
        lines.append("超时最久：")
        for o in report.overdue_orders:
            county = o.county or "未填区县"
            lines.append(f"{o.number} {label_of(Channel, o.channel)}"
                         f"·{label_of(Category, o.category)}"
                         f"·{county} 已超时 {overdue_for(o.deadline, report.as_of)}")
    else:
        lines.append("无")
    lines.extend(_proactive_lines(report.proactive, t.max_units))
    # Nothing above quotes a customer, but a unit or county name typed into an order could
    # carry a phone number: mask the whole text once more before it leaves the store.
    return mask_text("\n".join(lines))


_WATCH_LABELS = {"vip": "大客户", "te_an": "特安", "project": "重点项目"}


def _proactive_lines(p: ProactiveDay, max_units: int) -> list[str]:
    """Section 五 (主动客服); nothing on a store where the proactive service is not used."""
    if not p.watched and not p.new and not p.still_open:
        return []
    watched = "、".join(f"{_WATCH_LABELS.get(r, r)} {n}" for r, n in sorted(
        p.watched_by_reason.items(), key=lambda kv: list(_WATCH_LABELS).index(kv[0])
        if kv[0] in _WATCH_LABELS else 9))
    lines = ["", f"五、主动客服：关注邮件 {p.watched} 件（{watched}）",
             f"当日新发现异常 {p.new} 件" + ("：" + "、".join(
                 f"{label_of(Exception_, e)} {n}" for e, n in sorted(
                     p.new_by_exception.items(), key=lambda kv: (-kv[1], kv[0])))
                 if p.new else "")]
    for unit, n in list(p.new_by_unit.items())[:max_units]:
        lines.append(f"{unit}：{n} 件")
    lines.append(f"当日已处理 {p.handled} 件、办结 {p.resolved} 件、自动恢复 {p.recovered} 件；"
                 f"未结任务 {p.still_open} 件")
    return lines


def daily_text(uows: UowFactory, day: date, now: datetime,
               thresholds: DailyThresholds | None = None) -> str:
    """`build_daily` then `format_daily`."""
    return format_daily(build_daily(uows, day, now, thresholds))
