"""The agents' desk: who holds a handed-over conversation, and every reply an agent decided on.

A hand-over request (`HandoverRequest`, written by the bot) is *waiting* until an agent claims
it; it is then *taken* by that agent (``assigned_to``), can be transferred to another agent or
released back to the queue, and is *closed* when the agent hands the conversation back to the
bot. Each step is a line in `HandoverEvent` (append-only).

An `AgentReply` records one decision on a suggested reply, or a reply the agent wrote: the
suggestion, the final text, whether and how much it was edited (characters, Levenshtein), the
agent, the time, and whether it reached the customer. A client-chosen ``request_key`` makes a
repeated submit (a double click, a retried request) return the first record instead of sending
the text twice. The key belongs to its conversation: it is unique per hand-over and looked up
only after the agent was found to hold that conversation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot.store.models import (
    AgentReply,
    ConversationDay,
    HandoverEvent,
    HandoverRequest,
    as_store_time,
)
from bot.store.status import OPEN_HANDOVER_STATUSES, Delivery, HandoverStatus, ReplyDecision
from bot.store.uow import UnitOfWork, UowFactory

MAX_REPLY_CHARS = 2000
MAX_REQUEST_KEY_CHARS = 64  # agent_reply.request_key
_OPEN = [s.value for s in OPEN_HANDOVER_STATUSES]

REASON_LABELS = {
    "request_human": "客户要求人工",
    "fallback": "机器人多次没听懂",
    "escalate_complaint": "投诉升级",
    "urge_pickup": "多次催揽收",
    "wechat_window_closed": "微信回复窗口关闭/额度用尽",
    "wechat_image": "客户发来图片",
    "wechat_location": "客户发来位置",
    "wechat_link": "客户发来链接",
    "wechat_video": "客户发来视频",
    "wechat_shortvideo": "客户发来视频",
    "wechat_file": "客户发来文件",
    "delivery_service": "投诉：投递服务",
    "lost_item": "投诉：丢失",
    "damaged_item": "投诉：破损",
    "staff_attitude": "投诉：服务态度",
    "fee_dispute": "投诉：资费争议",
    "complaint_progress": "查询投诉进度",
    "change_delivery": "改地址/改派",
    "return_intercept": "退回/拦截",
    "claim_compensation": "申请赔偿",
    "unsatisfied": "对处理不满意",
}
STATUS_LABELS = {"waiting": "等待接入", "taken": "处理中", "closed": "已交还"}


class DeskError(ValueError):
    """A desk action that is not possible now; the message is Chinese, for the agent."""


class DeskNotFound(DeskError):
    """No hand-over has that id."""


class DeskForbidden(DeskError):
    """The conversation is not held by the one asking (and they do not supervise)."""


@dataclass(frozen=True)
class HandoverView:
    """A hand-over request as the workbench shows it."""

    id: int
    sender_id: str
    channel: str
    reason: str
    reason_label: str
    intent: str | None
    last_message: str
    status: str
    status_label: str
    assigned_to: str | None
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Waiting or taken: not yet handed back to the bot."""
        return self.status in _OPEN


@dataclass(frozen=True)
class EventView:
    """One step of a hand-over as the workbench shows it."""

    at: datetime
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class ReplyView:
    """A recorded reply decision."""

    id: int
    request_key: str
    handover_id: int
    sender_id: str
    channel: str
    agent: str
    suggestion_kind: str | None
    suggested_text: str | None
    final_text: str | None
    decision: str
    edit_distance: int | None
    delivery: str
    delivery_error: str
    created_at: datetime
    delivered_at: datetime | None


def _handover_view(r: HandoverRequest) -> HandoverView:
    return HandoverView(
        id=r.id, sender_id=r.sender_id, channel=r.channel, reason=r.reason,
        reason_label=REASON_LABELS.get(r.reason, r.reason), intent=r.intent,
        last_message=r.last_message, status=r.status,
        status_label=STATUS_LABELS.get(r.status, r.status), assigned_to=r.assigned_to,
        created_at=r.created_at, updated_at=r.updated_at, claimed_at=r.claimed_at,
        closed_at=r.closed_at,
    )


