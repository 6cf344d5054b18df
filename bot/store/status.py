"""Mail status codes with the labels China Post shows customers, and handover states."""
from __future__ import annotations

from enum import Enum


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
