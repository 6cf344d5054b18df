"""The call desk, manual work orders, mail search and channel-export uploads of the workbench.

* ``/calls``: an agent starts a call record (caller's phone, line 11183 or 11185) and lands on
  ``/calls/{id}``, where they type what the caller says. Each line goes to the Rasa server's
  parse API (``POST /api/calls/{id}/lines``) and is kept with its reading; the page then shows
  the reading of every line, the trail of the mail named last (with the check-digit warning
  for a mistyped number), the caller's earlier work orders and calls by phone, and up to three
  suggested answers built from the store only (`bot.workbench.suggest` plus the compensation
  rule of `bot.workorders.drafts`). Accept / edit / reject is recorded per call
  (`bot.store.calls.record_call_reply`), the same decisions and edit distance as chat replies.
* ``/orders/new`` (``?call=ID`` prefills it from a call): a work order by hand, with the
  channel's deadline shown before saving (`/api/orders/deadline`); saved through
  `bot.store.workorders.open_work_order`, so a second complaint about the same mail and
  category is linked to the open order; from a call, the call is named in the order's history.
* ``/mail?number=`` or ``?phone=``: the trail, the orders of that mail (or phone), the calls of
  that phone, and the responsibility suggestion.
* ``/orders/upload``: the channel export (xlsx/csv) through `bot.workorders.importer`, with the
  imported, linked, already imported and rejected rows (row numbers and reasons).

Only agents (and admins) use the call desk; mail search, manual orders and uploads are also
for supervisors. Callers' words are shown as text; phones and personal data are masked for every
role but agents (`bot.workbench.privacy`).
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from aiohttp import web

from bot.store import calls as call_store
from bot.store import workorders as wo
from bot.store.accounts import AccountView, Role
from bot.store.status import Category, Channel, Priority
from bot.store.uow import UowFactory
from bot.text import phones, spoken, tracking
from bot.text.dates import iso_local
from bot.workbench import keys
from bot.workbench.auth import redirect, require_role, signed_in
from bot.workbench.conversations import mail_json, order_json, store_context
from bot.workbench.keys import (
    POLICY,
    RASA,
    in_thread,
    json_body,
    json_error,
    json_ok,
    path_id,
    text_field,
)
from bot.workbench.orders import mail_context, when
from bot.workbench.privacy import shown_phone, shown_text
from bot.workbench.rasa_client import RasaUnavailable
from bot.workbench.suggest import LatestMessage, Suggestion, suggest
from bot.workbench.views import render
from bot.workorders.drafts import compensation_for
from bot.workorders.followup import draft_for_order, mail_facts
from bot.workorders.importer import (
    CSV_SUFFIXES,
    XLSX_SUFFIXES,
    ImportFileError,
    ImportReport,
    import_file,
)
from bot.workorders.policy import DeadlinePolicy
from bot.workorders.responsibility import (
    Confidence,
    ResponsibilitySuggestion,
    WorkOrderFacts,
    suggest_responsibility,
)
from bot.workorders.responsibility import Role as BlameRole

logger = logging.getLogger(__name__)

# The complaint intents of the taxonomy and the work-order category each opens (the same as
# actions/complaints.py MENTIONED_PROBLEMS; tests/workbench/test_calls.py keeps them equal).
CALL_CATEGORIES: dict[str, Category] = {
    "delivery_service": Category.DELIVERY_SERVICE,
    "lost_item": Category.LOST,
    "damaged_item": Category.DAMAGED,
    "staff_attitude": Category.ATTITUDE,
    "fee_dispute": Category.IMPROPER_FEE,
    "delivery_delay": Category.DELAY,
    "not_received": Category.DELIVERY_SERVICE,
}
# The work-order channel of an order taken on each line (both are the 11183 hotline's queue).
LINE_CHANNELS: dict[str, Channel] = {"11183": Channel.HOTLINE_11183,
                                     "11185": Channel.HOTLINE_11183}
# Categories the compensation rules of domain.md apply to.
COMPENSATED = frozenset({Category.LOST, Category.DAMAGED, Category.CONTENTS_MISSING})
MAX_PHONE_CHARS = 32
MAX_NUMBER_CHARS = 40
DESCRIPTION_CHARS = 2000
NAME_CHARS = 64
COUNTY_CHARS = 64
# A channel export: 1 MB is the workbench's limit for any request, with room for the form.
MAX_UPLOAD_BYTES = 900 * 1024
UPLOAD_SUFFIXES = CSV_SUFFIXES + XLSX_SUFFIXES
UPLOAD_CHANNELS = tuple(c for c in Channel if c is not Channel.WECHAT)
_DESK = (Role.AGENT,)
_STAFF = (Role.AGENT, Role.SUPERVISOR)


def _rules(request: web.Request) -> DeadlinePolicy:
    return request.app[POLICY]


# --- reading what the caller said ---------------------------------------------------------------


def reading_of(parse: Mapping[str, Any]) -> call_store.Reading:
    """The parse API's answer as kept with a line (entity values as text)."""
    intent = parse.get("intent") or {}
    confidence = intent.get("confidence")
    entities = tuple(
        {"entity": str(e.get("entity", ""))[:64], "value": str(e.get("value", ""))[:200]}
        for e in (parse.get("entities") or [])[:20] if isinstance(e, dict))
    return call_store.Reading(
        intent=str(intent["name"])[:64] if intent.get("name") else None,
        confidence=round(float(confidence), 4) if isinstance(confidence, (int, float)) else None,
        entities=entities)


