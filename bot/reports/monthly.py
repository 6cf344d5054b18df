"""Monthly statistics of the seats: work orders by channel, category and county, and the KPIs
of domain.md ("KPIs"), computed in SQL.

Every figure is an aggregate the database computes (``count``/``sum(case …)``/``avg``); no
order, pickup, conversation or reply row is loaded into Python. The work-order measures come
from one query grouped by (channel, category, county); the per-channel, per-category,
per-county and overall figures are sums of those few hundred group rows.

Definitions (the cohort of a month is what was *received* in it; everything is judged as it
stands at the report time ``now``):

* **received** (受理量): work orders with ``opened_at`` in the month. A second complaint
  linked to an open order (``contacts`` > 1) is not a new order.
* **timeliness** (及时率): answered within deadline ÷ due. An order's clock stops at its first
  feedback (``answered_at``) or, closed without feedback, at ``closed_at``. *Due* = the clock
  has stopped, or the deadline has passed at ``now``; *within deadline* = stopped no later
  than ``deadline``. Orders still running inside their limit are not yet due.
* **overdue** (超时件数): due − within deadline, i.e. answered after the deadline, or not
  answered and past it at ``now`` (the latter, "still overdue", is the rule of
  `bot.store.workorders.is_overdue`, shown separately).
* **callback rate** (回访率): closed orders with a callback result ÷ closed orders.
* **satisfaction** (满意率): satisfied callbacks ÷ callbacks with a result (a callback is
  recorded only when the customer was reached, so every recorded one is successful).
* **first-contact resolution** (一次解决率): closed, ``contacts`` = 1 and never reopened ÷
  received.
* **repeat complaints** (重复投诉率): repeat orders ÷ received. An order is a repeat when
  another complaint was linked to it (``contacts`` > 1), or when an earlier order (opened at
  most ``repeat_days`` days before it, any month) has the same customer phone, the same
  conversation (``sender_id``) or the same mail number.
* **closure rate** (结案率): closed ÷ received.
* **3催率 / 4催率**: pickups booked in the month that were chased at least 3 (4) times ÷
  pickups booked in the month.
* **bot containment** (机器人独立解决率): conversations finished without an agent ÷
  conversations. A conversation is a `ConversationDay` row (customer, channel, day) in the
  month; it needed an agent when the customer has a `HandoverRequest` created that day.
* **suggestion adoption** (建议采纳率), overall and per agent: suggestions accepted as they
  were or after editing ÷ suggestions shown (accepted + edited + rejected), replies recorded
  in the month. Replies the agent wrote without a suggestion are counted apart.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.reports.calls import CallCounts, call_counts
from bot.reports.periods import (
    Adoption,
    Month,
    as_date,
    count_where,
    day_of,
    days_between,
    percent,
    ratio,
)
from bot.reports.proactive import ProactiveMonth, proactive_month
from bot.store.models import (
    AgentReply,
    ConversationDay,
    HandoverRequest,
    PickupOrder,
    PickupReminder,
    WorkOrder,
    WorkOrderEvent,
    as_store_time,
)
from bot.store.status import Category, Channel, ReplyDecision, WorkOrderStatus, label_of
from bot.store.uow import UowFactory
from bot.text import gazetteer

REPEAT_DAYS = 30
NO_COUNTY = "未填区县"
OTHER_PREFECTURE = "其他"


# --- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a report table; ``kind`` says how to format it.

    text, int, pct (a rate 0..1), num (one decimal), date; ``auto``: a float is a rate, an
    int a count (the overview mixes both).
    """

    title: str
    kind: str = "text"


