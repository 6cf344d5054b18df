"""The proactive-service pages of the workbench (主动客服, issue 16).

* ``GET /proactive``: the proactive tasks, filtered by reason (the exception found), key
  project, responsible unit, overdue and status (open by default); overdue ones first, each
  with a live countdown to its deadline (static/proactive.js). At most `LIST_LIMIT` rows.
* ``GET /proactive/{id}``: the task with the mail's trail (masked), the VIP customer, the
  drafted call script and notice, the history, and the actions.
* ``POST /proactive/{id}/actions`` (form: ``action``, ``note``): notified, called,
  unit_contacted, note, or resolved (which needs the outcome in ``note`` and closes the
  task); written to the task's history by `bot.proactive.service.record_action`, then a
  redirect (303) to the detail page. A refused request re-renders the page with the reason:
  400 for a bad field, 409 when the task is closed, 404 for an unknown task.
* ``GET /proactive/vips`` and ``GET/POST /proactive/vips/{id}``: the VIP customers and the
  edit form (contacts, unit, account manager, consent, opt-out).

Who: agents and supervisors (admins hold every role); trainers get 403. Both act on tasks, as
on work orders. VIP edits: agents call these customers back (大客户回访) and are the first to
hear of a new contact or "no more notices", so they may change the contacts, withdraw consent
and mark an opt-out; what turns notices *on* again (giving consent, clearing an opt-out) and
the customer's unit and account manager are a supervisor's decision (`vip_edit_refusal`).

Agents see contact names and phones as they are; every other role sees them masked and the
edit form leaves them blank (blank = unchanged), so a masked value is never saved
(`bot.workbench.privacy`). Templates escape everything; the script writes text only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Mapping
from urllib.parse import urlencode

from aiohttp import web

from bot.proactive.rules import Exception_
from bot.proactive.service import (
    ACTIONS,
    ProactiveError,
    TaskDetail,
    TaskView,
    VipView,
    get_vip,
    list_tasks,
    list_vips,
    record_action,
    task_detail,
    update_vip,
)
from bot.store.accounts import AccountView, Role
from bot.store.proactive import CLOSED, NOTE_MAX, OPEN, task_facets
from bot.store.uow import UowFactory
from bot.text import phones
from bot.workbench import keys
from bot.workbench.auth import redirect, require_role, signed_in
from bot.workbench.keys import in_thread, path_id
from bot.workbench.orders import Countdown, iso, remaining_text, when
from bot.workbench.privacy import sees_personal_data, shown_text
from bot.workbench.views import render

LIST_LIMIT = 500
_STAFF = (Role.AGENT, Role.SUPERVISOR)

# The history's action names: the agents' (`ACTIONS`) and those the scan and sender write.
HISTORY_LABELS: dict[str, str] = {
    "opened": "发现异常，开启任务",
    "recovered": "轨迹恢复正常，自动关闭",
    "notice": "微信通知",
    **ACTIONS,
}
# What the detail page says after an action (the redirect carries only the action's name).
DONE_MESSAGES: dict[str, str] = {
    "notified": "已记录：已告知客户。",
    "called": "已记录：已致电客户。",
    "unit_contacted": "已记录：已联系责任单位。",
    "note": "备注已记录。",
    "resolved": "任务已处理完毕并关闭。",
}
# Actions whose note is the point of the action.
NOTE_REQUIRED: dict[str, str] = {
    "resolved": "处理完毕需要填写处理结果",
    "note": "请填写备注内容",
}
STATUS_CHOICES: dict[str, str] = {OPEN: "未关闭", CLOSED: "已关闭", "all": "全部"}
# The VIP form's fields and their bounds (the columns of vip_customer).
VIP_FIELDS: dict[str, tuple[int, str]] = {
    "contact_name": (64, "联系人"),
    "contact_phone": (32, "联系电话"),
    "unit": (128, "所属单位"),
    "account_manager": (64, "客户经理"),
}


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def is_supervisor(account: AccountView) -> bool:
    """Supervisors and admins."""
    return account.role in (Role.SUPERVISOR, Role.ADMIN)


# --- how a task reads ------------------------------------------------------------------------


def task_status_label(task: TaskView) -> str:
    """待处理, 跟进中, 已处理完毕 (an agent resolved it) or 已恢复正常 (the trail came right)."""
    if task.status == CLOSED:
        return {"resolved": "已处理完毕", "recovered": "已恢复正常"}.get(task.close_reason or "",
                                                                    "已关闭")
    return "跟进中" if task.handled_at is not None else "待处理"


def task_countdown(task: TaskView, now: datetime) -> Countdown:
    """The deadline cell: a live countdown until an agent first acts, then a fixed text."""
    if task.status == CLOSED:
        return Countdown(task_status_label(task), False, None)
    if task.handled_at is not None:
        late = "超时" if task.handled_at > task.deadline else "按时"
        return Countdown(f"已跟进（{late}）", False, None)
    return Countdown(remaining_text((task.deadline - now).total_seconds()), task.overdue,
                     iso(task.deadline))


def _task_context(account: AccountView, task: TaskView, now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "number": task.number,
        "mail_number": task.mail_number,
        "exception": task.exception,
        "exception_label": task.exception_label,
        "reasons": "、".join(task.reasons),
        "project": task.project or "",
        "vip_id": task.vip_id,
        "vip_name": task.vip_name or "",
        "unit": task.responsible_unit or "",
        "detail": shown_text(account, task.detail),
        "status": task.status,
        "status_label": task_status_label(task),
        "open": task.status == OPEN,
        "overdue": task.overdue,
        "opened_at": when(task.opened_at),
        "deadline": when(task.deadline),
        "handled_at": when(task.handled_at),
        "closed_at": when(task.closed_at),
        "assigned_to": task.assigned_to or "",
        "countdown": task_countdown(task, now),
    }


def _vip_context(account: AccountView, vip: VipView) -> dict[str, Any]:
    raw = sees_personal_data(account)
    return {
        "id": vip.id,
        "name": vip.name,
        "contact_name": vip.contact_name if raw else vip.contact_name_masked,
        "contact_phone": vip.contact_phone if raw else vip.contact_phone_masked,
        "unit": vip.unit,
        "account_manager": vip.account_manager,
        "wechat_bound": vip.wechat_bound,
        "consent": vip.consent,
        "opted_out": vip.opted_out,
        "opted_out_at": when(vip.opted_out_at),
        "watched": vip.watched,
        "may_be_notified": vip.may_be_notified,
    }


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilters:
    """The list's filters, from the query string; an unknown reason or status filters nothing
    (status: open), a value longer than `FILTER_MAX` is refused by the service."""

    reason: str | None = None
    project: str | None = None
    unit: str | None = None
    overdue_only: bool = False
    status: str = OPEN

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> TaskFilters:
        """Read ``reason``, ``project``, ``unit``, ``overdue`` (=1) and ``status``."""
        reason = query.get("reason") or None
        status = query.get("status") or OPEN
        return cls(
            reason=reason if reason in {e.value for e in Exception_} else None,
            project=(query.get("project") or "").strip() or None,
            unit=(query.get("unit") or "").strip() or None,
            overdue_only=query.get("overdue") in ("1", "on", "true"),
            status=status if status in STATUS_CHOICES else OPEN,
        )

    @property
    def active(self) -> bool:
        """Whether any filter differs from the default (the page offers to clear them)."""
        return self != TaskFilters()


def _find(uows: UowFactory, now: datetime, filters: TaskFilters,
          ) -> tuple[list[TaskView], list[str], list[str]]:
    """The tasks passing `filters` and the units and projects to choose from (worker thread)."""
    tasks = list_tasks(uows, now, status=None if filters.status == "all" else filters.status,
                       exception=filters.reason, project=filters.project, unit=filters.unit,
                       overdue=True if filters.overdue_only else None, limit=LIST_LIMIT)
    units, projects = task_facets(uows)
    return tasks, units, projects


@require_role(*_STAFF)
async def tasks_page(request: web.Request) -> web.StreamResponse:
    """GET /proactive: the filtered task list."""
    account = signed_in(request)
    filters = TaskFilters.from_query(request.query)
    now = keys.now(request)
    error = None
    try:
        tasks, units, projects = await in_thread(_find, keys.uows(request), now, filters)
    except ProactiveError as exc:
        error, tasks = str(exc), []
        units, projects = await in_thread(task_facets, keys.uows(request))
        filters = TaskFilters(reason=filters.reason, overdue_only=filters.overdue_only,
                              status=filters.status)
    return render(request, "proactive.html", {
        "rows": [_task_context(account, t, now) for t in tasks],
        "limit": LIST_LIMIT,
        "filters": filters,
        "reasons": [(e.value, e.label) for e in Exception_],
        "statuses": STATUS_CHOICES,
        "units": units,
        "projects": projects,
        "error": error,
        "server_time": iso(now),
    }, status=400 if error else 200)


# --- the detail page and its actions ---------------------------------------------------------


def _detail_context(account: AccountView, detail: TaskDetail, now: datetime) -> dict[str, Any]:
    return {
        "task": _task_context(account, detail.task, now),
        "trail": [{"at": line.at, "unit": line.unit, "status": line.status_label,
                   "description": line.description} for line in reversed(detail.trail)],
        "signed_by": detail.signed_by_masked or "",
        "history": [{"at": when(line.at), "actor": line.actor,
                     "action": line.action,
                     "action_label": HISTORY_LABELS.get(line.action, line.action),
                     "detail": shown_text(account, line.detail)} for line in detail.history],
        "vip": _vip_context(account, detail.vip) if detail.vip is not None else None,
        "call_script": shown_text(account, detail.call_script),
        "notice_draft": detail.notice_draft,
        "actions": [(name, label) for name, label in ACTIONS.items()
                    if name not in ("resolved", "note")],
        "note_max": NOTE_MAX,
        "server_time": iso(now),
    }


async def _detail_page(request: web.Request, task_id: int, *, status: int = 200,
                       error: str | None = None, note: str = "",
                       failed: str = "") -> web.Response:
    now = keys.now(request)
    try:
        detail = await in_thread(task_detail, keys.uows(request), task_id, now)
    except ProactiveError:
        return render(request, "proactive_task.html", {"missing": task_id}, status=404)
    context = _detail_context(signed_in(request), detail, now)
    done = request.query.get("done", "") if error is None else ""
    context.update({"missing": None, "error": error, "done": DONE_MESSAGES.get(done),
                    "note": note[:NOTE_MAX], "failed": failed})
    return render(request, "proactive_task.html", context, status=status)


@require_role(*_STAFF)
async def task_page(request: web.Request) -> web.StreamResponse:
    """GET /proactive/{id}: the task, trail, customer, drafts, history and actions."""
    return await _detail_page(request, path_id(request))


def action_refusal(action: str, note: str) -> str | None:
    """Why the form's `action` with `note` cannot be recorded, or None (the service checks the
    same again; this answers before touching the store)."""
    if action not in ACTIONS:
        return "请选择要记录的操作"
    if len(note) > NOTE_MAX:
        return f"说明太长（最多 {NOTE_MAX} 字），未保存。"
    if action in NOTE_REQUIRED and not note.strip():
        return NOTE_REQUIRED[action]
    return None


@require_role(*_STAFF)
async def task_action(request: web.Request) -> web.StreamResponse:
    """POST /proactive/{id}/actions (form: ``action``, ``note``): record what was done."""
    task_id = path_id(request)
    form = await request.post()
    action, note = _field(form, "action"), _field(form, "note")
    refusal = action_refusal(action, note)
    if refusal is not None:
        return await _detail_page(request, task_id, status=400, error=refusal, note=note,
                                  failed=action)
    try:
        await in_thread(record_action, keys.uows(request), task_id, action,
                        signed_in(request).username, keys.now(request), note.strip())
    except ProactiveError as exc:
        # Unknown task: the page answers 404; otherwise the task is closed (409).
        return await _detail_page(request, task_id, status=409, error=str(exc), note=note,
                                  failed=action)
    return redirect(f"/proactive/{task_id}?{urlencode({'done': action})}")


# --- VIP customers ---------------------------------------------------------------------------


@require_role(*_STAFF)
async def vips_page(request: web.Request) -> web.StreamResponse:
    """GET /proactive/vips: every VIP customer."""
    account = signed_in(request)
    vips = await in_thread(list_vips, keys.uows(request))
    return render(request, "proactive_vips.html", {
        "vips": [_vip_context(account, v) for v in vips]})


@dataclass(frozen=True)
class VipChanges:
    """What the edit form asks to change (None: unchanged)."""

    contact_name: str | None = None
    contact_phone: str | None = None
    unit: str | None = None
    account_manager: str | None = None
    consent: bool | None = None
    opted_out: bool | None = None


def _yes_no(value: str) -> bool | None:
    return {"1": True, "0": False}.get(value)


def read_vip_form(form: Mapping[str, Any]) -> VipChanges:
    """The edit form as changes: a blank text field or a missing choice leaves the value.

    Raises:
        ProactiveError: a field too long, or a phone that is not one.
    """
    texts: dict[str, str | None] = {}
    for name, (limit, label) in VIP_FIELDS.items():
        value = _field(form, name).strip()
        if len(value) > limit:
            raise ProactiveError(f"{label}最多 {limit} 字")
        texts[name] = value or None
    phone = texts["contact_phone"]
    if phone is not None:
        digits = phones.normalise(phone)
        if digits is None:
            raise ProactiveError("联系电话格式不对")
        texts["contact_phone"] = digits
    return VipChanges(contact_name=texts["contact_name"], contact_phone=texts["contact_phone"],
                      unit=texts["unit"], account_manager=texts["account_manager"],
                      consent=_yes_no(_field(form, "consent")),
                      opted_out=_yes_no(_field(form, "opted_out")))


def vip_edit_refusal(account: AccountView, vip: VipView, changes: VipChanges) -> str | None:
    """Why `account` may not make `changes`, or None.

    Anyone here may change the contacts, withdraw consent or mark an opt-out; only a
    supervisor (or admin) gives consent, clears an opt-out, or changes the unit or the account
    manager.
    """
    if is_supervisor(account):
        return None
    if changes.consent is True and not vip.consent:
        return "只有主管可以登记客户同意接收通知"
    if changes.opted_out is False and vip.opted_out:
        return "只有主管可以撤销客户的退订"
    if changes.unit is not None and changes.unit != vip.unit:
        return "只有主管可以修改所属单位"
    if changes.account_manager is not None and changes.account_manager != vip.account_manager:
        return "只有主管可以修改客户经理"
    return None


def _vip_form_context(account: AccountView, vip: VipView) -> dict[str, Any]:
    return {"vip": _vip_context(account, vip), "supervisor": is_supervisor(account),
            "raw": sees_personal_data(account), "limits": VIP_FIELDS}


async def _vip_page(request: web.Request, vip_id: int, *, status: int = 200,
                    error: str | None = None) -> web.Response:
    try:
        vip = await in_thread(get_vip, keys.uows(request), vip_id)
    except ProactiveError:
        return render(request, "proactive_vip.html", {"missing": vip_id}, status=404)
    context = _vip_form_context(signed_in(request), vip)
    done = request.query.get("done") == "saved" and error is None
    context.update({"missing": None, "error": error, "done": "已保存。" if done else None})
    return render(request, "proactive_vip.html", context, status=status)


@require_role(*_STAFF)
async def vip_page(request: web.Request) -> web.StreamResponse:
    """GET /proactive/vips/{id}: one VIP customer and the edit form."""
    return await _vip_page(request, path_id(request))


@require_role(*_STAFF)
async def vip_save(request: web.Request) -> web.StreamResponse:
    """POST /proactive/vips/{id}: save the edit form (see `vip_edit_refusal` for who may)."""
    vip_id = path_id(request)
    account = signed_in(request)
    form = await request.post()
    try:
        changes = read_vip_form(form)
    except ProactiveError as exc:
        return await _vip_page(request, vip_id, status=400, error=str(exc))
    try:
        vip = await in_thread(get_vip, keys.uows(request), vip_id)
    except ProactiveError:
        return await _vip_page(request, vip_id)  # the 404 page
    refusal = vip_edit_refusal(account, vip, changes)
    if refusal is not None:
        return await _vip_page(request, vip_id, status=403, error=refusal)
    try:
        await in_thread(partial(
            update_vip, keys.uows(request), vip_id, keys.now(request),
            contact_name=changes.contact_name, contact_phone=changes.contact_phone,
            unit=changes.unit, account_manager=changes.account_manager,
            consent=changes.consent, opted_out=changes.opted_out))
    except ProactiveError as exc:
        return await _vip_page(request, vip_id, status=400, error=str(exc))
    return redirect(f"/proactive/vips/{vip_id}?done=saved")


def setup_routes(app: web.Application) -> None:
    """The proactive-service pages."""
    app.router.add_get("/proactive", tasks_page, name="proactive")
    app.router.add_get("/proactive/vips", vips_page, name="proactive_vips")
    app.router.add_get("/proactive/vips/{id}", vip_page, name="proactive_vip")
    app.router.add_post("/proactive/vips/{id}", vip_save)
    app.router.add_get("/proactive/{id}", task_page, name="proactive_task")
    app.router.add_post("/proactive/{id}/actions", task_action)

