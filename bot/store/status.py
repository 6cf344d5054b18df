"""The values the store keeps in its status columns, as enums (most with their Chinese labels)."""
from __future__ import annotations

from enum import Enum
from typing import Any, Callable


class StatusCode(str, Enum):
    """Where a mail item stands; the value is what the store keeps in `status` columns."""

    POSTED = "POSTED"
    DEPARTED = "DEPARTED"
    ARRIVED = "ARRIVED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    AT_STATION = "AT_STATION"
    FAILED = "FAILED"
    RETURNING = "RETURNING"
    RETURNED = "RETURNED"

    @property
    def label(self) -> str:
        """The Chinese label shown to customers (已妥投, 运输中, ...)."""
        return _LABELS[self]

    @property
    def is_final(self) -> bool:
        """True when the item will not move any more (delivered or back with the sender)."""
        return self in FINAL_STATUSES


_LABELS: dict[StatusCode, str] = {
    StatusCode.POSTED: "已收寄",
    StatusCode.DEPARTED: "已发出",
    StatusCode.ARRIVED: "已到达",
    StatusCode.IN_TRANSIT: "运输中",
    StatusCode.OUT_FOR_DELIVERY: "派送中",
    StatusCode.DELIVERED: "已妥投",
    StatusCode.AT_STATION: "已投递至驿站/代收点待取",
    StatusCode.FAILED: "投递失败",
    StatusCode.RETURNING: "退回中",
    StatusCode.RETURNED: "已退回",
}

FINAL_STATUSES: frozenset[StatusCode] = frozenset({StatusCode.DELIVERED, StatusCode.RETURNED})


class HandoverStatus(str, Enum):
    """Life cycle of a request to hand a conversation to an agent."""

    WAITING = "waiting"
    TAKEN = "taken"
    CLOSED = "closed"


# A sender has at most one request in these states (enforced by a partial unique index).
OPEN_HANDOVER_STATUSES: tuple[HandoverStatus, ...] = (HandoverStatus.WAITING, HandoverStatus.TAKEN)


class Channel(str, Enum):
    """Where a work order came from (domain.md, "Work-order channels and deadlines")."""

    WECHAT = "wechat"                  # 微信公众号
    HOTLINE_11183 = "11183"            # 11183 客户查询、投诉
    DIRECT_11183 = "11183_direct"      # 集团公司11183直接下派
    SPB_TRANSFER = "spb_transfer"      # 国家邮政局转办 / 12305 申诉
    GOV_12345 = "12345"                # 12345 政务平台
    PINDUODUO = "pinduoduo"            # 拼多多
    CAINIAO = "cainiao"                # 菜鸟
    STATE_GRID = "state_grid"          # 国网申诉

    @property
    def label(self) -> str:
        """The Chinese name agents know the channel by."""
        return _CHANNEL_LABELS[self]


_CHANNEL_LABELS: dict[Channel, str] = {
    Channel.WECHAT: "微信公众号",
    Channel.HOTLINE_11183: "11183客户查询投诉",
    Channel.DIRECT_11183: "集团公司11183直接下派",
    Channel.SPB_TRANSFER: "国家邮政局转办",
    Channel.GOV_12345: "12345政务平台",
    Channel.PINDUODUO: "拼多多",
    Channel.CAINIAO: "菜鸟",
    Channel.STATE_GRID: "国网申诉",
}


class Category(str, Enum):
    """Complaint categories (投诉类别) of domain.md, plus the pickup escalation."""

    DELAY = "delay"                        # 延误
    LOST = "lost"                          # 丢失
    DAMAGED = "damaged"                    # 损毁
    CONTENTS_MISSING = "contents_missing"  # 内件短少
    DELIVERY_SERVICE = "delivery_service"  # 投递服务
    PICKUP_SERVICE = "pickup_service"      # 收寄服务
    ATTITUDE = "attitude"                  # 服务态度
    IMPROPER_FEE = "improper_fee"          # 违规收费
    DATA_LEAK = "data_leak"                # 信息泄露
    OTHER = "other"                        # 其他

    @property
    def label(self) -> str:
        """The Chinese category name (延误, 丢失, ...)."""
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS: dict[Category, str] = {
    Category.DELAY: "延误",
    Category.LOST: "丢失",
    Category.DAMAGED: "损毁",
    Category.CONTENTS_MISSING: "内件短少",
    Category.DELIVERY_SERVICE: "投递服务",
    Category.PICKUP_SERVICE: "收寄服务",
    Category.ATTITUDE: "服务态度",
    Category.IMPROPER_FEE: "违规收费",
    Category.DATA_LEAK: "信息泄露",
    Category.OTHER: "其他",
}


class Priority(str, Enum):
    """How urgently a work order must be handled; escalations raise it."""

    NORMAL = "normal"
    HIGH = "high"        # e.g. a pickup chased a 3rd time, a complaint the customer escalated
    URGENT = "urgent"    # e.g. a pickup chased a 4th time: top priority

    @property
    def rank(self) -> int:
        """0, 1 or 2: for comparing priorities (a priority is only ever raised)."""
        return _PRIORITY_RANK[self]

    @property
    def label(self) -> str:
        """The Chinese name shown to agents (普通, 优先, 紧急)."""
        return {"normal": "普通", "high": "优先", "urgent": "紧急"}[self.value]


_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.HIGH: 1, Priority.URGENT: 2}


class WorkOrderStatus(str, Enum):
    """Life cycle of a work order: new → in progress → answered → called back → closed;
    a closed (or answered) order may be reopened, which puts it back in progress."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"          # feedback given to the customer
    CALLED_BACK = "called_back"    # 回访 done
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def label(self) -> str:
        """The Chinese name shown to agents and customers (待处理, 处理中, ...)."""
        return {
            "new": "待处理", "in_progress": "处理中", "answered": "已反馈",
            "called_back": "已回访", "closed": "已结案", "reopened": "重新打开",
        }[self.value]


OPEN_WORK_ORDER_STATUSES: tuple[WorkOrderStatus, ...] = (
    WorkOrderStatus.NEW, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ANSWERED,
    WorkOrderStatus.CALLED_BACK, WorkOrderStatus.REOPENED,
)


class PickupStatus(str, Enum):
    """Life cycle of a booked collection."""

    BOOKED = "booked"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


class ReplyDecision(str, Enum):
    """What the agent did with a suggestion."""

    ACCEPTED = "accepted"   # sent as suggested
    EDITED = "edited"       # sent after editing
    REJECTED = "rejected"   # not sent
    WRITTEN = "written"     # no suggestion: the agent wrote it


class Delivery(str, Enum):
    """Whether a reply reached the customer's channel."""

    PENDING = "pending"     # not yet (the REST outbox: until the client fetches it)
    SENT = "sent"
    FAILED = "failed"
    NONE = "none"           # nothing to deliver (a rejection)


def label_of(enum: Callable[[str], Any], value: str) -> str:
    """The Chinese label of a stored enum value, or the value itself when it is unknown.

    Args:
        enum: an enum of this module (or any with a `label` property), e.g. `Channel`.
        value: the value kept in the store, e.g. "12345".
    """
    try:
        return enum(value).label
    except ValueError:
        return value