@dataclass(frozen=True)
class Table:
    """One table of the monthly report (a sheet of the workbook, a table on the page)."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Kpi:
    """One KPI: ``numerator`` ÷ ``denominator`` for a rate, ``numerator`` for a count."""

    key: str
    label: str
    numerator: int
    denominator: int | None
    definition: str

    @property
    def is_rate(self) -> bool:
        """True for a ratio (shown as a percentage), False for a plain count."""
        return self.denominator is not None

    @property
    def value(self) -> float | int | None:
        """The rate (None when nothing to divide by) or the count."""
        if self.denominator is None:
            return self.numerator
        return ratio(self.numerator, self.denominator)


@dataclass
class OrderCounts:
    """Additive work-order counts of one group (see the module docstring for each)."""

    received: int = 0
    due: int = 0
    timely: int = 0
    overdue: int = 0
    still_overdue: int = 0
    closed: int = 0
    closed_called_back: int = 0
    callbacks: int = 0
    satisfied: int = 0
    first_contact: int = 0
    repeat: int = 0

    def add(self, other: OrderCounts) -> None:
        """Add `other`'s counts to these, field by field (for totals)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def timeliness(self) -> float | None:
        """及时率: answered within the deadline ÷ due (None when nothing was due)."""
        return ratio(self.timely, self.due)

    @property
    def closure(self) -> float | None:
        """结案率: closed ÷ received."""
        return ratio(self.closed, self.received)

    @property
    def callback_rate(self) -> float | None:
        """回访率: closed orders with a callback result ÷ closed orders."""
        return ratio(self.closed_called_back, self.closed)

    @property
    def satisfaction(self) -> float | None:
        """满意率: satisfied callbacks ÷ callbacks with a result."""
        return ratio(self.satisfied, self.callbacks)

    @property
    def repeat_rate(self) -> float | None:
        """重复投诉率: repeat orders ÷ received."""
        return ratio(self.repeat, self.received)

    @property
    def first_contact_rate(self) -> float | None:
        """一次解决率: closed at the first contact, never reopened ÷ received."""
        return ratio(self.first_contact, self.received)


@dataclass(frozen=True)
class AgentAdoption(Adoption):
    """Suggested replies one agent decided on in the month."""

    agent: str
    accepted: int
    edited: int
    rejected: int
    written: int
    mean_edit_distance: float | None


@dataclass(frozen=True)
class MonthlyReport:
    """The statistics of one month as of ``as_of``."""

    month: Month
    as_of: datetime
    repeat_days: int
    total: OrderCounts
    by_channel: dict[str, OrderCounts]
    by_category: dict[str, OrderCounts]
    by_county: dict[tuple[str, str], OrderCounts]
    by_day: dict[date, OrderCounts]
    pickups: int
    pickups_3: int
    pickups_4: int
    conversations: int
    handed_over: int
    agents: tuple[AgentAdoption, ...]
    calls: CallCounts = CallCounts()  # the call desk (bot.reports.calls)
    proactive: ProactiveMonth = ProactiveMonth()  # the proactive service (bot.reports.proactive)

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        """The KPIs of domain.md, in the order of the overview."""
        return _kpis(self)

    def kpi(self, key: str) -> Kpi:
        """The KPI named `key` (received, timeliness, overdue, ...)."""
        for kpi in self.kpis:
            if kpi.key == key:
                return kpi
        raise KeyError(key)

    def tables(self) -> list[Table]:
        """Every table, in the order of the workbook's sheets."""
        return [overview_table(self), channel_table(self), category_table(self),
                county_table(self), agent_table(self), day_table(self)]


# --- SQL -------------------------------------------------------------------------------------


def _order_conditions(now: datetime, repeat_days: int, dialect: str) -> dict[str, ColumnElement]:
    """One boolean SQL condition per additive measure of `OrderCounts` (received aside)."""
    w = WorkOrder
    stopped = func.coalesce(w.answered_at, w.closed_at)
    closed = w.status == WorkOrderStatus.CLOSED.value
    callback = w.callback_satisfied.is_not(None)
    earlier = aliased(WorkOrder, name="earlier")

    def earlier_with_same(column: str) -> ColumnElement:
        mine, theirs = getattr(w, column), getattr(earlier, column)
        return exists(select(earlier.id).where(
            mine.is_not(None), theirs == mine, earlier.id != w.id,
            or_(earlier.opened_at < w.opened_at,
                and_(earlier.opened_at == w.opened_at, earlier.id < w.id)),
            days_between(w.opened_at, earlier.opened_at, dialect) <= repeat_days,
        ))

    reopened = exists(select(WorkOrderEvent.id).where(
        WorkOrderEvent.work_order_id == w.id, WorkOrderEvent.action == "reopened"))
    return {
        "due": or_(stopped.is_not(None), w.deadline < now),
        "timely": and_(stopped.is_not(None), stopped <= w.deadline),
        "overdue": or_(and_(stopped.is_not(None), stopped > w.deadline),
                       and_(stopped.is_(None), w.deadline < now)),
        "still_overdue": and_(stopped.is_(None), w.deadline < now),
        "closed": closed,
        "closed_called_back": and_(closed, callback),
        "callbacks": callback,
        "satisfied": w.callback_satisfied.is_(True),
        "first_contact": and_(closed, w.contacts == 1, ~reopened),
        "repeat": or_(w.contacts > 1, earlier_with_same("customer_phone"),
                      earlier_with_same("sender_id"), earlier_with_same("mail_number")),
    }


