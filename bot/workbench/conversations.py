"""Hand-over queue and conversation pages of the workbench.

* ``/queue``: the conversations the bot handed over, updated live over server-sent events
  (``/api/queue/stream``); claim, transfer, release, hand back.
* ``/conversations/{id}``: the history from Rasa's tracker (with the bot's reading of each
  customer message), the customer's mail and its trail, their work orders, suggested replies
  and the record of what the agent decided; live over ``/api/conversations/{id}/stream``.

While an agent holds a conversation the bot is paused for that customer (Rasa ``pause`` event);
handing back resumes it. An agent's reply is recorded first (`bot.store.desk.record_reply`:
only by the holder, idempotent per conversation and request key), then written to the tracker
and delivered through the conversation's channel (`bot.workbench.delivery`). Only the holder
sends a misread message to the trainers.

Ids in paths and JSON bodies are checked by `bot.workbench.keys` (`path_id`, `json_body`,
`text_field`): a malformed or out-of-range id is a 404; a body too large or too deep, or a
field over its limit, a 400 with the reason.

Agents see what customers wrote as written; other roles see phones and ID numbers masked.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.config import TIMEZONE
from bot.store import desk, services
from bot.store import workorders as wo
from bot.store.accounts import AccountView, Role, list_accounts
from bot.store.status import Delivery, StatusCode
from bot.text.dates import iso_local
from bot.text.masking import mask_signer
from bot.trainer.candidates import TrainerError
from bot.trainer.inbox import record_correction
from bot.workbench import keys
from bot.workbench.auth import current_account, require_role
from bot.workbench.delivery import Deliverer
from bot.workbench.keys import (
    DELIVERER,
    METRICS,
    POLICY,
    RASA,
    SETTINGS,
    UOWS,
    VOCABULARY,
    in_thread,
    json_body,
    json_error,
    json_ok,
    path_id,
    text_field,
)
from bot.workbench.privacy import sees_personal_data, shown_phone, shown_text
from bot.workbench.rasa_client import RasaClient, RasaUnavailable
from bot.workbench.suggest import LatestMessage, suggest
from bot.workbench.views import render
from bot.workorders.followup import draft_for_order, mail_facts

logger = logging.getLogger(__name__)

QUEUE_HUB: web.AppKey[QueueHub] = web.AppKey("postdesk.queue_hub")
CLOSING = web.AppKey("postdesk.closing", asyncio.Event)

POLL_S = 1.0
HEARTBEAT_S = 15.0
STREAM_LIFETIME_S = 600.0  # the browser reconnects (and the session is checked again)
_DESK_ROLES = (Role.AGENT, Role.SUPERVISOR)


def _is_supervisor(account: AccountView) -> bool:
    return account.role in (Role.SUPERVISOR, Role.ADMIN)


# --- queue -----------------------------------------------------------------------------------


def queue_entry(view: desk.HandoverView, account: AccountView) -> dict[str, Any]:
    """One queue row as JSON, with personal data as `account` may see it."""
    return {
        "id": view.id, "sender": view.sender_id, "channel": view.channel,
        "reason": view.reason, "reason_label": view.reason_label, "intent": view.intent,
        "last_message": shown_text(account, view.last_message), "status": view.status,
        "status_label": view.status_label, "assigned_to": view.assigned_to,
        "mine": view.assigned_to == account.username,
        "created_at": iso_local(view.created_at), "updated_at": iso_local(view.updated_at),
        "claimed_at": iso_local(view.claimed_at),
    }


class QueueHub:
    """One poller of the open hand-overs for all queue streams of this process.

    It reads the queue every `POLL_S` seconds while somebody listens and wakes the streams
    when it changed. The queue is written by the bot's action server (another process), so
    polling one indexed query is what works on every store (SQLite included).
    """

    def __init__(self, uows: Callable[[], Any], interval: float = POLL_S) -> None:
        self._uows = uows
        self.interval = interval
        self.snapshot: list[desk.HandoverView] = []
        self.version = 0
        self._changed = asyncio.Condition()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Read the queue now; wake the listeners if it changed."""
        snapshot = await in_thread(desk.open_queue, self._uows)
        if snapshot != self.snapshot or self.version == 0:
            self.snapshot = snapshot
            self.version += 1
            async with self._changed:
                self._changed.notify_all()

    async def _run(self) -> None:
        while self._listeners:
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the store may be down for a moment; say so, go on
                logger.exception("queue poll failed")
            await asyncio.sleep(self.interval)
        self._task = None

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[None]:
        """While inside, this stream listens: the poller runs as long as anyone does."""
        self._listeners += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        try:
            yield
        finally:
            self._listeners -= 1

    async def wait_change(self, seen: int, timeout: float) -> int:
        """Wait until the version differs from `seen` (or `timeout`); return the version."""
        async with self._changed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version != seen),
                                       timeout)
        return self.version

    async def stop(self) -> None:
        """Cancel the poller (on cleanup)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _agents(request: web.Request) -> list[dict[str, str]]:
    accounts = await in_thread(list_accounts, request.app[UOWS], False)
    return [{"username": a.username, "display_name": a.display_name}
            for a in accounts if a.role is Role.AGENT]


def _queue_payload(views: list[desk.HandoverView], account: AccountView,
                   now: datetime) -> dict[str, Any]:
    return {"server_time": iso_local(now),
            "entries": [queue_entry(v, account) for v in views]}


@require_role(*_DESK_ROLES)
async def queue_page(request: web.Request) -> web.StreamResponse:
    """GET /queue: the hand-over queue (rows are filled and kept live by queue.js)."""
    return render(request, "queue.html", {"agents": await _agents(request),
                                          "server_time": iso_local(keys.now(request))})


@require_role(*_DESK_ROLES)
async def api_queue(request: web.Request) -> web.StreamResponse:
    """GET /api/queue: the open hand-overs as JSON."""
    account = current_account(request)
    assert account is not None
    views = await in_thread(desk.open_queue, request.app[UOWS])
    return web.json_response(_queue_payload(views, account, keys.now(request)))


async def _event_stream(request: web.Request,
                        produce: Callable[[], Awaitable[str | None]],
                        wait: Callable[[], Awaitable[None]]) -> web.StreamResponse:
    """Server-sent events: send `produce()` whenever it returns a new payload."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    closing = request.app[CLOSING]
    loop = asyncio.get_running_loop()
    started = last_beat = loop.time()
    last: str | None = None
    try:
        while not closing.is_set() and loop.time() - started < STREAM_LIFETIME_S:
            payload = await produce()
            if payload is not None and payload != last:
                await response.write(f"data: {payload}\n\n".encode())
                last = payload
                last_beat = loop.time()
            elif loop.time() - last_beat > HEARTBEAT_S:
                await response.write(b": keep-alive\n\n")
                last_beat = loop.time()
            await wait()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