def numbers_said(lines: tuple[call_store.LineView, ...]) -> list[tracking.TrackingNumber]:
    """Every tracking number the caller gave, typed or read out (幺幺五幺 二三八九 …), newest
    line first, each once."""
    found: dict[str, tracking.TrackingNumber] = {}
    for line in reversed(lines):
        typed = tracking.find_all(line.text)
        hits = [(h.start, h.number) for h in typed]
        taken = [(h.start, h.end) for h in typed]
        hits += [(said.start, said.mail) for said in spoken.read_numbers(line.text, taken)
                 if said.mail is not None]
        for _, number in sorted(hits, key=lambda h: h[0]):
            found.setdefault(number.value, number)
    return list(found.values())


def category_said(lines: tuple[call_store.LineView, ...]) -> Category | None:
    """The category of the newest line read as a complaint, if any."""
    for line in reversed(lines):
        if line.intent in CALL_CATEGORIES:
            return CALL_CATEGORIES[line.intent]
    return None


def check_digit_warning(number: tracking.TrackingNumber) -> str | None:
    """What the agent is told about a number whose check digit is wrong."""
    if not number.looks_mistyped:
        return None
    return f"单号 {number.value} 的校验位不对，可能听错或记错了，请和来电人再核对一遍。"


def compensation_answer(facts: Any, category: Category) -> Suggestion:
    """The compensation rule of domain.md for this mail and category, as an answer."""
    rule = compensation_for(facts, category).rule
    return Suggestion("compensation", f"赔偿规定 · {facts.number}",
                      f"关于赔偿：{rule}。我们核实后按规定办理，请您保留好邮件的包装和内件。")


def _store_part(uows: UowFactory, rules: DeadlinePolicy, stuck_hours: float,
                call: call_store.CallView, now: datetime) -> dict[str, Any]:
    """What the store knows for the call (runs in a worker thread)."""
    numbers = numbers_said(call.lines)
    found = next((n for n in numbers if not n.looks_mistyped), None)
    number = found.value if found else None
    context = store_context(uows, rules, stuck_hours, number, now, phone=call.phone)
    earlier = call_store.calls_for_phone(uows, call.phone, exclude=call.id)
    return {"numbers": numbers, **context, "earlier": earlier}


def call_suggestions(call: call_store.CallView, store: Mapping[str, Any],
                     agent_name: str) -> list[Suggestion]:
    """One to three answers for the caller's latest line, from the store's facts only."""
    if not call.lines:
        return []
    newest = call.lines[-1]
    latest = LatestMessage(newest.text, newest.intent, newest.confidence, newest.entities)
    drafts = suggest(latest, store["mail"], store["orders"], store["followup"], agent_name,
                     greeted=True)
    category = category_said(call.lines)
    if store["facts"] is not None and category in COMPENSATED:
        assert category is not None
        drafts = [*drafts[:2], compensation_answer(store["facts"], category)]
    return drafts[:3]


def _reply_json(reply: call_store.CallReplyView, account: AccountView) -> dict[str, Any]:
    return {"id": reply.id, "kind": reply.suggestion_kind, "decision": reply.decision,
            "edit_distance": reply.edit_distance,
            "suggested": shown_text(account, reply.suggested_text),
            "final": shown_text(account, reply.final_text), "at": iso_local(reply.created_at)}