def _in_month(column: Any, month: Month) -> ColumnElement:
    return and_(column >= month.start, column < month.end)


def _order_groups(session: Any, month: Month, now: datetime, repeat_days: int,
                  dialect: str) -> list[tuple[str, str, str | None, OrderCounts]]:
    conditions = _order_conditions(now, repeat_days, dialect)
    w = WorkOrder
    stmt = (select(w.channel, w.category, w.county, func.count(w.id).label("received"),
                   *[count_where(c).label(k) for k, c in conditions.items()])
            .where(_in_month(w.opened_at, month))
            .group_by(w.channel, w.category, w.county))
    out = []
    for row in session.execute(stmt):
        values = row._mapping
        counts = OrderCounts(received=int(values["received"]),
                             **{k: int(values[k]) for k in conditions})
        out.append((row.channel, row.category, row.county, counts))
    return out


def _day_groups(session: Any, month: Month, now: datetime, dialect: str) -> dict[date, OrderCounts]:
    w = WorkOrder
    conditions = _order_conditions(now, REPEAT_DAYS, dialect)
    day = day_of(w.opened_at, dialect)
    stmt = (select(day.label("day"), func.count(w.id).label("received"),
                   count_where(conditions["due"]).label("due"),
                   count_where(conditions["timely"]).label("timely"),
                   count_where(conditions["overdue"]).label("overdue"),
                   count_where(conditions["closed"]).label("closed"))
            .where(_in_month(w.opened_at, month)).group_by(day))
    by_day = {d: OrderCounts() for d in month.days()}
    for row in session.execute(stmt):
        by_day[as_date(row.day)] = OrderCounts(
            received=int(row.received), due=int(row.due), timely=int(row.timely),
            overdue=int(row.overdue), closed=int(row.closed))
    return by_day


def _pickup_counts(session: Any, month: Month) -> tuple[int, int, int]:
    chased = (select(PickupReminder.pickup_id, func.count(PickupReminder.id).label("n"))
              .join(PickupOrder, PickupOrder.id == PickupReminder.pickup_id)
              .where(_in_month(PickupOrder.created_at, month))
              .group_by(PickupReminder.pickup_id).subquery())
    stmt = (select(func.count(PickupOrder.id), count_where(chased.c.n >= 3),
                   count_where(chased.c.n >= 4))
            .select_from(PickupOrder)
            .outerjoin(chased, chased.c.pickup_id == PickupOrder.id)
            .where(_in_month(PickupOrder.created_at, month)))
    total, third, fourth = session.execute(stmt).one()
    return int(total), int(third), int(fourth)


def _containment_counts(session: Any, month: Month, dialect: str) -> tuple[int, int]:
    c, h = ConversationDay, HandoverRequest
    handed = exists(select(h.id).where(h.sender_id == c.sender_id,
                                       day_of(h.created_at, dialect) == c.day))
    stmt = select(func.count(c.id), count_where(handed)).where(
        c.day >= month.start.date(), c.day < month.end.date())
    total, handed_over = session.execute(stmt).one()
    return int(total), int(handed_over)