@require_role(*_DESK_ROLES)
async def queue_stream(request: web.Request) -> web.StreamResponse:
    """GET /api/queue/stream: the queue as server-sent events, sent again on every change."""
    account = current_account(request)
    assert account is not None
    hub = request.app[QUEUE_HUB]
    seen = [-1]

    async def produce() -> str | None:
        if hub.version == seen[0]:
            return None
        seen[0] = hub.version
        return json.dumps(_queue_payload(hub.snapshot, account, keys.now(request)),
                          ensure_ascii=False)

    async def wait() -> None:
        await hub.wait_change(seen[0], timeout=HEARTBEAT_S / 3)

    async with hub.listening():
        if hub.version == 0:
            await hub.refresh()
        return await _event_stream(request, produce, wait)


# Limits of the fields the conversation API accepts (longer ones are refused with 400).
MAX_USERNAME_CHARS = 64
MAX_KIND_CHARS = 32         # agent_reply.suggestion_kind
MAX_SUGGESTED_CHARS = 4000  # the drafts of bot.workbench.suggest are far shorter
MAX_INTENT_CHARS = 64


def _handover_id(request: web.Request) -> int:
    return path_id(request)


async def _after_change(request: web.Request, view: desk.HandoverView) -> web.Response:
    await request.app[QUEUE_HUB].refresh()
    account = current_account(request)
    assert account is not None
    return web.json_response({"handover": queue_entry(view, account)})