def _call_summary(call: call_store.CallView, account: AccountView) -> dict[str, Any]:
    return {"id": call.id, "phone": shown_phone(account, call.phone), "line": call.line,
            "line_label": call.line_label, "agent": call.agent,
            "started_at": when(call.started_at), "ended_at": when(call.ended_at),
            "open": call.is_open, "orders": list(call.order_numbers)}


async def call_state(request: web.Request, call_id: int,
                     rasa_error: str | None = None) -> dict[str, Any]:
    """Everything the call page shows, as JSON (404 for an unknown call)."""
    account = signed_in(request)
    uows = keys.uows(request)
    try:
        call = await in_thread(call_store.get_call, uows, call_id)
    except call_store.CallNotFound:
        raise web.HTTPNotFound(text='{"error": "没有这通来电"}',
                               content_type="application/json") from None
    now = keys.now(request)
    store = await in_thread(_store_part, uows, _rules(request), keys.settings(request).stuck_hours,
                            call, now)
    mine = call.agent == account.username
    drafts = call_suggestions(call, store, account.display_name) if mine and call.is_open else []
    return {
        "server_time": iso_local(now),
        "call": {**_call_summary(call, account), "mine": mine},
        "lines": [{"id": line.id, "at": iso_local(line.at), "text": shown_text(account, line.text),
                   "intent": line.intent, "confidence": line.confidence,
                   "entities": [{"entity": e.get("entity"),
                                 "value": shown_text(account, str(e.get("value", "")))}
                                for e in line.entities]}
                  for line in call.lines],
        "numbers": [{"number": n.value, "check_ok": n.check_ok,
                     "warning": check_digit_warning(n)} for n in store["numbers"]],
        "mail": mail_json(store["mail"], store["facts"], account),
        "orders": [order_json(o, account) for o in store["orders"]],
        "earlier_calls": [_call_summary(c, account) for c in store["earlier"]],
        "suggestions": [asdict(d) | {"text": shown_text(account, d.text)} for d in drafts],
        "replies": [_reply_json(r, account) for r in call.replies],
        "rasa_error": rasa_error,
        "order_form": f"/orders/new?call={call.id}",
    }


# --- the call desk pages and API ----------------------------------------------------------------


@require_role(*_DESK)
async def calls_page(request: web.Request) -> web.StreamResponse:
    """GET /calls: start a call; the agent's latest calls."""
    account = signed_in(request)
    recent = await in_thread(call_store.recent_calls, keys.uows(request), account.username)
    return render(request, "calls.html", {
        "lines": call_store.CALL_LINES, "recent": [_call_summary(c, account) for c in recent],
        "error": None, "phone": ""})


@require_role(*_DESK)
async def start_call(request: web.Request) -> web.StreamResponse:
    """POST /calls (form: ``phone``, ``line``): start a call record and open its page."""
    account = signed_in(request)
    form = await request.post()
    phone = form.get("phone")
    line = form.get("line")
    phone = phone[:MAX_PHONE_CHARS] if isinstance(phone, str) else ""
    line = line if isinstance(line, str) else ""
    try:
        call = await in_thread(call_store.start_call, keys.uows(request), phone, line,
                               account.username, keys.now(request))
    except call_store.CallError as exc:
        recent = await in_thread(call_store.recent_calls, keys.uows(request), account.username)
        return render(request, "calls.html", {
            "lines": call_store.CALL_LINES, "recent": [_call_summary(c, account) for c in recent],
            "error": str(exc), "phone": phone}, status=400)
    return redirect(f"/calls/{call.id}")


@require_role(*_DESK)
async def call_page(request: web.Request) -> web.StreamResponse:
    """GET /calls/{id}: the call desk (filled by call.js)."""
    call_id = path_id(request)
    try:
        await in_thread(call_store.get_call, keys.uows(request), call_id)
    except call_store.CallNotFound:
        raise web.HTTPNotFound() from None
    return render(request, "call.html", {"call_id": call_id,
                                         "server_time": iso_local(keys.now(request))})


@require_role(*_DESK)
async def api_call(request: web.Request) -> web.StreamResponse:
    """GET /api/calls/{id}: the call's state as JSON."""
    return json_ok(await call_state(request, path_id(request)))