def _agent_rows(session: Any, month: Month) -> tuple[AgentAdoption, ...]:
    r = AgentReply
    decision = {d: count_where(r.decision == d.value) for d in ReplyDecision}
    stmt = (select(r.agent, decision[ReplyDecision.ACCEPTED], decision[ReplyDecision.EDITED],
                   decision[ReplyDecision.REJECTED], decision[ReplyDecision.WRITTEN],
                   func.avg(case((r.decision == ReplyDecision.EDITED.value, r.edit_distance))))
            .where(_in_month(r.created_at, month)).group_by(r.agent).order_by(r.agent))
    return tuple(
        AgentAdoption(agent, int(a), int(e), int(rej), int(wr),
                      float(dist) if dist is not None else None)
        for agent, a, e, rej, wr, dist in session.execute(stmt))


# --- assembling --------------------------------------------------------------------------------


def _county_order() -> dict[str, int]:
    places = gazetteer.aliases().values()
    names = list(dict.fromkeys(p.name for p in places if p.level == "county"))
    return {name: i for i, name in enumerate(names)}


def county_key(county: str | None) -> tuple[str, str]:
    """(prefecture, county) of a work order's county as the tables show it."""
    if not county:
        return ("", NO_COUNTY)
    place = gazetteer.lookup(county)
    if place is None or place.level != "county":
        return (OTHER_PREFECTURE, county)
    return (place.prefecture, place.name)


def county_sort_key(key: tuple[str, str]) -> tuple[int, int, str]:
    """Gazetteer order (prefecture, then county), other places after, no county last."""
    prefecture, county = key
    if county == NO_COUNTY and not prefecture:
        return (3, 0, "")
    order = _county_order()
    if county in order:
        return (0, order[county], "")
    return (1, 0, county)


def _kpis(report: MonthlyReport) -> tuple[Kpi, ...]:
    t = report.total
    shown = sum(a.shown for a in report.agents)
    adopted = sum(a.adopted for a in report.agents)
    return (
        Kpi("received", "受理量", t.received, None,
            "本月受理（开单时间在本月）的工单数；同一邮件同类问题再次反映合并进原工单，不另计。"),
        Kpi("timeliness", "及时率", t.timely, t.due,
            "及时反馈 ÷ 应反馈。首次反馈即停表（未反馈直接结案的以结案时间计）；应反馈＝已停表，"
            "或至统计时已过反馈时限；及时＝停表时间不晚于时限。"),
        Kpi("overdue", "超时件数", t.overdue, None,
            f"应反馈 − 及时反馈：反馈晚于时限的，加上至统计时仍未反馈且已过时限的"
            f"（后者 {t.still_overdue} 件）。"),
        Kpi("callback_rate", "回访率", t.closed_called_back, t.closed,
            "已结案且有回访结果的工单 ÷ 已结案工单。"),
        Kpi("satisfaction", "满意率", t.satisfied, t.callbacks,
            "回访满意 ÷ 回访成功（记录了满意或不满意的回访）。"),
        Kpi("first_contact", "一次解决率", t.first_contact, t.received,
            "已结案、只反映一次且从未重新打开的工单 ÷ 受理量。"),
        Kpi("repeat", "重复投诉率", t.repeat, t.received,
            f"重复投诉工单 ÷ 受理量。重复：同一邮件同类问题再次反映而合并，或同一客户（电话或会话）"
            f"或同一邮件在 {report.repeat_days} 天内已有更早的工单。"),
        Kpi("closure", "结案率", t.closed, t.received, "已结案 ÷ 本月受理。"),
        Kpi("pickup_3", "3催率", report.pickups_3, report.pickups,
            "本月预约的上门揽收中被客户催促达 3 次及以上的 ÷ 本月预约揽收数。"),
        Kpi("pickup_4", "4催率", report.pickups_4, report.pickups,
            "本月预约的上门揽收中被客户催促达 4 次及以上的 ÷ 本月预约揽收数。"),
        Kpi("containment", "机器人独立解决率", report.conversations - report.handed_over,
            report.conversations,
            "当天未转人工的会话 ÷ 会话数；会话＝一位客户在一个渠道一天内的消息。"),
        Kpi("adoption", "建议采纳率", adopted, shown,
            "直接采纳与修改后采纳的建议回复 ÷ 展示给坐席的建议回复（采纳、修改、拒绝）。"),
        Kpi("calls", "来电量", report.calls.calls, None,
            "本月坐席在来电台记录的 11183/11185 来电。"),
        Kpi("call_orders", "来电开单率", report.calls.with_order, report.calls.calls,
            "开了工单（或合并到在办工单）的来电 ÷ 来电量。"),
        Kpi("call_adoption", "来电建议采纳率", report.calls.adopted, report.calls.shown,
            "来电时直接采纳与修改后采纳的建议答复 ÷ 坐席处理过的建议答复，口径同会话。"),
        Kpi("proactive_coverage", "主动发现率", report.proactive.found_first,
            report.proactive.exceptions,
            "客户投诉前由主动客服发现的关注邮件异常 ÷ 关注邮件的全部异常（含先被投诉的）。"),
        Kpi("proactive_timeliness", "主动任务及时处理率", report.proactive.handled_in_time,
            report.proactive.due,
            "时限内有坐席处理的主动客服任务 ÷ 本月到期的任务（未经处理即自动恢复的不计）。"),
    )