@require_role(Role.AGENT)
async def claim(request: web.Request) -> web.StreamResponse:
    """POST /api/handovers/{id}/claim: take the conversation; the bot pauses for the customer."""
    account = current_account(request)
    assert account is not None
    uows, handover_id, now = request.app[UOWS], _handover_id(request), keys.now(request)
    try:
        view = await in_thread(desk.claim, uows, handover_id, account.username, now)
    except desk.DeskError as exc:
        return json_error(str(exc), 409)
    try:
        await request.app[RASA].pause(view.sender_id)
    except RasaUnavailable as exc:
        logger.error("claim of hand-over %s undone: %s", handover_id, exc)
        await in_thread(desk.release, uows, handover_id, account.username, keys.now(request))
        await request.app[QUEUE_HUB].refresh()
        return json_error("机器人服务暂时连不上，无法暂停机器人，请稍后再接入", 503)
    return await _after_change(request, view)


async def _desk_step(request: web.Request, step: Callable[..., desk.HandoverView],
                     *args: Any) -> web.Response:
    """Run a desk step as the logged-in account; 409 with the desk's message when refused."""
    account = current_account(request)
    assert account is not None
    try:
        view = await in_thread(step, request.app[UOWS], _handover_id(request), account.username,
                                *args, keys.now(request), _is_supervisor(account))
    except desk.DeskNotFound as exc:
        return json_error(str(exc), 404)
    except desk.DeskError as exc:
        return json_error(str(exc), 409)
    return await _after_change(request, view)


@require_role(*_DESK_ROLES)
async def transfer(request: web.Request) -> web.StreamResponse:
    """POST /api/handovers/{id}/transfer {"to": username}: give it to another agent."""
    target = text_field(await json_body(request), "to", MAX_USERNAME_CHARS, "坐席用户名")
    if target is None or not target.strip():
        return json_error("请选择要转给的坐席", 400)
    return await _desk_step(request, desk.transfer, target)


@require_role(*_DESK_ROLES)
async def release(request: web.Request) -> web.StreamResponse:
    """POST /api/handovers/{id}/release: back to the queue (the bot stays paused)."""
    return await _desk_step(request, desk.release)


@require_role(*_DESK_ROLES)
async def hand_back(request: web.Request) -> web.StreamResponse:
    """POST /api/handovers/{id}/handback: the bot answers this customer again."""
    account = current_account(request)
    assert account is not None
    uows, handover_id = request.app[UOWS], _handover_id(request)
    view = await in_thread(desk.get_handover, uows, handover_id)
    if view is None:
        return json_error("没有这个转人工会话", 404)
    if view.status != "taken" or (view.assigned_to != account.username
                                  and not _is_supervisor(account)):
        return json_error("只能交还您正在处理的会话", 409)
    try:
        await request.app[RASA].resume(view.sender_id)
    except RasaUnavailable as exc:
        logger.error("hand back of hand-over %s failed: %s", handover_id, exc)
        return json_error("机器人服务暂时连不上，会话仍由您处理，请稍后再交还", 503)
    return await _desk_step(request, desk.hand_back)


# --- conversation ----------------------------------------------------------------------------


def _moment(timestamp: Any) -> str | None:
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, TIMEZONE).isoformat()


