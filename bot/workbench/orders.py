"""Work-order pages of the workbench: the list, the detail page and one POST per action.

* ``GET /orders`` (and its JSON twin ``GET /api/orders``): the orders filtered by channel,
  status, county, category and "overdue only"; overdue ones first, then open before closed,
  then by deadline; at most `LIST_LIMIT` rows with the total shown. One query, no history.
* ``GET /orders/{number}``: fields, countdown, history, the mail's tracking trail, the
  responsibility suggestion and the drafted feedback and callback script, with a form per action.
* ``POST /orders/{number}/{start,feedback,callback,responsibility,close,reopen}``: calls the
  `bot.store.workorders` service with the account as actor (`wo.Staff`; the service writes the
  history), then redirects (303) to the detail page with a message. A request the rules refuse
  re-renders the page with the service's Chinese message and changes nothing: 403 when the
  account may not take that step on that order (see below), 409 when the order's state does
  not allow it, 400 when a field is too long; a malformed number is a 404 like an unknown one.

Who may act (enforced by `bot.store.workorders`): an agent starts an order nobody holds and it
becomes theirs; only the agent holding an order, or a supervisor (or admin), gives feedback,
records the callback and the responsibility, and closes it; an order without feedback is
closed only by a supervisor who writes the reason; only a supervisor reopens. The page offers
only the forms the account may use.

Agents see phone numbers and what customers wrote as it is; other roles see them masked
(`bot.workbench.privacy`). Templates escape everything.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import quote

from aiohttp import web

from bot.store import workorders as wo
from bot.store.accounts import AccountView, Role
from bot.store.models import WorkOrder, as_store_time
from bot.store.status import Category, Channel, Priority, WorkOrderStatus
from bot.store.uow import UowFactory
from bot.text.dates import iso_local
from bot.text.masking import mask_name, mask_signer
from bot.workbench import keys
from bot.workbench.auth import redirect, require_role, signed_in
from bot.workbench.keys import POLICY, UOWS, in_thread
from bot.workbench.privacy import sees_personal_data, shown_phone, shown_text
from bot.workbench.views import render
from bot.workorders.followup import OrderFollowup, draft_for_order, mail_facts
from bot.workorders.policy import DeadlinePolicy
from bot.workorders.responsibility import Confidence, MailFacts, status_label
from bot.workorders.responsibility import Role as BlameRole

LIST_LIMIT = 200
SUMMARY_CHARS = 40
S = WorkOrderStatus

# Work-order numbers as `bot.store.workorders` makes them (GD + date + id), at most the column.
_NUMBER = re.compile(r"GD[0-9]{13,22}", re.IGNORECASE)
# The most characters each action field may have, and its name in the error.
FIELD_LIMITS: dict[str, tuple[int, str]] = {
    "text": (2000, "反馈内容"),
    "note": (2000, "说明"),
    "reason": (500, "原因"),
    "unit": (128, "责任单位"),  # work_order.responsible_unit
    "result": (16, "回访结果"),
}

ACTION_LABELS: dict[str, str] = {
    "created": "创建工单",
    "linked": "再次反映（合并）",
    "priority": "调整优先级",
    "reminder": "客户催揽收",
    "in_progress": "开始处理",
    "feedback": "反馈客户",
    "callback": "回访",
    "responsibility": "判责",
    "closed": "结案",
    "reopened": "重新打开",
    "call": "来电",
}

# What the detail page says after a successful action (the redirect carries only the key).
DONE_MESSAGES: dict[str, str] = {
    "start": "已开始处理此工单。",
    "feedback": "反馈已记录，工单时限已停止计时。",
    "callback": "回访结果已记录。",
    "responsibility": "判责结果已记录。",
    "close": "工单已结案。",
    "reopen": "工单已重新打开，时限重新计算。",
    "created": "工单已保存。",
    "linked": "同一邮件同类问题已有在办工单，本次反映已合并到这张工单。",
}


def _policy(request: web.Request) -> DeadlinePolicy:
    return request.app[POLICY]


def is_supervisor(account: AccountView) -> bool:
    """Supervisors and admins act on any order."""
    return account.role in (Role.SUPERVISOR, Role.ADMIN)


def staff(account: AccountView) -> wo.Staff:
    """The account as the work-order services see it."""
    return wo.Staff(account.username, supervisor=is_supervisor(account))


# --- formatting ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """A store time (naive Beijing time) as ISO 8601 with its offset, for scripts."""
    text = iso_local(moment)
    assert text is not None
    return text


def when(moment: datetime | None) -> str:
    """A store time as agents read it: 2025-06-10 14:30 ("" for None)."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else ""


