"""Work-order and pickup services: open, link, move through the life cycle, escalate.

Plain functions over a unit-of-work factory, like `bot.store.services`. Deadlines come from
the `DeadlineRules` the caller passes in (in the product, `bot.workorders.policy.DeadlinePolicy`,
which the store never imports); remaining time and overdue state are computed from them
whenever an order is read, never stored. The responsibility suggestion and the drafted
feedback of an order are in `bot.workorders.followup`.

Who may act on an order from the workbench (an actor given as `Staff`; the bot, imports and
the seed act under a plain name and are not limited):

* an agent takes an order by starting it: an order nobody holds becomes theirs
  (``assigned_to``); one held by another agent is refused;
* only the agent holding an order, or a supervisor, records feedback, the callback or the
  responsibility, and closes it;
* an order is closed after its feedback (``answered_at``); a supervisor may close one without
  feedback only with a written reason, which the history keeps;
* only a supervisor reopens an order: reopening clears the feedback and gives a fresh
  deadline, which the timeliness and first-contact figures read.

Refusals of these rules raise `WorkOrderForbidden`; nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol

from sqlalchemy.exc import IntegrityError

from bot.store.models import PickupOrder, PickupReminder, WorkOrder, as_store_time
from bot.store.status import (
    Category,
    Channel,
    PickupStatus,
    Priority,
    WorkOrderStatus,
)
from bot.store.uow import UnitOfWork, UowFactory
from bot.text.masking import mask_phone

S = WorkOrderStatus

# Which status may follow which. Reopening gives the order a fresh clock.
TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    S.NEW: frozenset({S.IN_PROGRESS, S.ANSWERED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.ANSWERED, S.CLOSED}),
    S.ANSWERED: frozenset({S.IN_PROGRESS, S.CALLED_BACK, S.CLOSED, S.REOPENED}),
    S.CALLED_BACK: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.CLOSED}),
}

# Reminders at which a pickup is escalated: the 3rd opens a supervisor order, the 4th makes it
# top priority (domain.md, "Pickup dispatch").
ESCALATE_AT = 3
TOP_PRIORITY_AT = 4


class DeadlineRules(Protocol):
    """What the services need of a deadline policy."""

    def deadline(self, channel: str, opened_at: datetime, unit: str | None = None) -> datetime:
        """When an order of `channel` opened at `opened_at` must be answered."""
        ...

    def remaining(
        self, channel: str, deadline: datetime, now: datetime, unit: str | None = None
    ) -> timedelta:
        """Time left until `deadline` at `now` (negative once it has passed)."""
        ...


class WorkOrderError(ValueError):
    """A request the work-order rules refuse (the message says why, in Chinese)."""


class WorkOrderNotFound(WorkOrderError):
    """No work order has that number."""


class WorkOrderForbidden(WorkOrderError):
    """The actor may not take this step on this order (not theirs, or a supervisor's step)."""


@dataclass(frozen=True)
class Staff:
    """A person acting on orders from the workbench: the reach rules apply to them.

    Attributes:
        username: the account, written to the history and to ``assigned_to``.
        supervisor: supervisors (and admins) may act on any order, close one without
            feedback (with a reason) and reopen.
    """

    username: str
    supervisor: bool = False


def actor_name(actor: Staff | str) -> str:
    """The name written to the history (a `Staff` member's username, or a system name such as
    "bot" or "import:12345")."""
    return actor.username if isinstance(actor, Staff) else actor


@dataclass(frozen=True)
class HistoryLine:
    """One line of a work order's history."""

    at: datetime
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class WorkOrderView:
    """A work order as read now: its fields, remaining time and history.

    ``customer_phone`` is the raw value for the operational side (agents calling back);
    ``customer_phone_masked`` is what goes anywhere else.
    """

    number: str
    channel: Channel
    category: Category
    mail_number: str | None
    customer_phone: str | None
    customer_phone_masked: str | None
    customer_name: str | None
    sender_id: str | None
    description: str
    priority: Priority
    assigned_unit: str | None
    assigned_to: str | None
    county: str | None
    status: WorkOrderStatus
    opened_at: datetime
    deadline: datetime
    remaining: timedelta
    overdue: bool
    answered_at: datetime | None
    closed_at: datetime | None
    callback_satisfied: bool | None
    responsible_unit: str | None
    contacts: int
    external_id: str | None
    history: tuple[HistoryLine, ...]

    @property
    def is_open(self) -> bool:
        """Not closed (reopened orders are open again)."""
        return self.status is not WorkOrderStatus.CLOSED


@dataclass(frozen=True)
class NewWorkOrder:
    """What is known when a work order is opened."""

    channel: Channel | str
    category: Category | str
    description: str
    mail_number: str | None = None
    customer_phone: str | None = None
    customer_name: str | None = None
    sender_id: str | None = None
    priority: Priority | str = Priority.NORMAL
    assigned_unit: str | None = None
    county: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Opened:
    """The outcome of opening a work order.

    Attributes:
        order: the order the request ended up in.
        created: False when the request was linked to an open order for the same mail and
            category, or was an import already done (``duplicate_import``).
        duplicate_import: the same channel order was imported before; nothing was written.
    """

    order: WorkOrderView
    created: bool
    duplicate_import: bool = False


@dataclass(frozen=True)
class PickupView:
    """A pickup booking and how often it was chased."""

    number: str
    sender_id: str | None
    channel: str
    address: str
    phone_masked: str
    time_window: str
    status: PickupStatus
    reminders: int
    created_at: datetime


@dataclass(frozen=True)
class Reminder:
    """The outcome of a customer chasing a pickup.

    Attributes:
        pickup: the booking chased (None when the customer has none).
        count: reminders so far, this one included.
        counted: False when this customer turn had already been counted.
        escalation: the supervisor order, once the pickup was chased three times.
        escalated_now: "opened" or "raised" when this reminder opened or raised it.
    """

    pickup: PickupView | None
    count: int
    counted: bool
    escalation: WorkOrderView | None
    escalated_now: str | None = None


def is_overdue(status: WorkOrderStatus, answered_at: datetime | None, deadline: datetime,
               now: datetime) -> bool:
    """An order is overdue while it is open, unanswered and past its deadline.

    (`WorkOrderRepository.overdue_at` is the same rule in SQL.)
    """
    return status is not WorkOrderStatus.CLOSED and answered_at is None and now > deadline


def _view(order: WorkOrder, rules: DeadlineRules, now: datetime) -> WorkOrderView:
    status = WorkOrderStatus(order.status)
    if status is WorkOrderStatus.CLOSED:
        # A closed order's clock stopped when it was answered (or closed unanswered).
        stopped = order.answered_at or order.closed_at or now
        remaining = rules.remaining(order.channel, order.deadline, stopped, order.assigned_unit)
        overdue = False
    else:
        remaining = rules.remaining(order.channel, order.deadline, now, order.assigned_unit)
        overdue = is_overdue(status, order.answered_at, order.deadline, now)
    return WorkOrderView(
        number=order.number or "",
        channel=Channel(order.channel),
        category=Category(order.category),
        mail_number=order.mail_number,
        customer_phone=order.customer_phone,
        customer_phone_masked=mask_phone(order.customer_phone) if order.customer_phone else None,
        customer_name=order.customer_name,
        sender_id=order.sender_id,
        description=order.description,
        priority=Priority(order.priority),
        assigned_unit=order.assigned_unit,
        assigned_to=order.assigned_to,
        county=order.county,
        status=status,
        opened_at=order.opened_at,
        deadline=order.deadline,
        remaining=remaining,
        overdue=overdue,
        answered_at=order.answered_at,
        closed_at=order.closed_at,
        callback_satisfied=order.callback_satisfied,
        responsible_unit=order.responsible_unit,
        contacts=order.contacts,
        external_id=order.external_id,
        history=tuple(HistoryLine(h.at, h.actor, h.action, h.detail) for h in order.history),
    )


def _pickup_view(pickup: PickupOrder, reminders: int) -> PickupView:
    return PickupView(
        number=pickup.number or "",
        sender_id=pickup.sender_id,
        channel=pickup.channel,
        address=pickup.address,
        phone_masked=mask_phone(pickup.phone),
        time_window=pickup.time_window,
        status=PickupStatus(pickup.status),
        reminders=reminders,
        created_at=pickup.created_at,
    )


def _order(uow: UnitOfWork, number: str, lock: bool = False) -> WorkOrder:
    order = uow.work_orders.get_by_number(number, lock=lock)
    if order is None:
        raise WorkOrderNotFound(f"没有编号为 {number} 的工单")
    return order


def _imported(uow: UnitOfWork, request: NewWorkOrder) -> WorkOrder | None:
    """The order this channel order was imported into or linked to before, if any."""
    if not request.external_id:
        return None
    return uow.work_orders.by_external_id(Channel(request.channel).value, request.external_id)


def _link(uow: UnitOfWork, order: WorkOrder, request: NewWorkOrder, now: datetime,
          actor: str) -> None:
    order.contacts += 1
    if request.external_id:
        uow.work_orders.add_source(order, Channel(request.channel).value, request.external_id, now)
    channel = Channel(request.channel)
    detail = f"同一邮件同类问题再次反映（{channel.label}）"
    if request.description:
        detail += f"：{request.description}"
    uow.work_orders.log(order, now, actor, "linked", detail)
    if Priority(request.priority).rank > Priority(order.priority).rank:
        order.priority = Priority(request.priority).value
        uow.work_orders.log(order, now, actor, "priority", Priority(request.priority).label)


def _insert(uow: UnitOfWork, rules: DeadlineRules, request: NewWorkOrder, now: datetime,
            actor: str, pickup_id: int | None = None) -> WorkOrder:
    channel, category = Channel(request.channel), Category(request.category)
    county = request.county
    if county is None and request.mail_number:
        # Filed under the county the mail is addressed to, when the store knows the mail.
        mail = uow.mail.get_by_number(request.mail_number)
        county = mail.recipient_area if mail is not None else None
    order = WorkOrder(
        channel=channel.value,
        category=category.value,
        mail_number=request.mail_number,
        customer_phone=request.customer_phone,
        customer_name=request.customer_name,
        sender_id=request.sender_id,
        description=request.description,
        priority=Priority(request.priority).value,
        assigned_unit=request.assigned_unit,
        county=county,
        external_id=request.external_id,
        status=WorkOrderStatus.NEW.value,
        opened_at=now,
        deadline=rules.deadline(channel.value, now, request.assigned_unit),
        contacts=1,
        pickup_id=pickup_id,
    )
    uow.work_orders.add(order)
    if request.external_id:
        uow.work_orders.add_source(order, channel.value, request.external_id, now)
    uow.work_orders.flush()
    order.number = f"GD{now:%Y%m%d}{order.id:05d}"
    uow.work_orders.log(order, now, actor, "created", f"{channel.label} · {category.label}")
    return order


def open_work_order(
    uow_factory: UowFactory, rules: DeadlineRules, request: NewWorkOrder, now: datetime,
    actor: str = "bot",
) -> Opened:
    """Open a work order, or link the request to the open one for the same mail and category.

    A channel order imported before (same channel and ``external_id``), whether it opened the
    order or was linked to it, is returned untouched (``duplicate_import``). Two
    workers opening the same mail and category at once end with one order: the loser of the
    race hits the partial unique index and links instead.

    Args:
        uow_factory: opens a unit of work.
        rules: the deadline policy.
        request: what the customer or the channel reported.
        now: the current time.
        actor: who opens it ("bot", "agent:<name>", "import:12345", ...), kept in the history.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        imported = _imported(uow, request)
        if imported is not None:
            return Opened(_view(imported, rules, now), created=False, duplicate_import=True)
        if request.mail_number:
            existing = uow.work_orders.open_for_mail(request.mail_number,
                                                     Category(request.category).value)
            if existing is not None:
                _link(uow, existing, request, now, actor)
                uow.commit()
                return Opened(_view(existing, rules, now), created=False)
        try:
            order = _insert(uow, rules, request, now, actor)
            uow.commit()
        except IntegrityError:
            uow.rollback()
        else:
            return Opened(_view(order, rules, now), created=True)
    # Lost a race with another worker: link to (or return) what the winner wrote.
    with uow_factory() as uow:
        imported = _imported(uow, request)
        if imported is not None:
            return Opened(_view(imported, rules, now), created=False, duplicate_import=True)
        existing = uow.work_orders.open_for_mail(request.mail_number or "",
                                                 Category(request.category).value)
        if existing is None:
            raise WorkOrderError("工单写入冲突，请重试")
        _link(uow, existing, request, now, actor)
        uow.commit()
        return Opened(_view(existing, rules, now), created=False)


def get_work_order(uow_factory: UowFactory, rules: DeadlineRules, number: str,
                   now: datetime) -> WorkOrderView:
    """The order with this number, as of `now`.

    Raises:
        WorkOrderNotFound: no such order.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        return _view(_order(uow, number), rules, now)


def find_work_orders(
    uow_factory: UowFactory, rules: DeadlineRules, now: datetime, *,
    mail_number: str | None = None, phone: str | None = None, sender_id: str | None = None,
) -> list[WorkOrderView]:
    """A customer's orders by mail number, phone or conversation, newest first."""
    now = as_store_time(now)
    with uow_factory() as uow:
        return [_view(o, rules, now)
                for o in uow.work_orders.find(mail_number, phone, sender_id)]


def list_work_orders(uow_factory: UowFactory, rules: DeadlineRules,
                     now: datetime) -> list[WorkOrderView]:
    """Every order as of `now`: overdue open ones first, then by deadline."""
    now = as_store_time(now)
    with uow_factory() as uow:
        views = [_view(o, rules, now) for o in uow.work_orders.list()]
    return sorted(views, key=lambda v: (not v.overdue, not v.is_open, v.deadline))


# The steps an agent may take only on an order they hold (start takes an unheld one).
_HOLDER_STEPS = frozenset({"feedback", "callback", "responsibility", "close"})


def _check_reach(order: WorkOrder, actor: Staff | str, step: str) -> None:
    """Refuse a step the actor may not take on this order (see the module docstring)."""
    if not isinstance(actor, Staff) or actor.supervisor:
        return
    holder = order.assigned_to
    if step == "reopen":
        raise WorkOrderForbidden("只有主管可以重新打开工单（重新打开会清除反馈并重新计时）")
    if step == "start":
        if holder not in (None, actor.username):
            raise WorkOrderForbidden(f"工单 {order.number} 已由 {holder} 负责处理，您不能接手")
        return
    if step in _HOLDER_STEPS and holder != actor.username:
        if holder is None:
            raise WorkOrderForbidden(f"工单 {order.number} 还没有人负责：请先点“开始处理”接手")
        raise WorkOrderForbidden(f"工单 {order.number} 由 {holder} 负责处理，您不能操作")
    if step not in _HOLDER_STEPS:
        raise WorkOrderForbidden("您不能进行这项操作")


def _change(
    uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
    actor: Staff | str, to: WorkOrderStatus | Callable[[WorkOrder], WorkOrderStatus | None] | None,
    action: str, detail: str, apply: Callable[[WorkOrder, datetime], None] | None = None, *,
    step: str, check: Callable[[WorkOrder], str | None] | None = None, take: bool = False,
) -> WorkOrderView:
    """Take one step on an order under a row lock: reach, the transition, `check`, `apply`.

    `to` is the new status (a function of the locked order, or None to keep it); `check` may
    refuse (raise) or return the history detail to write instead of `detail`; with `take`, a
    `Staff` actor becomes the holder of an order nobody holds.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        order = _order(uow, number, lock=True)
        _check_reach(order, actor, step)
        target = to(order) if callable(to) else to
        if target is not None:
            current = WorkOrderStatus(order.status)
            if target not in TRANSITIONS[current]:
                raise WorkOrderError(
                    f"工单 {number} 当前为“{current.label}”，不能改为“{target.label}”")
        if check is not None:
            detail = check(order) or detail
        if take and isinstance(actor, Staff) and order.assigned_to is None:
            if not uow.work_orders.take(order, actor.username):  # another agent was quicker
                raise WorkOrderForbidden(f"工单 {number} 刚被其他坐席接手，请刷新页面")
        if target is not None:
            order.status = target.value
        if apply is not None:
            apply(order, now)
        uow.work_orders.log(order, now, actor_name(actor), action, detail)
        uow.commit()
        return _view(order, rules, now)


def start_work(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
               actor: Staff | str, note: str = "") -> WorkOrderView:
    """Take the order in hand (new/reopened/answered → in progress).

    A `Staff` member starting an order nobody holds takes it (``assigned_to``); an order in
    progress that nobody holds (from before orders had holders) is taken without a change of
    status.
    """

    def to(order: WorkOrder) -> WorkOrderStatus | None:
        takes_over = (isinstance(actor, Staff) and order.assigned_to is None
                      and order.status == S.IN_PROGRESS.value)
        return None if takes_over else S.IN_PROGRESS

    return _change(uow_factory, rules, number, now, actor, to, "in_progress", note,
                   step="start", take=True)


def record_feedback(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
                    actor: Staff | str, text: str) -> WorkOrderView:
    """The customer was given the feedback `text`; the first feedback stops the clock."""
    if not text.strip():
        raise WorkOrderError("反馈内容不能为空")
    def apply(order: WorkOrder, at: datetime) -> None:
        if order.answered_at is None:
            order.answered_at = at

    return _change(uow_factory, rules, number, now, actor, S.ANSWERED, "feedback", text, apply,
                   step="feedback")


def record_callback(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
                    actor: Staff | str, satisfied: bool, note: str = "") -> WorkOrderView:
    """The callback (回访) was made; the customer is satisfied or not."""

    def apply(order: WorkOrder, _at: datetime) -> None:
        order.callback_satisfied = satisfied

    detail = ("满意" if satisfied else "不满意") + (f"：{note}" if note else "")
    return _change(uow_factory, rules, number, now, actor, S.CALLED_BACK, "callback", detail, apply,
                   step="callback")


def decide_responsibility(uow_factory: UowFactory, rules: DeadlineRules, number: str,
                          now: datetime, actor: Staff | str, unit: str,
                          note: str = "") -> WorkOrderView:
    """Record the unit held responsible (判责), confirmed or changed by an agent."""
    if not unit.strip():
        raise WorkOrderError("责任单位不能为空")

    def apply(order: WorkOrder, _at: datetime) -> None:
        order.responsible_unit = unit.strip()

    detail = unit.strip() + (f"：{note}" if note else "")
    return _change(uow_factory, rules, number, now, actor, None, "responsibility", detail, apply,
                   step="responsibility")


# How the history marks a close without feedback (a supervisor's decision, with the reason).
UNANSWERED_CLOSE = "未反馈客户即结案（主管决定），理由："


def close_work_order(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
                     actor: Staff | str, note: str = "") -> WorkOrderView:
    """Close the order (结案).

    A `Staff` member closes only an order whose feedback was recorded; a supervisor may close
    one without feedback when `note` gives the reason (the history says so).
    """
    def check(order: WorkOrder) -> str | None:
        if order.answered_at is not None or not isinstance(actor, Staff):
            return None
        if not actor.supervisor:
            raise WorkOrderForbidden(
                "工单还没有反馈客户，不能结案：请先提交反馈。确需未反馈结案的，由主管填写理由后结案")
        if not note.strip():
            raise WorkOrderError("工单还没有反馈客户：未反馈结案必须填写理由")
        return UNANSWERED_CLOSE + note.strip()

    def apply(order: WorkOrder, at: datetime) -> None:
        order.closed_at = at

    return _change(uow_factory, rules, number, now, actor, S.CLOSED, "closed", note, apply,
                   step="close", check=check)


def reopen_work_order(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
                      actor: Staff | str, reason: str) -> WorkOrderView:
    """Reopen an answered or closed order; it gets a fresh deadline from now.

    From the workbench only a supervisor may (`Staff` with ``supervisor``); the order stays
    with the agent who held it.
    """
    if not reason.strip():
        raise WorkOrderError("重新打开工单需要说明原因")
    def apply(order: WorkOrder, at: datetime) -> None:
        order.closed_at = None
        order.answered_at = None
        order.callback_satisfied = None
        order.deadline = rules.deadline(order.channel, at, order.assigned_unit)

    return _change(uow_factory, rules, number, now, actor, S.REOPENED, "reopened", reason, apply,
                   step="reopen")


def raise_priority(uow_factory: UowFactory, rules: DeadlineRules, number: str, now: datetime,
                   actor: str, priority: Priority, reason: str) -> WorkOrderView:
    """Raise the order's priority (never lowers it); the history says why."""

    def apply(order: WorkOrder, _at: datetime) -> None:
        if Priority(priority).rank > Priority(order.priority).rank:
            order.priority = Priority(priority).value

    detail = f"{Priority(priority).label}：{reason}"
    return _change(uow_factory, rules, number, now, actor, None, "priority", detail, apply,
                   step="priority")


def book_pickup(
    uow_factory: UowFactory, *, channel: str, address: str, phone: str, time_window: str,
    now: datetime, sender_id: str | None = None,
) -> tuple[PickupView, bool]:
    """Book a collection; the same open booking (address, phone, window) is not booked twice.

    Returns:
        The booking and whether it was created now.
    """
    now = as_store_time(now)
    for field, value in (("地址", address), ("电话", phone), ("时间段", time_window)):
        if not value or not value.strip():
            raise WorkOrderError(f"预约上门揽收需要{field}")
    with uow_factory() as uow:
        same = uow.pickups.latest_open(sender_id=sender_id, phone=phone)
        if (same is not None and same.address == address.strip()
                and same.time_window == time_window.strip() and same.phone == phone):
            return _pickup_view(same, uow.pickups.count_reminders(same.id)), False
        pickup = PickupOrder(
            sender_id=sender_id, channel=Channel(channel).value, address=address.strip(),
            phone=phone, time_window=time_window.strip(), status=PickupStatus.BOOKED.value,
            created_at=now, updated_at=now,
        )
        uow.pickups.add(pickup)
        uow.pickups.flush()
        pickup.number = f"LS{now:%Y%m%d}{pickup.id:05d}"
        uow.commit()
        return _pickup_view(pickup, 0), True


def remind_pickup(
    uow_factory: UowFactory, rules: DeadlineRules, *, turn_key: str, now: datetime,
    sender_id: str | None = None, phone: str | None = None, pickup_number: str | None = None,
) -> Reminder:
    """Count a customer's chase of their pickup, once per customer turn, and escalate.

    The 3rd reminder opens a high-priority pickup-service order for the supervisor; the 4th
    raises it to urgent. Retries of the same turn (same ``turn_key``) count nothing new.

    Args:
        uow_factory: opens a unit of work.
        rules: the deadline policy (for the escalation order's deadline).
        turn_key: identifies the customer turn (e.g. sender id + message id).
        now: the current time.
        sender_id, phone, pickup_number: how to find the booking (number first).
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        pickup = (uow.pickups.get_by_number(pickup_number) if pickup_number else None) \
            or uow.pickups.latest_open(sender_id=sender_id, phone=phone)
        if pickup is None:
            return Reminder(None, 0, False, None)
        pickup_id, number = pickup.id, pickup.number or ""
        uow.pickups.add_reminder(PickupReminder(pickup_id=pickup_id, turn_key=turn_key, at=now))
        try:
            uow.commit()
            counted = True
        except IntegrityError:
            uow.rollback()
            counted = False
    with uow_factory() as uow:
        pickup = uow.pickups.get_by_number(number)
        assert pickup is not None
        count = uow.pickups.count_reminders(pickup_id)
        try:
            escalation, escalated_now = _escalate(uow, rules, pickup, count, counted, now)
            uow.commit()
        except IntegrityError:
            # Another worker opened the escalation for this pickup at the same moment.
            uow.rollback()
            escalation, escalated_now = uow.work_orders.for_pickup(pickup_id), None
        view = _view(escalation, rules, now) if escalation is not None else None
        return Reminder(_pickup_view(pickup, count), count, counted, view, escalated_now)


def _escalate(uow: UnitOfWork, rules: DeadlineRules, pickup: PickupOrder, count: int,
              counted: bool, now: datetime) -> tuple[WorkOrder | None, str | None]:
    escalation = uow.work_orders.for_pickup(pickup.id)
    if not counted:
        return escalation, None
    if escalation is None:
        if count < ESCALATE_AT:
            return None, None
        escalation = _insert(uow, rules, NewWorkOrder(
            channel=pickup.channel, category=Category.PICKUP_SERVICE,
            description=f"预约揽收 {pickup.number} 第{count}次催促仍未上门（{pickup.time_window}）",
            customer_phone=pickup.phone, sender_id=pickup.sender_id,
            priority=Priority.URGENT if count >= TOP_PRIORITY_AT else Priority.HIGH,
        ), now, "bot", pickup_id=pickup.id)
        return escalation, "opened"
    if count >= TOP_PRIORITY_AT and Priority(escalation.priority) is not Priority.URGENT:
        escalation.priority = Priority.URGENT.value
        uow.work_orders.log(escalation, now, "bot", "priority",
                            f"{Priority.URGENT.label}：第{count}次催揽收")
        return escalation, "raised"
    uow.work_orders.log(escalation, now, "bot", "reminder", f"客户第{count}次催揽收")
    return escalation, None