def transcript(tracker: dict[str, Any], account: AccountView) -> list[dict[str, Any]]:
    """The conversation's messages from its tracker, with the bot's reading of each message."""
    lines: list[dict[str, Any]] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        at = _moment(event.get("timestamp"))
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            lines.append({
                "kind": "customer", "at": at, "ts": event.get("timestamp"),
                "text": shown_text(account, event.get("text")),
                "intent": intent.get("name"),
                "confidence": (round(float(intent["confidence"]), 3)
                               if isinstance(intent.get("confidence"), (int, float)) else None),
                "entities": [{"entity": e.get("entity"),
                              "value": shown_text(account, str(e.get("value", "")))}
                             for e in parse.get("entities") or []],
            })
        elif kind == "bot":
            agent = (event.get("metadata") or {}).get("agent")
            lines.append({"kind": "agent" if agent else "bot", "at": at, "agent": agent,
                          "text": shown_text(account, event.get("text"))})
        elif kind == "pause":
            lines.append({"kind": "system", "at": at, "text": "人工接入，机器人暂停回复"})
        elif kind == "resume":
            lines.append({"kind": "system", "at": at, "text": "已交还机器人"})
    return lines


def latest_message(tracker: dict[str, Any]) -> LatestMessage | None:
    """The customer's latest message as the bot read it."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            return LatestMessage(text=event.get("text") or "", intent=intent.get("name"),
                                 confidence=intent.get("confidence"),
                                 entities=tuple(parse.get("entities") or ()))
    return None


def mail_number_of(tracker: dict[str, Any]) -> str | None:
    """The mail the conversation is about: the latest tracking number mentioned, else the slot."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            for entity in (event.get("parse_data") or {}).get("entities") or []:
                if entity.get("entity") == "tracking_number" and entity.get("value"):
                    return str(entity["value"])
    slot = (tracker.get("slots") or {}).get("tracking_number")
    return str(slot) if slot else None


def _store_part(uows: Any, rules: Any, stuck_hours: float, sender_id: str,
                mail_number: str | None, now: datetime) -> dict[str, Any]:
    """What the store knows for the conversation (runs in a worker thread)."""
    return store_context(uows, rules, stuck_hours, mail_number, now, sender_id=sender_id)


def store_context(uows: Any, rules: Any, stuck_hours: float, mail_number: str | None,
                  now: datetime, *, sender_id: str | None = None,
                  phone: str | None = None) -> dict[str, Any]:
    """What the store knows about a customer's mail and work orders (call in a worker thread).

    Args:
        uows: the store's unit-of-work factory.
        rules: the deadline rules.
        stuck_hours: when a quiet mail counts as stuck.
        mail_number: the mail asked about, if any.
        now: the app clock's now.
        sender_id: the conversation whose orders to list (chats).
        phone: the phone whose orders to list (calls).

    Returns:
        ``mail`` (status) and ``facts`` (trail) of `mail_number`, the customer's ``orders``
        (by owner and by mail number, newest first) and a ``followup`` draft for the newest
        open one.
    """
    mail = services.lookup_mail(uows, mail_number, now, stuck_hours) if mail_number else None
    facts = mail_facts(uows, mail_number) if mail_number else None
    orders = {o.number: o for o in wo.find_work_orders(uows, rules, now, sender_id=sender_id,
                                                        phone=phone)}
    if mail_number:
        for order in wo.find_work_orders(uows, rules, now, mail_number=mail_number):
            orders.setdefault(order.number, order)
    ordered = sorted(orders.values(), key=lambda o: o.opened_at, reverse=True)
    open_orders = [o for o in ordered if o.is_open]
    followup = (draft_for_order(uows, rules, open_orders[0].number, now).drafts.feedback
                if open_orders else None)
    return {"mail": mail, "facts": facts, "orders": ordered, "followup": followup}