def build_monthly(uows: UowFactory, month: Month, now: datetime,
                  repeat_days: int = REPEAT_DAYS) -> MonthlyReport:
    """Compute the statistics of `month` as they stand at `now`.

    Args:
        uows: opens a unit of work on the store.
        month: the month whose received orders, pickups, conversations and replies count.
        now: the report time (naive Beijing time, or aware); decides which orders are due.
        repeat_days: the window of a repeat complaint, in days.

    Raises:
        ValueError: the month has not begun at `now`.
    """
    now = as_store_time(now)
    if month.start > now:
        raise ValueError(f"{month.label}尚未开始")
    with uows() as uow:
        session = uow.session
        dialect = session.get_bind().dialect.name
        groups = _order_groups(session, month, now, repeat_days, dialect)
        by_day = _day_groups(session, month, now, dialect)
        pickups = _pickup_counts(session, month)
        conversations = _containment_counts(session, month, dialect)
        agents = _agent_rows(session, month)
        calls = call_counts(session, month.start, month.end)
        proactive = proactive_month(session, month.start, month.end, now)
    total = OrderCounts()
    by_channel: dict[str, OrderCounts] = {c.value: OrderCounts() for c in Channel}
    by_category: dict[str, OrderCounts] = {c.value: OrderCounts() for c in Category}
    by_county: dict[tuple[str, str], OrderCounts] = defaultdict(OrderCounts)
    for channel, category, county, counts in groups:
        total.add(counts)
        by_channel.setdefault(channel, OrderCounts()).add(counts)
        by_category.setdefault(category, OrderCounts()).add(counts)
        by_county[county_key(county)].add(counts)
    return MonthlyReport(
        month=month, as_of=now, repeat_days=repeat_days, total=total,
        by_channel=by_channel, by_category=by_category,
        by_county=dict(sorted(by_county.items(), key=lambda kv: county_sort_key(kv[0]))),
        by_day=by_day, pickups=pickups[0], pickups_3=pickups[1], pickups_4=pickups[2],
        conversations=conversations[0], handed_over=conversations[1], agents=agents,
        calls=calls, proactive=proactive,
    )


# --- tables ------------------------------------------------------------------------------------

_MEASURE_COLUMNS = (
    Column("受理量", "int"), Column("占比", "pct"), Column("应反馈", "int"),
    Column("及时反馈", "int"), Column("及时率", "pct"), Column("超时件数", "int"),
    Column("其中仍未反馈", "int"), Column("结案", "int"), Column("结案率", "pct"),
    Column("回访率", "pct"), Column("满意率", "pct"), Column("重复投诉率", "pct"),
)


def _measures(counts: OrderCounts, total: int) -> tuple[Any, ...]:
    return (counts.received, ratio(counts.received, total), counts.due, counts.timely,
            counts.timeliness, counts.overdue, counts.still_overdue, counts.closed,
            counts.closure, counts.callback_rate, counts.satisfaction, counts.repeat_rate)