def _reply_view(r: AgentReply) -> ReplyView:
    return ReplyView(
        id=r.id, request_key=r.request_key, handover_id=r.handover_id, sender_id=r.sender_id,
        channel=r.channel, agent=r.agent, suggestion_kind=r.suggestion_kind,
        suggested_text=r.suggested_text, final_text=r.final_text, decision=r.decision,
        edit_distance=r.edit_distance, delivery=r.delivery, delivery_error=r.delivery_error,
        created_at=r.created_at, delivered_at=r.delivered_at,
    )


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def open_queue(uow_factory: UowFactory, limit: int = 200) -> list[HandoverView]:
    """Open hand-overs: waiting ones first (oldest first), then taken ones (oldest claim first)."""
    with uow_factory() as uow:
        return [_handover_view(r) for r in uow.desk.open_queue(limit)]


def get_handover(uow_factory: UowFactory, handover_id: int) -> HandoverView | None:
    """One hand-over request, or None."""
    with uow_factory() as uow:
        request = uow.desk.get(handover_id)
        return _handover_view(request) if request is not None else None


def handover_events(uow_factory: UowFactory, handover_id: int) -> list[EventView]:
    """The steps of one hand-over, oldest first."""
    with uow_factory() as uow:
        return [EventView(e.at, e.actor, e.action, e.detail)
                for e in uow.desk.events(handover_id)]


def _log(uow: UnitOfWork, handover_id: int, at: datetime, actor: str, action: str,
         detail: str = "") -> None:
    uow.desk.log(HandoverEvent(handover_id=handover_id, at=at, actor=actor, action=action,
                               detail=detail))


def _locked(uow: UnitOfWork, handover_id: int) -> HandoverRequest:
    request = uow.desk.lock(handover_id)
    if request is None:
        raise DeskNotFound(f"没有编号为 {handover_id} 的转人工会话")
    return request