def remaining_text(seconds: float) -> str:
    """The countdown text, as ``PD.remaining`` in static/common.js writes it."""
    overdue = seconds < 0
    s = abs(math.floor(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        text = f"{days}天{hours}小时"
    elif hours:
        text = f"{hours}小时{minutes:02d}分"
    else:
        text = f"{minutes}分{s:02d}秒"
    return f"超时 {text}" if overdue else text


@dataclass(frozen=True)
class Countdown:
    """What the deadline cell shows: a live countdown while the clock runs, else a fixed text."""

    text: str
    overdue: bool
    deadline_iso: str | None  # set while the clock runs (open and not yet answered)


def countdown(status: WorkOrderStatus, deadline: datetime, answered_at: datetime | None,
              overdue: bool, now: datetime) -> Countdown:
    """The deadline cell of an order as of `now`."""
    if answered_at is not None:
        late = "超时" if answered_at > deadline else "按时"
        return Countdown(f"已反馈（{late}）", False, None)
    if status is S.CLOSED:
        return Countdown("已结案（未反馈）", False, None)
    return Countdown(remaining_text((deadline - now).total_seconds()), overdue, iso(deadline))


# --- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    """One line of the list: the order's columns without its history."""

    number: str
    channel: Channel
    category: Category
    county: str | None
    status: WorkOrderStatus
    priority: Priority
    mail_number: str | None
    customer_phone: str | None
    description: str
    deadline: datetime
    answered_at: datetime | None
    overdue: bool
    assigned_to: str | None = None

    @property
    def is_open(self) -> bool:
        """Not closed yet (open orders sort before closed ones)."""
        return self.status is not S.CLOSED


def _row(order: WorkOrder, now: datetime) -> OrderRow:
    status = WorkOrderStatus(order.status)
    return OrderRow(
        number=order.number or "",
        channel=Channel(order.channel),
        category=Category(order.category),
        county=order.county,
        status=status,
        priority=Priority(order.priority),
        mail_number=order.mail_number,
        customer_phone=order.customer_phone,
        description=order.description,
        deadline=order.deadline,
        answered_at=order.answered_at,
        overdue=wo.is_overdue(status, order.answered_at, order.deadline, now),
        assigned_to=order.assigned_to,
    )


def _enum_or_none(enum: type[Any], value: str | None) -> Any:
    try:
        return enum(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class OrderFilters:
    """The list's filters, from the query string; unknown values filter nothing."""

    channel: Channel | None = None
    status: WorkOrderStatus | None = None
    county: str | None = None
    category: Category | None = None
    overdue_only: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> OrderFilters:
        """Read ``channel``, ``status``, ``county``, ``category`` and ``overdue`` (=1)."""
        return cls(
            channel=_enum_or_none(Channel, query.get("channel")),
            status=_enum_or_none(WorkOrderStatus, query.get("status")),
            county=(query.get("county") or "").strip() or None,
            category=_enum_or_none(Category, query.get("category")),
            overdue_only=query.get("overdue") in ("1", "on", "true"),
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set (the page then offers to clear them)."""
        return self != OrderFilters()


@dataclass(frozen=True)
class OrderList:
    """What the list shows: the first rows that pass the filters, how many passed, the counties."""

    rows: list[OrderRow]
    total: int
    counties: list[str]


def filtered_orders(uows: UowFactory, now: datetime, filters: OrderFilters,
                    limit: int = LIST_LIMIT) -> OrderList:
    """The orders passing `filters` (at most `limit`), their total and every county known."""
    with uows() as uow:
        orders, total = uow.work_orders.page(
            as_store_time(now), limit=limit, overdue_only=filters.overdue_only,
            channel=filters.channel.value if filters.channel else None,
            status=filters.status.value if filters.status else None,
            county=filters.county,
            category=filters.category.value if filters.category else None)
        return OrderList([_row(o, now) for o in orders], total, uow.work_orders.counties())


def _summary(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


def _row_context(account: AccountView, row: OrderRow, now: datetime) -> dict[str, Any]:
    description = shown_text(account, row.description)
    return {
        "number": row.number,
        "channel": row.channel.label,
        "category": row.category.label,
        "county": row.county or "",
        "status": row.status.label,
        "priority": row.priority,
        "mail_number": row.mail_number or "",
        "phone": shown_phone(account, row.customer_phone),
        "description": description,
        "summary": _summary(description),
        "deadline": when(row.deadline),
        "overdue": row.overdue,
        "countdown": countdown(row.status, row.deadline, row.answered_at, row.overdue, now),
    }


async def _list(request: web.Request) -> tuple[OrderFilters, OrderList, datetime]:
    filters = OrderFilters.from_query(request.query)
    now = keys.now(request)
    found = await in_thread(filtered_orders, request.app[UOWS], now, filters, LIST_LIMIT)
    return filters, found, now


@require_role(Role.AGENT, Role.SUPERVISOR)
async def orders_page(request: web.Request) -> web.StreamResponse:
    """GET /orders: the filtered list with live countdowns."""
    filters, found, now = await _list(request)
    account = signed_in(request)
    return render(request, "orders.html", {
        "rows": [_row_context(account, row, now) for row in found.rows],
        "total": found.total,
        "limit": LIST_LIMIT,
        "filters": filters,
        "channels": list(Channel),
        "statuses": list(WorkOrderStatus),
        "categories": list(Category),
        "counties": found.counties,
        "server_time": iso(now),
    })


@require_role(Role.AGENT, Role.SUPERVISOR)
async def orders_api(request: web.Request) -> web.StreamResponse:
    """GET /api/orders: the same list as JSON (same query parameters)."""
    _filters, found, now = await _list(request)
    account = signed_in(request)
    orders = []
    for row in found.rows:
        orders.append({
            "number": row.number,
            "channel": row.channel.value,
            "channel_label": row.channel.label,
            "category": row.category.value,
            "category_label": row.category.label,
            "county": row.county,
            "status": row.status.value,
            "status_label": row.status.label,
            "priority": row.priority.value,
            "priority_label": row.priority.label,
            "mail_number": row.mail_number,
            "customer_phone": shown_phone(account, row.customer_phone),
            "description": shown_text(account, row.description),
            "deadline": iso(row.deadline),
            "answered_at": iso(row.answered_at) if row.answered_at else None,
            "overdue": row.overdue,
            "assigned_to": row.assigned_to,
        })
    return web.json_response({"server_time": iso(now), "total": found.total,
                              "limit": LIST_LIMIT, "orders": orders})


# --- the detail page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderDetail:
    """Everything the detail page shows: the order with its history, drafts and mail trail."""

    followup: OrderFollowup
    mail: MailFacts | None


def order_detail(uows: UowFactory, rules: DeadlinePolicy, number: str,
                 now: datetime) -> OrderDetail:
    """The order with its suggestion, drafts and mail (raises `WorkOrderNotFound`)."""
    followup = draft_for_order(uows, rules, number, now)
    mail_number = followup.order.mail_number
    return OrderDetail(followup, mail_facts(uows, mail_number) if mail_number else None)


def _allowed(order: wo.WorkOrderView, account: AccountView) -> dict[str, bool]:
    """Which action forms the page offers this account (the services check again)."""
    nxt = wo.TRANSITIONS[order.status]
    supervisor = is_supervisor(account)
    holds = order.assigned_to == account.username
    acts = supervisor or holds
    take_over = order.assigned_to is None and order.status is S.IN_PROGRESS
    return {
        "start": (S.IN_PROGRESS in nxt or take_over) and (acts or order.assigned_to is None),
        "feedback": acts and S.ANSWERED in nxt,
        "callback": acts and S.CALLED_BACK in nxt,
        "responsibility": acts,
        "close": acts and S.CLOSED in nxt and (supervisor or order.answered_at is not None),
        "reopen": supervisor and S.REOPENED in nxt,
    }


def _reach_note(order: wo.WorkOrderView, account: AccountView) -> str | None:
    """Why the page offers this account fewer actions than the order's state allows."""
    if is_supervisor(account) or order.status is S.CLOSED:
        return None
    if order.assigned_to is None:
        return "此工单还没有人负责：点“开始处理”接手后即由您负责。"
    if order.assigned_to != account.username:
        return f"此工单由 {order.assigned_to} 负责处理，您只能查看。"
    if order.answered_at is None and S.CLOSED in wo.TRANSITIONS[order.status]:
        return "提交反馈后才能结案。"
    return None


def mail_context(account: AccountView, mail: MailFacts | None) -> dict[str, Any] | None:
    """A mail's facts for the order and mail pages' templates, newest scan first; the signer
    masked unless `account` may see personal data."""
    if mail is None:
        return None
    signer = mail.signed_by or ""
    if signer and not sees_personal_data(account):
        signer = mask_signer(signer)
    return {
        "number": mail.number,
        "product": mail.product,
        "status": status_label(mail.status_code),
        "route": f"{mail.sender_area} → {mail.recipient_area}",
        "posted_at": when(mail.posted_at),
        "promised_by": when(mail.promised_by),
        "signed_by": signer,
        # Newest scan first, as tracking pages show it.
        "trail": [{"at": when(e.occurred_at), "place": e.place, "unit": e.unit,
                   "status": status_label(e.status_code),
                   "description": shown_text(account, e.description)}
                  for e in reversed(mail.trail)],
    }


def _detail_context(account: AccountView, detail: OrderDetail, now: datetime) -> dict[str, Any]:
    order = detail.followup.order
    suggestion = detail.followup.suggestion
    drafts = detail.followup.drafts
    name = order.customer_name or ""
    if name and not sees_personal_data(account):
        name = mask_name(name)
    return {
        "order": order,
        "phone": shown_phone(account, order.customer_phone),
        "customer_name": name,
        "description": shown_text(account, order.description),
        "countdown": countdown(order.status, order.deadline, order.answered_at, order.overdue, now),
        "history": [{"at": when(line.at), "actor": line.actor,
                     "action": ACTION_LABELS.get(line.action, line.action),
                     "detail": shown_text(account, line.detail)}
                    for line in reversed(order.history)],
        "mail": mail_context(account, detail.mail),
        "suggestion": {
            "unit": suggestion.unit or "",
            "role": BlameRole(suggestion.role).label,
            "confidence": Confidence(suggestion.confidence).label,
            "reason": suggestion.reason,
        },
        "drafts": {
            "feedback": shown_text(account, drafts.feedback),
            "callback_script": shown_text(account, drafts.callback_script),
            "responsibility_note": shown_text(account, drafts.responsibility_note),
        },
        "allowed": _allowed(order, account),
        "reach_note": _reach_note(order, account),
        "close_needs_reason": order.answered_at is None,
        "when": when,
        "server_time": iso(now),
    }


def _not_found(request: web.Request, number: str) -> web.Response:
    return render(request, "order.html", {"missing": number}, status=404)


async def _detail_page(request: web.Request, number: str, *, status: int = 200,
                       error: str | None = None, failed: str | None = None,
                       values: Mapping[str, str] | None = None) -> web.Response:
    now = keys.now(request)
    try:
        detail = await in_thread(order_detail, request.app[UOWS], _policy(request), number, now)
    except wo.WorkOrderNotFound:
        return _not_found(request, number)
    context = _detail_context(signed_in(request), detail, now)
    done = request.query.get("done", "") if error is None else ""
    context.update({
        "missing": None,
        "error": error,
        "done": DONE_MESSAGES.get(done),
        # The form that was refused keeps what the agent typed.
        "failed": failed,
        "values": dict(values or {}),
    })
    return render(request, "order.html", context, status=status)


def _number(request: web.Request) -> str | None:
    """The order number in the path, or None when it cannot be one."""
    number = request.match_info["number"]
    return number if _NUMBER.fullmatch(number) else None


def _missing(request: web.Request) -> web.Response:
    return _not_found(request, request.match_info["number"][:SUMMARY_CHARS])


@require_role(Role.AGENT, Role.SUPERVISOR)
async def order_page(request: web.Request) -> web.StreamResponse:
    """GET /orders/{number}: the order, its history, trail, suggestion, drafts and actions."""
    number = _number(request)
    if number is None:
        return _missing(request)
    return await _detail_page(request, number)


# --- actions -----------------------------------------------------------------------------------


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _too_long(form: Mapping[str, Any]) -> str | None:
    """The error for the first field over its limit, or None."""
    for name, (limit, label) in FIELD_LIMITS.items():
        if len(_field(form, name)) > limit:
            return f"{label}太长（最多 {limit} 字），未保存。"
    return None


async def _refuse(request: web.Request, number: str, done: str, status: int,
                  error: str) -> web.Response:
    """The detail page again with `error`, keeping what was typed in the refused form."""
    form = await request.post()
    values = {key: _field(form, key)[:FIELD_LIMITS.get(key, (2000, ""))[0]]
              for key in form if key != "csrf_token"}
    return await _detail_page(request, number, status=status, error=error, failed=done,
                              values=values)


async def _perform(request: web.Request, done: str, service: Callable[..., wo.WorkOrderView],
                   *args: Any) -> web.StreamResponse:
    """Run one service call as the logged-in account and answer with a redirect or the error."""
    number = _number(request)
    if number is None:
        return _missing(request)
    too_long = _too_long(await request.post())
    if too_long is not None:
        return await _refuse(request, number, done, 400, too_long)
    try:
        view = await in_thread(service, request.app[UOWS], _policy(request), number,
                                keys.now(request), staff(signed_in(request)), *args)
    except wo.WorkOrderNotFound:
        return _not_found(request, number)
    except wo.WorkOrderForbidden as exc:
        return await _refuse(request, number, done, 403, str(exc))
    except wo.WorkOrderError as exc:
        return await _refuse(request, number, done, 409, str(exc))
    return redirect(f"/orders/{quote(view.number)}?done={done}")


@require_role(Role.AGENT, Role.SUPERVISOR)
async def start(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/start: take the order in hand (处理中)."""
    form = await request.post()
    return await _perform(request, "start", wo.start_work, _field(form, "note").strip())


@require_role(Role.AGENT, Role.SUPERVISOR)
async def feedback(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/feedback: the feedback given to the customer (field ``text``)."""
    form = await request.post()
    return await _perform(request, "feedback", wo.record_feedback, _field(form, "text").strip())


@require_role(Role.AGENT, Role.SUPERVISOR)
async def callback(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/callback: the callback result (``result`` satisfied/unsatisfied)."""
    form = await request.post()
    result = _field(form, "result")
    number = _number(request)
    if number is not None and result not in ("satisfied", "unsatisfied"):
        return await _refuse(request, number, "callback", 400, "请选择回访结果：满意或不满意。")
    return await _perform(request, "callback", wo.record_callback, result == "satisfied",
                          _field(form, "note").strip())


@require_role(Role.AGENT, Role.SUPERVISOR)
async def responsibility(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/responsibility: the unit held responsible (``unit``, ``note``)."""
    form = await request.post()
    return await _perform(request, "responsibility", wo.decide_responsibility,
                          _field(form, "unit"), _field(form, "note").strip())


@require_role(Role.AGENT, Role.SUPERVISOR)
async def close(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/close: close the order (结案); ``note`` is the reason a supervisor
    gives for closing without feedback."""
    form = await request.post()
    return await _perform(request, "close", wo.close_work_order, _field(form, "note").strip())


@require_role(Role.AGENT, Role.SUPERVISOR)
async def reopen(request: web.Request) -> web.StreamResponse:
    """POST /orders/{number}/reopen: reopen with a reason (field ``reason``)."""
    form = await request.post()
    return await _perform(request, "reopen", wo.reopen_work_order, _field(form, "reason"))


def setup_routes(app: web.Application) -> None:
    """The work-order routes (the deadline policy is the app's, `keys.POLICY`)."""
    app.router.add_get("/orders", orders_page, name="orders")
    app.router.add_get("/api/orders", orders_api, name="api_orders")
    app.router.add_get("/orders/{number}", order_page, name="order")
    app.router.add_post("/orders/{number}/start", start)
    app.router.add_post("/orders/{number}/feedback", feedback)
    app.router.add_post("/orders/{number}/callback", callback)
    app.router.add_post("/orders/{number}/responsibility", responsibility)
    app.router.add_post("/orders/{number}/close", close)
    app.router.add_post("/orders/{number}/reopen", reopen)
