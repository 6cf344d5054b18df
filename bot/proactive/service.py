"""What the workbench's proactive pages call: the task list and detail, agents' actions, the VIP
list. Views carry Chinese labels and masked personal data; raw phone numbers only where an
agent must call (the VIP contact's, as on work orders)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.proactive.rules import Exception_, WatchReason
from bot.proactive.scan import notice_text
from bot.store.models import as_store_time
from bot.store.proactive import (
    ACTIONS,
    OPEN,
    ProactiveError,
    TaskLine,
    TaskRow,
    VipView,
    find_tasks,
    get_task,
    get_vip,
    list_vips,
    record_task_action,
    update_vip,
)
from bot.store.status import StatusCode, label_of
from bot.store.uow import UowFactory
from bot.text.masking import mask_signer, mask_text
from bot.workorders.responsibility import clock

__all__ = ["ACTIONS", "ProactiveError", "TaskDetail", "TaskView", "TrailLine", "VipView",
           "get_vip", "list_tasks", "list_vips", "record_action", "task_detail", "update_vip"]

FILTER_MAX = 128


@dataclass(frozen=True)
class TaskView:
    """A proactive task as the list shows it."""

    id: int
    number: str
    mail_number: str
    exception: str
    exception_label: str
    status: str
    detail: str
    reasons: tuple[str, ...]
    project: str | None
    vip_id: int | None
    vip_name: str | None
    responsible_unit: str | None
    opened_at: datetime
    deadline: datetime
    overdue: bool
    assigned_to: str | None
    handled_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None


@dataclass(frozen=True)
class TrailLine:
    """One scan of the mail, for the detail page (descriptions masked)."""

    at: str
    unit: str
    status_label: str
    description: str


@dataclass(frozen=True)
class TaskDetail:
    """A task with the mail's trail, its history, the customer, and drafts for the agent."""

    task: TaskView
    trail: tuple[TrailLine, ...]
    signed_by_masked: str | None
    history: tuple[TaskLine, ...]
    vip: VipView | None
    call_script: str
    notice_draft: str


def task_number(task_id: int) -> str:
    """The number agents quote: ZD000042."""
    return f"ZD{task_id:06d}"


def _view(row: TaskRow, now: datetime) -> TaskView:
    overdue = row.status == OPEN and row.handled_at is None and now > row.deadline
    return TaskView(
        id=row.id, number=task_number(row.id), mail_number=row.mail_number,
        exception=row.exception, exception_label=label_of(Exception_, row.exception),
        status=row.status, detail=row.detail,
        reasons=tuple(label_of(WatchReason, r) for r in row.watch_reasons.split(",") if r),
        project=row.project, vip_id=row.vip_id, vip_name=row.vip_name,
        responsible_unit=row.responsible_unit, opened_at=row.opened_at, deadline=row.deadline,
        overdue=overdue, assigned_to=row.assigned_to, handled_at=row.handled_at,
        closed_at=row.closed_at, close_reason=row.close_reason)


def _bounded(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > FILTER_MAX:
        raise ProactiveError("筛选条件过长")
    return value.strip()


def list_tasks(uow_factory: UowFactory, now: datetime, *, status: str | None = OPEN,
               exception: str | None = None, project: str | None = None,
               unit: str | None = None, overdue: bool | None = None,
               limit: int = 500) -> list[TaskView]:
    """Tasks by reason (exception), project, responsible unit and overdue state.

    Raises:
        ProactiveError: an unknown exception or status, or a filter too long.
    """
    now = as_store_time(now)
    if exception is not None and exception not in {e.value for e in Exception_}:
        raise ProactiveError("未知的异常类型")
    if status is not None and status not in (OPEN, "closed"):
        raise ProactiveError("未知的任务状态")
    rows = find_tasks(uow_factory, now, status=status, exception=exception,
                      project=_bounded(project), unit=_bounded(unit), overdue=overdue,
                      limit=max(1, min(limit, 2000)))
    views = [_view(r, now) for r in rows]
    return sorted(views, key=lambda v: (v.status != OPEN, not v.overdue, v.deadline, v.id))


def _call_script(task: TaskView) -> str:
    who = task.vip_name or "客户"
    unit = task.responsible_unit or "相关邮政网点"
    return (f"您好，这里是中国邮政客服中心。您（{who}）的邮件 {task.mail_number} "
            f"目前出现“{task.exception_label}”情况：{task.detail}。我们已联系{unit}核实处理，"
            "预计处理后第一时间告知您结果。请问您对这件邮件还有什么需要我们特别注意的吗？")


def task_detail(uow_factory: UowFactory, task_id: int, now: datetime) -> TaskDetail:
    """A task with the mail's whole trail (masked), its history, the VIP customer and drafts.

    Raises:
        ProactiveError: no such task.
    """
    now = as_store_time(now)
    row, history = get_task(uow_factory, task_id)
    task = _view(row, now)
    with uow_factory() as uow:
        mail = uow.mail.get_by_number(row.mail_number)
        trail = tuple(TrailLine(clock(e.occurred_at), e.unit,
                                label_of(StatusCode, e.status_code), mask_text(e.description))
                      for e in (mail.events if mail is not None else ()))
        signed = mask_signer(mail.signed_by) if mail is not None and mail.signed_by else None
    vip = get_vip(uow_factory, row.vip_id) if row.vip_id is not None else None
    return TaskDetail(task=task, trail=trail, signed_by_masked=signed, history=tuple(history),
                      vip=vip, call_script=_call_script(task),
                      notice_draft=notice_text(row.mail_number, row.exception,
                                               row.responsible_unit))


def record_action(uow_factory: UowFactory, task_id: int, action: str, actor: str,
                  now: datetime, note: str = "") -> TaskDetail:
    """Record an agent's action (notified, called, unit_contacted, resolved, note) on a task;
    ``resolved`` needs the outcome in `note` and closes the task.

    Raises:
        ProactiveError: see `bot.store.proactive.record_task_action`.
    """
    record_task_action(uow_factory, task_id, action, actor, now, note)
    return task_detail(uow_factory, task_id, now)
