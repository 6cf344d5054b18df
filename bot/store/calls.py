"""The call desk's store services: telephone calls agents take on 11183 and 11185.

A call (`CallRecord`) is started by the agent who answers it, with the caller's phone and the
line. While it lasts the agent types what the caller says, one `CallLine` at a time, each kept
with the bot's reading (intent, confidence, entities) the workbench got for it. Decisions on
suggested answers are recorded as for chats (`bot.store.desk.record_reply`): accepted, edited
(with its Levenshtein distance) or rejected, idempotent per call and request key, in
`CallReply`; the monthly adoption figures read both tables the same way. Work orders opened
from a call are linked to it (`CallWorkOrder`) and the order's history names the call.

Only the agent who took a call adds lines, decisions and orders to it; nothing is added after
the call ended except work orders (the agent often files the order right after hanging up).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.store.desk import MAX_REQUEST_KEY_CHARS, checked_reply
from bot.store.models import (
    CallLine,
    CallRecord,
    CallReply,
    CallWorkOrder,
    WorkOrder,
    as_store_time,
)
from bot.store.uow import UnitOfWork, UowFactory
from bot.text import phones

# The lines a caller reaches the seats on, and their Chinese names.
CALL_LINES: dict[str, str] = {"11183": "11183 客服热线", "11185": "11185 邮政服务热线"}
MAX_LINE_CHARS = 1000        # one thing the caller said, as typed
MAX_LINES_PER_CALL = 200     # a call is a conversation, not a document
MAX_ENTITIES_JSON = 4000     # the bot's reading of one line, as stored
MAX_KIND_CHARS = 32          # call_reply.suggestion_kind
MAX_SUGGESTED_CHARS = 4000


class CallError(ValueError):
    """A call-desk action that is not possible; the message is Chinese, for the agent."""


class CallNotFound(CallError):
    """No call has that id."""


class CallForbidden(CallError):
    """The call was taken by another agent."""


@dataclass(frozen=True)
class Reading:
    """The bot's reading of one line (from the Rasa server's parse API)."""

    intent: str | None
    confidence: float | None
    entities: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class LineView:
    """One thing the caller said, with its reading."""

    id: int
    at: datetime
    text: str
    intent: str | None
    confidence: float | None
    entities: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CallReplyView:
    """A recorded decision on a suggested answer."""

    id: int
    request_key: str
    agent: str
    suggestion_kind: str | None
    suggested_text: str | None
    final_text: str | None
    decision: str
    edit_distance: int | None
    created_at: datetime


@dataclass(frozen=True)
class CallView:
    """A call with what was said, decided and opened."""

    id: int
    phone: str
    line: str
    agent: str
    started_at: datetime
    ended_at: datetime | None
    lines: tuple[LineView, ...] = ()
    replies: tuple[CallReplyView, ...] = ()
    order_numbers: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        """Not yet ended."""
        return self.ended_at is None

    @property
    def line_label(self) -> str:
        """The line's Chinese name."""
        return CALL_LINES.get(self.line, self.line)


def _entities(raw: str) -> tuple[dict[str, Any], ...]:
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    return tuple(e for e in value if isinstance(e, dict)) if isinstance(value, list) else ()


def _line_view(line: CallLine) -> LineView:
    return LineView(line.id, line.at, line.text, line.intent, line.confidence,
                    _entities(line.entities))


def _reply_view(r: CallReply) -> CallReplyView:
    return CallReplyView(r.id, r.request_key, r.agent, r.suggestion_kind, r.suggested_text,
                         r.final_text, r.decision, r.edit_distance, r.created_at)


def _orders_of(uow: UnitOfWork, call_id: int) -> tuple[str, ...]:
    stmt = (select(WorkOrder.number)
            .join(CallWorkOrder, CallWorkOrder.work_order_id == WorkOrder.id)
            .where(CallWorkOrder.call_id == call_id).order_by(CallWorkOrder.id))
    return tuple(n for n in uow.session.execute(stmt).scalars() if n)


