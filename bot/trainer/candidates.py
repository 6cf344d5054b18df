"""The trainers' NLU inbox, its vocabulary: why a message is in it, where it is in review.

The rows are `bot.store.models.NluCandidate`; services hand them out as `CandidateView`,
with the entity spans decoded (`Span`). The raw text is in the view: mask it with
`bot.trainer.pii.review_text` before showing it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Iterable

from bot.store.models import NluCandidate
from bot.text.normalize import punctuation_only

# A correction and the tracker's copy of the same message are one candidate.
SAME_MESSAGE_WINDOW = timedelta(minutes=2)


class Reason(str, Enum):
    """Why a message is in the inbox."""

    LOW_CONFIDENCE = "low_confidence"
    FALLBACK = "fallback"
    REJECTED_SUGGESTION = "rejected_suggestion"
    CORRECTED = "corrected"
    CLARIFIED = "clarified"


class CandidateStatus(str, Enum):
    """Where a candidate is in review."""

    NEW = "new"
    ANNOTATED = "annotated"
    DISCARDED = "discarded"
    EXPORTED = "exported"
    CONFLICT = "conflict"


REASON_LABELS = {
    Reason.LOW_CONFIDENCE.value: "置信度低",
    Reason.FALLBACK.value: "没听懂（兜底）",
    Reason.REJECTED_SUGGESTION.value: "坐席拒绝了建议回复",
    Reason.CORRECTED.value: "坐席纠正了意图",
    Reason.CLARIFIED.value: "客户在澄清时选择了意图",
}
STATUS_LABELS = {
    CandidateStatus.NEW.value: "待标注",
    CandidateStatus.ANNOTATED.value: "已标注",
    CandidateStatus.DISCARDED.value: "已丢弃",
    CandidateStatus.EXPORTED.value: "已导出",
    CandidateStatus.CONFLICT.value: "有冲突",
}


class TrainerError(ValueError):
    """A request the inbox refuses; the message is Chinese, for the trainer."""


class CandidateNotFound(TrainerError):
    """No candidate with that id."""


@dataclass(frozen=True)
class Span:
    """An entity on a message: characters ``text[start:end]``, optionally a synonym value."""

    start: int
    end: int
    entity: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The span as stored and as Rasa reads it (``value`` only for a synonym)."""
        out: dict[str, Any] = {"start": self.start, "end": self.end, "entity": self.entity}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class CandidateView:
    """A candidate as the services hand it out (raw text: mask it before showing it)."""

    id: int
    source_key: str
    sender_id: str
    channel: str
    text: str
    received_at: datetime
    reason: str
    predicted_intent: str | None
    confidence: float | None
    predicted_entities: list[Span]
    suggested_intent: str | None
    reported_by: str | None
    status: str
    intent: str | None
    entities: list[Span]
    note: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    exported_at: datetime | None

    @property
    def reason_label(self) -> str:
        """Why it is in the inbox, in Chinese."""
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def status_label(self) -> str:
        """Where it is in review, in Chinese."""
        return STATUS_LABELS.get(self.status, self.status)


def spans_of(raw: str | None) -> list[Span]:
    """The spans stored as JSON in a candidate column (malformed items are skipped)."""
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return []
    out = []
    for item in items if isinstance(items, list) else []:
        try:
            out.append(Span(int(item["start"]), int(item["end"]), str(item["entity"]),
                            None if item.get("value") is None else str(item["value"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def dump_spans(spans: Iterable[Span]) -> str:
    """Spans as the JSON a candidate column stores."""
    return json.dumps([s.as_dict() for s in spans], ensure_ascii=False)


def candidate_view(row: NluCandidate) -> CandidateView:
    """The read-only view of a candidate row."""
    return CandidateView(
        id=row.id, source_key=row.source_key, sender_id=row.sender_id, channel=row.channel,
        text=row.text, received_at=row.received_at, reason=row.reason,
        predicted_intent=row.predicted_intent, confidence=row.confidence,
        predicted_entities=spans_of(row.predicted_entities), suggested_intent=row.suggested_intent,
        reported_by=row.reported_by, status=row.status, intent=row.intent,
        entities=spans_of(row.entities), note=row.note, reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at, exported_at=row.exported_at,
    )


def is_message(text: Any) -> bool:
    """True for text a trainer can annotate: not a button payload (``/intent``), and not
    empty or punctuation alone ("。", "？？": the bot asks such a message to rephrase)."""
    return (isinstance(text, str) and not punctuation_only(text)
            and not text.lstrip().startswith("/"))