def mail_json(mail: services.MailStatus | None, facts: Any,
              account: AccountView) -> dict[str, Any] | None:
    """A mail's status and trail as the JSON panels show it (chat and call desk), personal
    data as `account` may see it; None without a mail."""
    if mail is None:
        return None
    trail = []
    if facts is not None:
        known = {c.value for c in StatusCode}
        for e in reversed(facts.trail):  # newest first
            status = StatusCode(e.status_code).label if e.status_code in known else e.status_code
            trail.append({"at": iso_local(e.occurred_at), "place": e.place, "unit": e.unit,
                          "status": status, "description": shown_text(account, e.description)})
    signed = mail.signed_by_masked
    if facts is not None and facts.signed_by and sees_personal_data(account):
        signed = facts.signed_by
    elif facts is not None and facts.signed_by:
        signed = mask_signer(facts.signed_by)
    return {"number": mail.number, "product": mail.product, "status": mail.status_label,
            "stuck": mail.is_stuck, "overdue": mail.is_overdue, "signed_by": signed,
            "from": mail.sender_area, "to": mail.recipient_area, "trail": trail}


def order_json(order: wo.WorkOrderView, account: AccountView) -> dict[str, Any]:
    """A work order as the JSON panels show it, phone and description as `account` may."""
    return {"number": order.number, "channel": order.channel.label,
            "category": order.category.label, "status": order.status.label,
            "priority": order.priority.label, "deadline": iso_local(order.deadline),
            "overdue": order.overdue, "open": order.is_open,
            "phone": shown_phone(account, order.customer_phone),
            "description": shown_text(account, order.description)}


def _reply_json(reply: desk.ReplyView, account: AccountView) -> dict[str, Any]:
    return {"id": reply.id, "agent": reply.agent, "kind": reply.suggestion_kind,
            "decision": reply.decision, "edit_distance": reply.edit_distance,
            "suggested": shown_text(account, reply.suggested_text),
            "final": shown_text(account, reply.final_text), "delivery": reply.delivery,
            "delivery_error": reply.delivery_error, "at": iso_local(reply.created_at)}