def _view(uow: UnitOfWork, call: CallRecord, full: bool = True) -> CallView:
    if not full:
        return CallView(call.id, call.phone, call.line, call.agent, call.started_at,
                        call.ended_at, order_numbers=_orders_of(uow, call.id))
    replies = uow.session.execute(
        select(CallReply).where(CallReply.call_id == call.id).order_by(CallReply.id)).scalars()
    return CallView(call.id, call.phone, call.line, call.agent, call.started_at, call.ended_at,
                    tuple(_line_view(line) for line in call.lines),
                    tuple(_reply_view(r) for r in replies), _orders_of(uow, call.id))


def _call(uow: UnitOfWork, call_id: int) -> CallRecord:
    call = uow.session.get(CallRecord, call_id)
    if call is None:
        raise CallNotFound(f"没有编号为 {call_id} 的来电记录")
    return call


def _taken_by(call: CallRecord, agent: str) -> None:
    if call.agent != agent:
        raise CallForbidden(f"这通来电由 {call.agent} 接听，您不能操作")


def normalise_phone(raw: str) -> str:
    """The caller's number as digits (mobile or landline with area code).

    Raises:
        CallError: not one phone number.
    """
    digits = phones.normalise(raw or "")
    if digits is None:
        raise CallError("来电号码格式不对：请输入 11 位手机号或带区号的固话")
    return digits


def start_call(uow_factory: UowFactory, phone: str, line: str, agent: str,
               now: datetime) -> CallView:
    """Record that `agent` took a call from `phone` on `line` (11183 or 11185).

    Raises:
        CallError: the phone is not a phone number or the line is unknown.
    """
    digits = normalise_phone(phone)
    if line not in CALL_LINES:
        raise CallError("来电线路只能是 11183 或 11185")
    with uow_factory() as uow:
        call = CallRecord(phone=digits, line=line, agent=agent, started_at=as_store_time(now))
        uow.session.add(call)
        uow.commit()
        return _view(uow, call)


def get_call(uow_factory: UowFactory, call_id: int) -> CallView:
    """The call with its lines, decisions and orders.

    Raises:
        CallNotFound: no such call.
    """
    with uow_factory() as uow:
        return _view(uow, _call(uow, call_id))


def add_line(uow_factory: UowFactory, call_id: int, agent: str, text: str,
             reading: Reading | None, now: datetime) -> LineView:
    """Keep one thing the caller said (as the agent typed it) with the bot's reading.

    Raises:
        CallError: empty or too long, the call ended or has too many lines;
            `CallForbidden` when another agent took the call.
    """
    text = (text or "").strip()
    if not text:
        raise CallError("请先输入来电人说的话")
    if len(text) > MAX_LINE_CHARS:
        raise CallError(f"一次最多记录 {MAX_LINE_CHARS} 字，请分几次输入")
    entities = json.dumps(list(reading.entities) if reading else [], ensure_ascii=False)
    if len(entities) > MAX_ENTITIES_JSON:
        entities = "[]"
    with uow_factory() as uow:
        call = _call(uow, call_id)
        _taken_by(call, agent)
        if call.ended_at is not None:
            raise CallError("这通来电已结束，不能再记录")
        count = uow.session.execute(
            select(func.count()).select_from(CallLine).where(CallLine.call_id == call_id)
        ).scalar_one()
        if count >= MAX_LINES_PER_CALL:
            raise CallError(f"一通来电最多记录 {MAX_LINES_PER_CALL} 句")
        line = CallLine(call_id=call_id, at=as_store_time(now), text=text,
                        intent=reading.intent if reading else None,
                        confidence=reading.confidence if reading else None, entities=entities)
        uow.session.add(line)
        uow.commit()
        return _line_view(line)


def end_call(uow_factory: UowFactory, call_id: int, agent: str, now: datetime) -> CallView:
    """The call is over (ending it again changes nothing).

    Raises:
        CallForbidden: another agent took the call.
    """
    with uow_factory() as uow:
        call = _call(uow, call_id)
        _taken_by(call, agent)
        if call.ended_at is None:
            call.ended_at = as_store_time(now)
            uow.commit()
        return _view(uow, call)