def claim(uow_factory: UowFactory, handover_id: int, agent: str, now: datetime) -> HandoverView:
    """Take a waiting conversation. Claiming one's own conversation again changes nothing.

    Raises:
        DeskError: it is taken by another agent, or already handed back.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        if uow.desk.claim(handover_id, agent, now):
            _log(uow, handover_id, now, agent, "claimed")
            uow.commit()
        request = uow.desk.get(handover_id)
        if request is None:
            raise DeskNotFound(f"没有编号为 {handover_id} 的转人工会话")
        uow.desk.refresh(request)
        if request.status == HandoverStatus.TAKEN.value and request.assigned_to == agent:
            return _handover_view(request)
        if request.status == HandoverStatus.TAKEN.value:
            raise DeskError(f"这个会话已由 {request.assigned_to} 接入")
        raise DeskError("这个会话已交还机器人，不能再接入")


def _held_by(request: HandoverRequest, actor: str, supervisor: bool) -> None:
    if request.status != HandoverStatus.TAKEN.value:
        raise DeskError("这个会话现在没有人接入" if request.status == HandoverStatus.WAITING.value
                        else "这个会话已交还机器人")
    if request.assigned_to != actor and not supervisor:
        raise DeskForbidden(f"这个会话由 {request.assigned_to} 接入，您不能操作")


def holder_view(uow_factory: UowFactory, handover_id: int, actor: str,
                supervisor: bool = False) -> HandoverView:
    """The hand-over, if `actor` holds it now (a supervisor: any hand-over).

    For what the holder alone may do besides replying, e.g. sending a misread message to the
    trainers.

    Raises:
        DeskNotFound: no such hand-over.
        DeskForbidden: `actor` does not hold it (it is waiting, handed back, or another's).
    """
    with uow_factory() as uow:
        request = uow.desk.get(handover_id)
        if request is None:
            raise DeskNotFound(f"没有编号为 {handover_id} 的转人工会话")
        if not supervisor and (request.status != HandoverStatus.TAKEN.value
                               or request.assigned_to != actor):
            raise DeskForbidden("只有接入这个会话的坐席可以操作")
        return _handover_view(request)


def transfer(uow_factory: UowFactory, handover_id: int, actor: str, to_agent: str,
             now: datetime, supervisor: bool = False) -> HandoverView:
    """Give a taken conversation to another active agent (the holder or a supervisor may).

    Raises:
        DeskError: not held by `actor`, or `to_agent` is not an active agent.
    """
    from bot.store.accounts import AccountError, Role, accounts_in, normalise_username

    now = as_store_time(now)
    try:
        username = normalise_username(to_agent)
    except AccountError:
        raise DeskError(f"没有名为 {to_agent} 的在岗坐席") from None
    with uow_factory() as uow:
        target = accounts_in(uow).get_by_username(username)
        if target is None or not target.active or target.role not in (Role.AGENT.value,
                                                                       Role.ADMIN.value):
            raise DeskError(f"没有名为 {to_agent} 的在岗坐席")
        request = _locked(uow, handover_id)
        _held_by(request, actor, supervisor)
        if target.username == request.assigned_to:
            raise DeskError("会话已在这位坐席手里")
        previous = request.assigned_to
        request.assigned_to = target.username
        request.updated_at = now
        _log(uow, handover_id, now, actor, "transferred", f"{previous} → {target.username}")
        uow.commit()
        return _handover_view(request)


def _step(uow_factory: UowFactory, handover_id: int, actor: str, now: datetime,
          supervisor: bool, action: str, status: HandoverStatus) -> HandoverView:
    """Move a conversation held by `actor` (or any, for a supervisor) to `status`."""
    now = as_store_time(now)
    with uow_factory() as uow:
        request = _locked(uow, handover_id)
        _held_by(request, actor, supervisor)
        request.status = status.value
        request.updated_at = now
        if status is HandoverStatus.WAITING:
            request.assigned_to = None
        else:
            request.closed_at = now
        _log(uow, handover_id, now, actor, action)
        uow.commit()
        return _handover_view(request)


def release(uow_factory: UowFactory, handover_id: int, actor: str, now: datetime,
            supervisor: bool = False) -> HandoverView:
    """Put a taken conversation back in the queue for any agent (the bot stays silent)."""
    return _step(uow_factory, handover_id, actor, now, supervisor, "released",
                 HandoverStatus.WAITING)


def hand_back(uow_factory: UowFactory, handover_id: int, actor: str, now: datetime,
              supervisor: bool = False) -> HandoverView:
    """Close the hand-over: the bot answers this customer again."""
    return _step(uow_factory, handover_id, actor, now, supervisor, "handed_back",
                 HandoverStatus.CLOSED)


def note_customer_message(uow_factory: UowFactory, sender_id: str, text: str,
                          now: datetime) -> bool:
    """A customer wrote while their conversation is with an agent: show it in the queue.

    Returns:
        True when the sender has an open hand-over (and it was updated).
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        request = uow.handovers.open_for_sender(sender_id)
        if request is None:
            return False
        request.last_message = text
        request.updated_at = now
        uow.commit()
        return True


def _decision(suggested: str | None, final: str | None) -> tuple[ReplyDecision, int | None]:
    if final is None:
        return ReplyDecision.REJECTED, None
    if suggested is None:
        return ReplyDecision.WRITTEN, None
    distance = edit_distance(suggested, final)
    return (ReplyDecision.ACCEPTED if distance == 0 else ReplyDecision.EDITED), distance


def checked_reply(
    suggested_text: str | None, final_text: str | None, *,
    error: type[ValueError] = DeskError, noun: str = "回复",
) -> tuple[str | None, ReplyDecision, int | None]:
    """Check the text of a reply to a suggestion and tell what the agent decided.

    Args:
        suggested_text: the suggestion shown, None when the agent wrote without one.
        final_text: the text sent, None when the suggestion was rejected.
        error: the error to raise (`DeskError`, or the caller's own).
        noun: what the reply is called in the messages (回复, 答复).

    Returns:
        The final text stripped, the decision and the edit distance (None unless accepted or
        edited).

    Raises:
        ValueError: `error`, when the text is empty or too long or there is nothing to reject.
    """
    if final_text is not None:
        final_text = final_text.strip()
        if not final_text:
            raise error(f"{noun}内容不能为空")
        if len(final_text) > MAX_REPLY_CHARS:
            raise error(f"{noun}太长（最多 {MAX_REPLY_CHARS} 字）")
    if final_text is None and suggested_text is None:
        raise error("没有可拒绝的建议")
    decision, distance = _decision(suggested_text, final_text)
    return final_text, decision, distance


def record_reply(
    uow_factory: UowFactory,
    *,
    request_key: str,
    handover_id: int,
    agent: str,
    suggestion_kind: str | None,
    suggested_text: str | None,
    final_text: str | None,
    now: datetime,
) -> tuple[ReplyView, bool]:
    """Record a decision on a suggestion (``final_text`` None = rejected) or a written reply.

    Only the agent holding the conversation may reply; that is checked first. A `request_key`
    seen before in this conversation returns the first record and ``False``: the caller must
    not deliver it again. Keys of other conversations are never looked at.

    Raises:
        DeskError: the conversation is not held by `agent` (`DeskForbidden` when another holds
            it), the key was used by another agent, or the text is empty or too long.
    """
    now = as_store_time(now)
    if not request_key or len(request_key) > MAX_REQUEST_KEY_CHARS:
        raise DeskError("缺少请求编号")
    final_text, decision, distance = checked_reply(suggested_text, final_text)
    with uow_factory() as uow:
        request = _locked(uow, handover_id)
        _held_by(request, agent, supervisor=False)
        seen = _seen(uow, handover_id, request_key, agent)
        if seen is not None:
            return seen, False
        reply = AgentReply(
            request_key=request_key, handover_id=handover_id, sender_id=request.sender_id,
            channel=request.channel, agent=agent, suggestion_kind=suggestion_kind,
            suggested_text=suggested_text, final_text=final_text, decision=decision.value,
            edit_distance=distance,
            delivery=(Delivery.NONE if final_text is None else Delivery.PENDING).value,
            delivery_error="", created_at=now,
        )
        uow.desk.add_reply(reply)
        request.updated_at = now
        _log(uow, handover_id, now, agent, "replied" if final_text is not None else "rejected",
             suggestion_kind or "")
        try:
            uow.commit()
        except IntegrityError:
            uow.rollback()  # the same key submitted twice at once: the other one won
            seen = _seen(uow, handover_id, request_key, agent)
            if seen is None:
                raise
            return seen, False
        return _reply_view(reply), True


def _seen(uow: UnitOfWork, handover_id: int, request_key: str, agent: str) -> ReplyView | None:
    """The reply this conversation recorded under `request_key`, if any (only `agent`'s)."""
    seen = uow.desk.reply_by_key(handover_id, request_key)
    if seen is None:
        return None
    if seen.agent != agent:  # the conversation was transferred after that reply
        raise DeskError("这个请求编号已被另一位坐席使用，请刷新页面后重新提交")
    return _reply_view(seen)


def mark_delivery(uow_factory: UowFactory, reply_id: int, delivered: bool, error: str,
                  now: datetime) -> ReplyView:
    """Record whether a reply reached the customer's channel."""
    now = as_store_time(now)
    with uow_factory() as uow:
        reply = uow.desk.get_reply(reply_id)
        if reply is None:
            raise DeskError(f"没有编号为 {reply_id} 的回复")
        reply.delivery = (Delivery.SENT if delivered else Delivery.FAILED).value
        reply.delivery_error = error[:500]
        reply.delivered_at = now if delivered else None
        uow.commit()
        return _reply_view(reply)


def replies_for(uow_factory: UowFactory, handover_id: int) -> list[ReplyView]:
    """The replies recorded for one hand-over, oldest first."""
    with uow_factory() as uow:
        return [_reply_view(r) for r in uow.desk.replies(handover_id)]


def take_outbox(uow_factory: UowFactory, sender_id: str, channel: str,
                now: datetime) -> list[ReplyView]:
    """The sender's replies not yet delivered on a pull channel (REST), marked sent now.

    Each reply is handed out once: the rows are locked and updated in one transaction.
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        rows = uow.desk.pending_replies(sender_id, channel)
        for reply in rows:
            reply.delivery = Delivery.SENT.value
            reply.delivered_at = now
        uow.commit()
        return [_reply_view(r) for r in rows]


def count_conversation(uow_factory: UowFactory, sender_id: str, channel: str,
                       now: datetime) -> None:
    """Count one customer message towards (sender, channel, today)."""
    day = as_store_time(now).date()
    with uow_factory() as uow:
        if not uow.desk.count_message(sender_id, channel, day):
            uow.desk.add_day(ConversationDay(sender_id=sender_id, channel=channel, day=day,
                                             messages=1))
            try:
                uow.commit()
                return
            except IntegrityError:  # another worker counted the first message of the day
                uow.rollback()
                uow.desk.count_message(sender_id, channel, day)
        uow.commit()