async def conversation_state(request: web.Request, handover_id: int) -> dict[str, Any]:
    """Everything the conversation page shows, as JSON.

    Raises:
        web.HTTPNotFound: no such hand-over.
    """
    account = current_account(request)
    assert account is not None
    uows, settings = request.app[UOWS], keys.settings(request)
    view = await in_thread(desk.get_handover, uows, handover_id)
    if view is None:
        raise web.HTTPNotFound()
    rasa_error = None
    try:
        tracker = await request.app[RASA].tracker(view.sender_id)
    except RasaUnavailable as exc:
        logger.warning("conversation %s shown without its history: %s", handover_id, exc)
        tracker, rasa_error = {}, "机器人服务暂时连不上，会话记录暂时无法显示"
    now = keys.now(request)
    store = await in_thread(_store_part, uows, request.app[POLICY], settings.stuck_hours,
                            view.sender_id, mail_number_of(tracker), now)
    replies = await in_thread(desk.replies_for, uows, handover_id)
    events = await in_thread(desk.handover_events, uows, handover_id)
    mine = view.status == "taken" and view.assigned_to == account.username
    greeted = any(r.agent == account.username and r.final_text for r in replies)
    drafts = (suggest(latest_message(tracker), store["mail"], store["orders"], store["followup"],
                      account.display_name, greeted) if mine else [])
    return {
        "server_time": iso_local(now),
        "handover": queue_entry(view, account),
        "paused": bool(tracker.get("paused")),
        "rasa_error": rasa_error,
        "transcript": transcript(tracker, account),
        "mail": mail_json(store["mail"], store["facts"], account),
        "orders": [order_json(o, account) for o in store["orders"]],
        "suggestions": [asdict(d) | {"text": shown_text(account, d.text)} for d in drafts],
        "replies": [_reply_json(r, account) for r in replies],
        "events": [{"at": iso_local(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}
                   for e in events],
        "intents": list(request.app[VOCABULARY].intents) if mine else [],
    }


@require_role(*_DESK_ROLES)
async def conversation_page(request: web.Request) -> web.StreamResponse:
    """GET /conversations/{id}: the page (filled and kept live by conversation.js)."""
    handover_id = _handover_id(request)
    view = await in_thread(desk.get_handover, request.app[UOWS], handover_id)
    if view is None:
        raise web.HTTPNotFound()
    return render(request, "conversation.html", {
        "handover_id": handover_id, "agents": await _agents(request),
        "server_time": iso_local(keys.now(request))})


@require_role(*_DESK_ROLES)
async def api_conversation(request: web.Request) -> web.StreamResponse:
    """GET /api/conversations/{id}: the conversation state as JSON."""
    state = await conversation_state(request, _handover_id(request))
    return json_ok(state)


@require_role(*_DESK_ROLES)
async def conversation_stream(request: web.Request) -> web.StreamResponse:
    """GET /api/conversations/{id}/stream: the state as server-sent events, on every change."""
    handover_id = _handover_id(request)
    await conversation_state(request, handover_id)  # 404 before the stream starts

    async def produce() -> str | None:
        state = await conversation_state(request, handover_id)
        state.pop("server_time")
        return json.dumps(state, ensure_ascii=False)

    async def wait() -> None:
        await asyncio.sleep(POLL_S)

    return await _event_stream(request, produce, wait)


@require_role(Role.AGENT)
async def post_reply(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/replies: record a decision and deliver the text.

    Body: ``request_key`` (unique per submit; a repeat returns the first result and sends
    nothing again), ``suggestion_kind`` and ``suggested_text`` (absent for the agent's own
    text), ``final_text`` (absent or null = the suggestion is rejected).
    """
    account = current_account(request)
    assert account is not None
    handover_id = _handover_id(request)
    body = await json_body(request)
    # A missing key is refused by record_reply (缺少请求编号), like an empty one.
    request_key = text_field(body, "request_key", desk.MAX_REQUEST_KEY_CHARS, "请求编号") or ""
    kind = text_field(body, "suggestion_kind", MAX_KIND_CHARS, "建议类型")
    suggested = text_field(body, "suggested_text", MAX_SUGGESTED_CHARS, "建议内容")
    final = text_field(body, "final_text", desk.MAX_REPLY_CHARS, "回复内容")
    uows, now = request.app[UOWS], keys.now(request)
    try:
        reply, created = await in_thread(
            lambda: desk.record_reply(uows, handover_id=handover_id, agent=account.username,
                                      request_key=request_key, suggestion_kind=kind,
                                      suggested_text=suggested, final_text=final, now=now))
    except desk.DeskNotFound as exc:
        return json_error(str(exc), 404)
    except desk.DeskError as exc:
        return json_error(str(exc), 409)
    retry = not created and reply.final_text and reply.delivery == Delivery.FAILED.value
    if reply.final_text and (created or retry):
        reply = await _deliver(request, reply, log_to_tracker=created)
    return web.json_response({"reply": _reply_json(reply, account), "created": created},
                             status=201 if created else 200)


@require_role(Role.AGENT)
async def post_correction(request: web.Request) -> web.StreamResponse:
    """POST /api/conversations/{id}/corrections {"ts": event timestamp, "intent": name}.

    The agent holding the conversation says the bot misread one of the customer's messages: it
    goes to the trainers' inbox with the agent's intent. The message itself is read from the
    tracker, not taken from the request. Anyone else is refused (403), before the tracker is
    read; an admin, like a supervisor at the desk, may correct any conversation.
    """
    account = current_account(request)
    assert account is not None
    handover_id = _handover_id(request)
    body = await json_body(request)
    ts = body.get("ts")
    intent = text_field(body, "intent", MAX_INTENT_CHARS, "意图")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not intent:
        return json_error("请选择消息和正确的意图", 400)
    try:
        view = await in_thread(desk.holder_view, request.app[UOWS], handover_id,
                                account.username, _is_supervisor(account))
    except desk.DeskNotFound:
        return json_error("没有这个转人工会话", 404)
    except desk.DeskForbidden:
        return json_error("只有接入这个会话的坐席可以纠正机器人的理解", 403)
    try:
        tracker = await request.app[RASA].tracker(view.sender_id)
    except RasaUnavailable:
        return json_error("机器人服务暂时连不上，请稍后再纠正", 503)
    event = next((e for e in tracker.get("events") or []
                  if e.get("event") == "user" and e.get("timestamp") == ts), None)
    if event is None:
        return json_error("这个会话里没有这条客户消息", 404)
    parse = (event.get("parse_data") or {}).get("intent") or {}
    try:
        candidate = await in_thread(
            lambda: record_correction(
                request.app[UOWS], view.sender_id, view.channel, event.get("text") or "",
                datetime.fromtimestamp(ts, TIMEZONE).replace(tzinfo=None), parse.get("name"),
                parse.get("confidence"), intent, account.username))
    except TrainerError as exc:
        return json_error(str(exc), 400)
    return web.json_response({"candidate": candidate.id, "intent": intent}, status=201)


async def _deliver(request: web.Request, reply: desk.ReplyView,
                   log_to_tracker: bool) -> desk.ReplyView:
    """Write the reply into the tracker and send it through its channel; record the outcome."""
    uows = request.app[UOWS]
    if log_to_tracker:
        try:
            await request.app[RASA].log_agent_message(reply.sender_id, reply.final_text or "",
                                                      reply.agent, reply.id)
        except RasaUnavailable as exc:  # the reply itself is recorded in the store
            logger.warning("agent reply %s not written to the tracker: %s", reply.id, exc)
    outcome = await request.app[DELIVERER].deliver(reply)
    if outcome.queued:
        return reply
    return await in_thread(desk.mark_delivery, uows, reply.id, outcome.sent, outcome.error,
                           keys.now(request))


# --- wiring ----------------------------------------------------------------------------------


async def _desk_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if RASA not in app:
        app[RASA] = RasaClient(settings.rasa_url, settings.rasa_token)
    if DELIVERER not in app:
        app[DELIVERER] = Deliverer(settings, app[METRICS])
    app[QUEUE_HUB] = QueueHub(lambda: app[UOWS]())
    yield
    await app[QUEUE_HUB].stop()
    await app[RASA].close()
    await app[DELIVERER].close()


async def _on_shutdown(app: web.Application) -> None:
    app[CLOSING].set()  # open event streams end instead of holding the shutdown


def setup_routes(app: web.Application) -> None:
    """The queue and conversation routes, and the clients they use."""
    app[CLOSING] = asyncio.Event()
    app.cleanup_ctx.append(_desk_context)
    # aiohttp 3.9 types its signals for the aiosignal before 1.4 (a handler is fine at runtime).
    app.on_shutdown.append(_on_shutdown)  # type: ignore[arg-type]
    app.router.add_get("/queue", queue_page, name="queue")
    app.router.add_get("/api/queue", api_queue)
    app.router.add_get("/api/queue/stream", queue_stream)
    app.router.add_post("/api/handovers/{id}/claim", claim)
    app.router.add_post("/api/handovers/{id}/transfer", transfer)
    app.router.add_post("/api/handovers/{id}/release", release)
    app.router.add_post("/api/handovers/{id}/handback", hand_back)
    app.router.add_get("/conversations/{id}", conversation_page, name="conversation")
    app.router.add_get("/api/conversations/{id}", api_conversation)
    app.router.add_get("/api/conversations/{id}/stream", conversation_stream)
    app.router.add_post("/api/conversations/{id}/replies", post_reply)
    app.router.add_post("/api/conversations/{id}/corrections", post_correction)