def record_call_reply(
    uow_factory: UowFactory,
    *,
    call_id: int,
    agent: str,
    request_key: str,
    suggestion_kind: str | None,
    suggested_text: str | None,
    final_text: str | None,
    now: datetime,
) -> tuple[CallReplyView, bool]:
    """Record a decision on a suggested answer (``final_text`` None = rejected), as for chats.

    The decision and edit distance are those of `bot.store.desk.record_reply`. A
    `request_key` seen before in this call returns the first record and ``False``.

    Raises:
        CallError: no key, nothing to reject, the text is empty or too long;
            `CallForbidden` when another agent took the call.
    """
    if not request_key or len(request_key) > MAX_REQUEST_KEY_CHARS:
        raise CallError("缺少请求编号")
    if suggestion_kind is not None and len(suggestion_kind) > MAX_KIND_CHARS:
        raise CallError("建议类型太长")
    if suggested_text is not None and len(suggested_text) > MAX_SUGGESTED_CHARS:
        raise CallError("建议内容太长")
    final_text, decision, distance = checked_reply(suggested_text, final_text,
                                                   error=CallError, noun="答复")
    with uow_factory() as uow:
        call = _call(uow, call_id)
        _taken_by(call, agent)
        seen = _seen(uow, call_id, request_key)
        if seen is not None:
            return seen, False
        reply = CallReply(call_id=call_id, request_key=request_key, agent=agent,
                          suggestion_kind=suggestion_kind, suggested_text=suggested_text,
                          final_text=final_text, decision=decision.value,
                          edit_distance=distance, created_at=as_store_time(now))
        uow.session.add(reply)
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()  # the same key submitted twice at once: the other one won
            seen = _seen(uow, call_id, request_key)
            if seen is None:
                raise
            return seen, False
        return _reply_view(reply), True


def _seen(uow: UnitOfWork, call_id: int, request_key: str) -> CallReplyView | None:
    row = uow.session.execute(select(CallReply).where(
        CallReply.call_id == call_id, CallReply.request_key == request_key)).scalar_one_or_none()
    return _reply_view(row) if row is not None else None


def check_call_for_order(uow_factory: UowFactory, call_id: int, agent: str) -> CallView:
    """The call an order is about to be opened from, if `agent` took it.

    Raises:
        CallNotFound: no such call.
        CallForbidden: another agent took it.
    """
    with uow_factory() as uow:
        call = _call(uow, call_id)
        _taken_by(call, agent)
        return _view(uow, call, full=False)


def link_work_order(uow_factory: UowFactory, call_id: int, order_number: str, agent: str,
                    now: datetime, created: bool) -> None:
    """Link a work order opened (or linked to) from a call, and name the call in its history.

    Linking the same order to the same call again changes nothing.

    Raises:
        CallError: no such call or order, or another agent took the call.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        call = _call(uow, call_id)
        _taken_by(call, agent)
        order = uow.work_orders.get_by_number(order_number)
        if order is None:
            raise CallError(f"没有编号为 {order_number} 的工单")
        done = uow.session.execute(select(CallWorkOrder.id).where(
            CallWorkOrder.call_id == call_id, CallWorkOrder.work_order_id == order.id)).first()
        if done is not None:
            return
        uow.session.add(CallWorkOrder(call_id=call_id, work_order_id=order.id, at=now))
        what = "开单" if created else "再次反映，已合并到本工单"
        started = f"{call.started_at:%Y-%m-%d %H:%M}"
        uow.work_orders.log(order, now, agent, "call",
                            f"来电记录 #{call.id}（{call.line}，{started}）{what}")
        uow.commit()


def calls_for_phone(uow_factory: UowFactory, phone: str, limit: int = 20,
                    exclude: int | None = None) -> list[CallView]:
    """The caller's calls, newest first (without their lines), at most `limit`."""
    digits = phones.normalise(phone or "")
    if digits is None:
        return []
    with uow_factory() as uow:
        stmt = select(CallRecord).where(CallRecord.phone == digits)
        if exclude is not None:
            stmt = stmt.where(CallRecord.id != exclude)
        stmt = stmt.order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).limit(limit)
        return [_view(uow, c, full=False) for c in uow.session.execute(stmt).scalars()]


def recent_calls(uow_factory: UowFactory, agent: str, limit: int = 20) -> list[CallView]:
    """The agent's latest calls, newest first (without their lines)."""
    with uow_factory() as uow:
        stmt = (select(CallRecord).where(CallRecord.agent == agent)
                .order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).limit(limit))
        return [_view(uow, c, full=False) for c in uow.session.execute(stmt).scalars()]