def _call_error(exc: call_store.CallError) -> web.Response:
    if isinstance(exc, call_store.CallNotFound):
        return json_error(str(exc), 404)
    if isinstance(exc, call_store.CallForbidden):
        return json_error(str(exc), 403)
    return json_error(str(exc), 409)


@require_role(*_DESK)
async def post_line(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{id}/lines {"text"}: read one thing the caller said and keep it.

    When the Rasa server cannot be reached the line is kept without a reading and the answer
    says so (``rasa_error``).
    """
    account = signed_in(request)
    call_id = path_id(request)
    body = await json_body(request)
    text = (text_field(body, "text", call_store.MAX_LINE_CHARS, "来电内容", required=True)
            or "").strip()
    if not text:
        return json_error("请先输入来电人说的话", 400)
    call = await in_thread(_checked_call, keys.uows(request), call_id, account.username)
    if isinstance(call, web.Response):
        return call
    reading, rasa_error = None, None
    try:
        reading = reading_of(await request.app[RASA].parse(text))
    except RasaUnavailable as exc:
        logger.warning("call %s: line kept without its reading: %s", call_id, exc)
        rasa_error = "机器人服务暂时连不上，这句话已记录，但没有理解结果"
    try:
        await in_thread(call_store.add_line, keys.uows(request), call_id, account.username, text,
                        reading, keys.now(request))
    except call_store.CallError as exc:
        return _call_error(exc)
    return json_ok(await call_state(request, call_id, rasa_error), status=201)


def _checked_call(uows: UowFactory, call_id: int, agent: str) -> call_store.CallView | web.Response:
    """The call if `agent` took it and it is going on, else the error answer."""
    try:
        call = call_store.check_call_for_order(uows, call_id, agent)
    except call_store.CallError as exc:
        return _call_error(exc)
    if not call.is_open:
        return json_error("这通来电已结束，不能再记录", 409)
    return call


@require_role(*_DESK)
async def post_reply(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{id}/replies: record accept / edit / reject of a suggested answer.

    Body as for chats: ``request_key``, ``suggestion_kind``, ``suggested_text``, ``final_text``
    (absent or null = rejected).
    """
    account = signed_in(request)
    call_id = path_id(request)
    body = await json_body(request)
    request_key = text_field(body, "request_key", 64, "请求编号") or ""
    kind = text_field(body, "suggestion_kind", call_store.MAX_KIND_CHARS, "建议类型")
    suggested = text_field(body, "suggested_text", call_store.MAX_SUGGESTED_CHARS, "建议内容")
    final = text_field(body, "final_text", 2000, "答复内容")
    uows, now = keys.uows(request), keys.now(request)
    try:
        reply, created = await in_thread(
            lambda: call_store.record_call_reply(
                uows, call_id=call_id, agent=account.username, request_key=request_key,
                suggestion_kind=kind, suggested_text=suggested, final_text=final, now=now))
    except call_store.CallError as exc:
        return _call_error(exc)
    return json_ok({"reply": _reply_json(reply, account), "created": created},
                   status=201 if created else 200)


@require_role(*_DESK)
async def end_call(request: web.Request) -> web.StreamResponse:
    """POST /api/calls/{id}/end: the call is over."""
    account = signed_in(request)
    call_id = path_id(request)
    try:
        await in_thread(call_store.end_call, keys.uows(request), call_id, account.username,
                        keys.now(request))
    except call_store.CallError as exc:
        return _call_error(exc)
    return json_ok(await call_state(request, call_id))


# --- a work order from a call or by hand --------------------------------------------------------


def deadline_preview(rules: DeadlinePolicy, channel: Channel, now: datetime) -> dict[str, str]:
    """The deadline an order of `channel` opened `now` gets, and the rule behind it."""
    limit = rules.limit(channel.value)
    hours = f"{limit.hours:g}"
    rule = (f"{hours} 个工作小时（工作日工作时段内计时）" if limit.basis == "working"
            else f"{hours} 小时（自然时间）")
    return {"channel": channel.value, "channel_label": channel.label, "rule": rule,
            "deadline": when(rules.deadline(channel.value, now)),
            "deadline_iso": iso_local(rules.deadline(channel.value, now)) or ""}


def _prefill(call: call_store.CallView | None) -> dict[str, str]:
    if call is None:
        return {"channel": "", "category": "", "mail_number": "", "customer_phone": "",
                "customer_name": "", "description": "", "priority": Priority.NORMAL.value,
                "county": ""}
    numbers = numbers_said(call.lines)
    category = category_said(call.lines)
    said = "；".join(line.text for line in call.lines)
    return {"channel": LINE_CHANNELS[call.line].value if call.line in LINE_CHANNELS else "",
            "category": category.value if category else "",
            "mail_number": numbers[0].value if numbers else "",
            "customer_phone": call.phone, "customer_name": "",
            "description": said[:DESCRIPTION_CHARS], "priority": Priority.NORMAL.value,
            "county": ""}


async def _order_form(request: web.Request, values: dict[str, str], call_id: int | None,
                      error: str | None = None, status: int = 200) -> web.Response:
    account = signed_in(request)
    now = keys.now(request)
    channel = _enum(Channel, values.get("channel")) or Channel.HOTLINE_11183
    shown = dict(values)
    shown["customer_phone"] = shown_phone(account, values.get("customer_phone"))
    shown["description"] = shown_text(account, values.get("description"))
    return render(request, "order_new.html", {
        "values": shown, "call_id": call_id, "error": error,
        "channels": list(Channel), "categories": list(Category), "priorities": list(Priority),
        "preview": deadline_preview(_rules(request), channel, now),
        "masked": shown["customer_phone"] != (values.get("customer_phone") or ""),
    }, status=status)


def _enum(enum: Any, value: str | None) -> Any:
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def _call_id(raw: str | None) -> int | None:
    if raw and raw.isdigit() and 0 < len(raw) <= 10 and int(raw) <= keys.MAX_ID:
        return int(raw)
    return None


@require_role(*_STAFF)
async def new_order_page(request: web.Request) -> web.StreamResponse:
    """GET /orders/new[?call=ID]: the work-order form, prefilled from the call when given."""
    account = signed_in(request)
    call_id = _call_id(request.query.get("call"))
    call = None
    if call_id is not None:
        try:
            call = await in_thread(call_store.get_call, keys.uows(request), call_id)
        except call_store.CallNotFound:
            raise web.HTTPNotFound() from None
        if call.agent != account.username:
            return request.app[keys.FORBIDDEN](request, "只有接听这通来电的坐席可以从它开工单")
    return await _order_form(request, _prefill(call), call_id)


def _form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _validate(values: dict[str, str]) -> tuple[wo.NewWorkOrder | None, str | None]:
    """The order request from the form's values, or the first problem with them."""
    limits = {"mail_number": (MAX_NUMBER_CHARS, "邮件号"),
              "customer_phone": (MAX_PHONE_CHARS, "联系电话"),
              "customer_name": (NAME_CHARS, "客户姓名"), "county": (COUNTY_CHARS, "区县"),
              "description": (DESCRIPTION_CHARS, "问题描述")}
    for name, (limit, label) in limits.items():
        if len(values[name]) > limit:
            return None, f"{label}太长（最多 {limit} 字）"
    channel = _enum(Channel, values["channel"])
    category = _enum(Category, values["category"])
    priority = _enum(Priority, values["priority"]) or Priority.NORMAL
    if channel is None:
        return None, "请选择工单来源渠道"
    if category is None:
        return None, "请选择投诉类别"
    if not values["description"]:
        return None, "请填写问题描述"
    mail_number = None
    if values["mail_number"]:
        number = tracking.parse(values["mail_number"])
        if number is None:
            return None, f"邮件号 {values['mail_number']} 格式不对"
        warning = check_digit_warning(number)
        if warning:
            return None, warning
        mail_number = number.value
    phone = None
    if values["customer_phone"]:
        phone = phones.normalise(values["customer_phone"])
        if phone is None:
            return None, "联系电话格式不对"
    return wo.NewWorkOrder(channel=channel, category=category, description=values["description"],
                           mail_number=mail_number, customer_phone=phone,
                           customer_name=values["customer_name"] or None, priority=priority,
                           county=values["county"] or None), None


def _open_order(uows: UowFactory, rules: DeadlinePolicy, request: wo.NewWorkOrder,
                call_id: int | None, agent: str, now: datetime) -> wo.Opened:
    """Open (or link) the order and, from a call, link it to the call (worker thread)."""
    if call_id is not None:
        call_store.check_call_for_order(uows, call_id, agent)
    opened = wo.open_work_order(uows, rules, request, now, actor=agent)
    if call_id is not None:
        call_store.link_work_order(uows, call_id, opened.order.number, agent, now, opened.created)
    return opened


@require_role(*_STAFF)
async def create_order(request: web.Request) -> web.StreamResponse:
    """POST /orders/new: open the work order (or link it to the open one of the same mail and
    category), then show it."""
    account = signed_in(request)
    form = await request.post()
    names = ("channel", "category", "mail_number", "customer_phone", "customer_name",
             "description", "priority", "county")
    values = {name: _form_text(form, name)[:DESCRIPTION_CHARS + 1] for name in names}
    call_id = _call_id(_form_text(form, "call_id"))
    order_request, error = _validate(values)
    if order_request is None:
        return await _order_form(request, values, call_id, error or "", status=400)
    try:
        opened = await in_thread(_open_order, keys.uows(request), _rules(request), order_request,
                                 call_id, account.username, keys.now(request))
    except call_store.CallNotFound:
        raise web.HTTPNotFound() from None
    except call_store.CallForbidden as exc:
        return request.app[keys.FORBIDDEN](request, str(exc))
    except (call_store.CallError, wo.WorkOrderError) as exc:
        return await _order_form(request, values, call_id, str(exc), status=409)
    done = "created" if opened.created else "linked"
    return redirect(f"/orders/{quote(opened.order.number)}?done={done}")


@require_role(*_STAFF)
async def api_deadline(request: web.Request) -> web.StreamResponse:
    """GET /api/orders/deadline?channel=: the deadline an order opened now would get."""
    channel = _enum(Channel, request.query.get("channel"))
    if channel is None:
        return json_error("没有这个渠道", 400)
    return json_ok(deadline_preview(_rules(request), channel, keys.now(request)))


# --- mail search ----------------------------------------------------------------------------------


def _blame(suggestion: ResponsibilitySuggestion) -> dict[str, str]:
    return {"unit": suggestion.unit or "", "role": BlameRole(suggestion.role).label,
            "confidence": Confidence(suggestion.confidence).label, "reason": suggestion.reason}


def mail_search(uows: UowFactory, rules: DeadlinePolicy, number: str | None,
                phone: str | None, now: datetime) -> dict[str, Any]:
    """What the mail search shows for a number and/or a phone (worker thread)."""
    found: dict[str, Any] = {"number": None, "warning": None, "facts": None, "orders": [],
                             "blame": [], "calls": [], "phone_orders": []}
    if number:
        parsed = tracking.parse(number)
        if parsed is None:
            found["warning"] = f"{number} 不是邮件号（13 位数字或 2 字母+9 数字+2 字母）"
        else:
            found["number"] = parsed.value
            found["warning"] = check_digit_warning(parsed)
            facts = mail_facts(uows, parsed.value)
            found["facts"] = facts
            orders = wo.find_work_orders(uows, rules, now, mail_number=parsed.value)
            found["orders"] = orders
            open_orders = [o for o in orders if o.is_open]
            for order in open_orders:
                suggestion = draft_for_order(uows, rules, order.number, now).suggestion
                found["blame"].append((order.number, order.category.label, _blame(suggestion)))
            if not open_orders and facts is not None:
                # No open complaint: where the trail points if the mail is late or lost.
                asked = WorkOrderFacts(number="", channel=Channel.HOTLINE_11183.value,
                                       category=Category.DELAY.value, mail_number=parsed.value,
                                       customer_phone=None, description="", opened_at=now,
                                       deadline=now, priority=Priority.NORMAL.value)
                found["blame"].append(("", "延误/丢失（查询）",
                                       _blame(suggest_responsibility(asked, facts, now))))
    if phone:
        digits = phones.normalise(phone)
        if digits is None:
            found["phone_warning"] = "电话号码格式不对"
        else:
            found["phone_orders"] = wo.find_work_orders(uows, rules, now, phone=digits)
            found["calls"] = call_store.calls_for_phone(uows, digits)
    return found


def _order_row(order: wo.WorkOrderView, account: AccountView) -> dict[str, Any]:
    return {"number": order.number, "channel": order.channel.label,
            "category": order.category.label, "status": order.status.label,
            "deadline": when(order.deadline), "overdue": order.overdue,
            "phone": shown_phone(account, order.customer_phone),
            "description": shown_text(account, order.description)}


@require_role(*_STAFF)
async def mail_page(request: web.Request) -> web.StreamResponse:
    """GET /mail?number=&phone=: the trail, the orders and the responsibility suggestion."""
    account = signed_in(request)
    number = (request.query.get("number") or "").strip()[:MAX_NUMBER_CHARS]
    phone = (request.query.get("phone") or "").strip()[:MAX_PHONE_CHARS]
    found = await in_thread(mail_search, keys.uows(request), _rules(request), number or None,
                            phone or None, keys.now(request))
    return render(request, "mail.html", {
        "query_number": number, "query_phone": phone if phone else "",
        "searched": bool(number or phone),
        "number": found["number"], "warning": found["warning"],
        "phone_warning": found.get("phone_warning"),
        "mail": mail_context(account, found["facts"]),
        "orders": [_order_row(o, account) for o in found["orders"]],
        "blame": found["blame"],
        "phone_orders": [_order_row(o, account) for o in found["phone_orders"]],
        "calls": [_call_summary(c, account) for c in found["calls"]],
        "shown_phone": shown_phone(account, phones.normalise(phone) if phone else None),
    })


# --- uploads of channel exports ---------------------------------------------------------------


def _upload_context(report: ImportReport | None = None, error: str | None = None,
                    channel: str = "") -> dict[str, Any]:
    return {"channels": UPLOAD_CHANNELS, "report": report, "error": error, "channel": channel,
            "max_kb": MAX_UPLOAD_BYTES // 1024, "suffixes": " ".join(UPLOAD_SUFFIXES)}


@require_role(*_STAFF)
async def upload_page(request: web.Request) -> web.StreamResponse:
    """GET /orders/upload: the upload form."""
    return render(request, "upload.html", _upload_context())


def _run_import(uows: UowFactory, rules: DeadlinePolicy, data: bytes, suffix: str,
                channel: Channel, now: datetime) -> ImportReport:
    with tempfile.TemporaryDirectory(prefix="postdesk-upload-") as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(data)
        return import_file(uows, rules, path, channel, now)


@require_role(*_STAFF)
async def upload(request: web.Request) -> web.StreamResponse:
    """POST /orders/upload (multipart: ``channel``, ``file``): import the export and show the
    imported, linked, already imported and rejected rows."""
    form = await request.post()
    raw_channel = form.get("channel")
    channel = _enum(Channel, raw_channel if isinstance(raw_channel, str) else None)
    chosen = channel.value if channel else ""
    if channel is None or channel is Channel.WECHAT:
        return render(request, "upload.html", _upload_context(
            error="请选择文件来自哪个渠道", channel=chosen), status=400)
    field = form.get("file")
    if not isinstance(field, web.FileField) or not field.filename:
        return render(request, "upload.html", _upload_context(
            error="请选择要上传的文件", channel=chosen), status=400)
    suffix = Path(field.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return render(request, "upload.html", _upload_context(
            error=f"不支持的文件类型 {suffix or '（无扩展名）'}：请上传 .xlsx 或 .csv 文件",
            channel=chosen), status=415)
    data = field.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return render(request, "upload.html", _upload_context(
            error=f"文件太大：最多 {MAX_UPLOAD_BYTES // 1024} KB，请分成几个文件上传",
            channel=chosen), status=413)
    try:
        report = await in_thread(_run_import, keys.uows(request), _rules(request), data, suffix,
                                 channel, keys.now(request))
    except ImportFileError as exc:
        return render(request, "upload.html", _upload_context(error=str(exc), channel=chosen),
                      status=400)
    return render(request, "upload.html", _upload_context(report=report, channel=chosen))


def setup_routes(app: web.Application) -> None:
    """The call desk, manual work orders, mail search and uploads.

    Registered before `bot.workbench.orders`, so ``/orders/new`` and ``/orders/upload`` are not
    taken for order numbers.
    """
    app.router.add_get("/calls", calls_page, name="calls")
    app.router.add_post("/calls", start_call)
    app.router.add_get("/calls/{id}", call_page, name="call")
    app.router.add_get("/api/calls/{id}", api_call)
    app.router.add_post("/api/calls/{id}/lines", post_line)
    app.router.add_post("/api/calls/{id}/replies", post_reply)
    app.router.add_post("/api/calls/{id}/end", end_call)
    app.router.add_get("/orders/new", new_order_page, name="order_new")
    app.router.add_post("/orders/new", create_order)
    app.router.add_get("/api/orders/deadline", api_deadline)
    app.router.add_get("/orders/upload", upload_page, name="order_upload")
    app.router.add_post("/orders/upload", upload)
    app.router.add_get("/mail", mail_page, name="mail")
