"""Suggested replies for the latest customer message of a handed-over conversation.

One to three drafts, most relevant first, built from what the bot read in the message (intent,
entities), the customer's mail (status and trail) and their work orders (number, deadline, the
drafted feedback of bot/workorders/drafts.py). The agent accepts, edits or rejects each one;
the decision is recorded by `bot.store.desk.record_reply`.

Nothing here invents facts: a status answer is only offered for a mail found in the store, an
acknowledgement names an order only when one exists. Phones in drafts are masked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bot.store.services import MailStatus
from bot.store.status import StatusCode
from bot.store.workorders import WorkOrderView
from bot.text.dates import customer_moment

MAX_SUGGESTIONS = 3

STATUS_INTENTS = frozenset({
    "track_mail", "delivery_delay", "not_received", "ask_delivery_time", "collect_parcel",
    "change_delivery", "return_intercept",
})
COMPLAINT_INTENTS = frozenset({
    "delivery_service", "lost_item", "damaged_item", "staff_attitude", "fee_dispute",
    "complaint_progress", "escalate_complaint", "claim_compensation", "unsatisfied",
})


@dataclass(frozen=True)
class Suggestion:
    """A drafted reply.

    Attributes:
        kind: greeting, status, acknowledgement, followup or ask_info (recorded with the decision).
        label: what the workbench shows above the draft.
        text: the draft itself.
    """

    kind: str
    label: str
    text: str


@dataclass(frozen=True)
class LatestMessage:
    """The bot's reading of the customer's latest message."""

    text: str
    intent: str | None
    confidence: float | None
    entities: tuple[dict, ...] = ()


def status_answer(mail: MailStatus) -> Suggestion:
    """Where the mail is, from its newest scan, and what happens next."""
    parts = [f"您好，您的{mail.product}邮件 {mail.number} 目前的状态是“{mail.status_label}”。"]
    if mail.last_events:
        latest = mail.last_events[0]
        where = latest.place or latest.unit
        when = customer_moment(latest.occurred_at)
        parts.append(f"最新记录：{when} {where} {latest.description}。")
    if mail.status_code is StatusCode.DELIVERED:
        signer = f"，签收人{mail.signed_by_masked}" if mail.signed_by_masked else ""
        parts.append(f"系统显示已经妥投{signer}。如果您没有收到，我马上帮您联系投递员核实。")
    elif mail.at_station:
        parts.append("邮件在驿站/代收点等您领取，请带上取件码或有效证件去取。")
    elif mail.returned:
        parts.append("这件邮件正在退回寄件人，需要改回派送的话请告诉我。")
    elif mail.is_stuck or mail.is_overdue:
        parts.append(f"已经{mail.hours_since_update}小时没有新的动态，我这边马上帮您催查，"
                     "有结果第一时间告诉您。")
    else:
        parts.append("邮件正常在途，请您再耐心等一下，派送前投递员会和您联系。")
    return Suggestion("status", f"状态答复 · {mail.number}", "".join(parts))


def acknowledgement(order: WorkOrderView) -> Suggestion:
    """Sorry, the order number, and by when the customer hears back."""
    text = (f"非常抱歉给您添麻烦了。您反映的问题已经登记为工单{order.number}"
            f"（{order.category.label}），我们会在{customer_moment(order.deadline)}前给您答复，"
            "处理有进展我会第一时间告诉您。")
    return Suggestion("acknowledgement", f"投诉受理 · {order.number}", text)


def suggest(
    latest: LatestMessage | None,
    mail: MailStatus | None,
    orders: Sequence[WorkOrderView],
    followup: str | None,
    agent_name: str,
    greeted: bool,
) -> list[Suggestion]:
    """Up to three drafts for the latest message, most relevant first.

    Args:
        latest: the latest customer message as the bot read it (None: none yet).
        mail: the mail the conversation is about, if it is in the store.
        orders: the customer's work orders, newest first (open ones are used).
        followup: the drafted feedback of the newest open order (bot/workorders/drafts.py).
        agent_name: the agent's display name, for the greeting.
        greeted: whether this agent already sent something in this hand-over.
    """
    intent = latest.intent if latest is not None else None
    open_orders = [o for o in orders if o.is_open]
    drafts: list[Suggestion] = []
    if not greeted:
        drafts.append(Suggestion(
            "greeting", "接入问候",
            f"您好，我是人工客服{agent_name}，您前面的留言我都看到了，这就帮您处理。"))
    complaint_first = intent in COMPLAINT_INTENTS or (open_orders and intent not in STATUS_INTENTS)
    ranked: list[Suggestion] = []
    if mail is not None:
        ranked.append(status_answer(mail))
    if open_orders:
        # One draft about the order: the drafted feedback when there is one, else the receipt.
        ranked.append(Suggestion("followup", f"处理反馈 · {open_orders[0].number}", followup)
                      if followup else acknowledgement(open_orders[0]))
    if complaint_first:
        ranked.sort(key=lambda s: s.kind == "status")
    drafts.extend(ranked)
    if mail is None and not open_orders:
        drafts.append(Suggestion(
            "ask_info", "询问单号",
            "麻烦您发一下邮件单号（面单上的13位号码）和联系电话，我帮您查清楚。"))
    return drafts[:MAX_SUGGESTIONS]