def overview_table(report: MonthlyReport) -> Table:
    """The KPIs with numerator, denominator and definition."""
    rows = tuple((k.label, k.value, k.numerator, k.denominator, k.definition)
                 for k in report.kpis)
    return Table("overview", "总览",
                 (Column("指标"), Column("数值", "auto"), Column("分子", "int"),
                  Column("分母", "int"), Column("口径")),
                 rows, note=f"{report.month.label}，统计时间 {report.as_of:%Y-%m-%d %H:%M}")


def channel_table(report: MonthlyReport) -> Table:
    """Work orders by channel (every channel, in the order of `Channel`)."""
    total = report.total.received
    rows = [(label_of(Channel, k), *_measures(v, total)) for k, v in report.by_channel.items()]
    rows.append(("合计", *_measures(report.total, total)))
    return Table("channels", "按渠道", (Column("渠道"), *_MEASURE_COLUMNS), tuple(rows))


def category_table(report: MonthlyReport) -> Table:
    """Work orders by complaint category (every category, in the order of `Category`)."""
    total = report.total.received
    rows = [(label_of(Category, k), *_measures(v, total)) for k, v in report.by_category.items()]
    rows.append(("合计", *_measures(report.total, total)))
    return Table("categories", "按类别", (Column("类别"), *_MEASURE_COLUMNS), tuple(rows))


def county_table(report: MonthlyReport) -> Table:
    """Work orders by county, in gazetteer order (counties with orders only)."""
    total = report.total.received
    rows = [(prefecture, county, *_measures(v, total))
            for (prefecture, county), v in report.by_county.items()]
    rows.append(("合计", "", *_measures(report.total, total)))
    return Table("counties", "按区县", (Column("地市"), Column("区县"), *_MEASURE_COLUMNS),
                 tuple(rows))


def agent_table(report: MonthlyReport) -> Table:
    """Suggested replies per agent."""
    rows = [(a.agent, a.shown, a.accepted, a.edited, a.rejected, a.adoption, a.written,
             a.mean_edit_distance) for a in report.agents]
    shown = sum(a.shown for a in report.agents)
    adopted = sum(a.adopted for a in report.agents)
    rows.append(("合计", shown, sum(a.accepted for a in report.agents),
                 sum(a.edited for a in report.agents), sum(a.rejected for a in report.agents),
                 ratio(adopted, shown), sum(a.written for a in report.agents), None))
    return Table("agents", "坐席建议采纳",
                 (Column("坐席"), Column("展示建议", "int"), Column("直接采纳", "int"),
                  Column("修改后采纳", "int"), Column("拒绝", "int"), Column("采纳率", "pct"),
                  Column("自行撰写", "int"), Column("平均修改字数", "num")),
                 tuple(rows))


def day_table(report: MonthlyReport) -> Table:
    """Orders received per day of the month."""
    rows = tuple((d, c.received, c.due, c.timely, c.timeliness, c.overdue, c.closed)
                 for d, c in report.by_day.items())
    return Table("days", "按日",
                 (Column("日期", "date"), Column("受理量", "int"), Column("应反馈", "int"),
                  Column("及时反馈", "int"), Column("及时率", "pct"), Column("超时件数", "int"),
                  Column("结案", "int")),
                 rows)


def format_monthly(report: MonthlyReport) -> str:
    """The KPIs as plain text for the terminal."""
    lines = [f"【月度统计】{report.month.label}（统计时间 {report.as_of:%Y-%m-%d %H:%M}）"]
    for k in report.kpis:
        if k.is_rate:
            lines.append(f"{k.label}：{percent(k.value)}（{k.numerator}/{k.denominator}）")
        else:
            lines.append(f"{k.label}：{k.numerator}")
    lines.append("按渠道受理：" + "，".join(
        f"{label_of(Channel, c)} {v.received}" for c, v in report.by_channel.items() if v.received))
    lines.append("按类别受理：" + "，".join(
        f"{label_of(Category, c)} {v.received}"
        for c, v in report.by_category.items() if v.received))
    lines.append("按区县受理：" + "，".join(
        f"{county} {v.received}" for (_, county), v in report.by_county.items()))
    if report.agents:
        lines.append("坐席建议采纳：" + "，".join(
            f"{a.agent} {percent(a.adoption)}（{a.adopted}/{a.shown}）" for a in report.agents))
    return "\n".join(lines)
