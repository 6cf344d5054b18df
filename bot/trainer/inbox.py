"""The trainers' NLU inbox: customer messages the bot did not understand well enough.

A message becomes a *candidate* (`NluCandidate`) for one of four reasons:

* ``fallback``: Rasa's FallbackClassifier answered ``nlu_fallback``;
* ``low_confidence``: the top intent's confidence was below a threshold;
* ``rejected_suggestion``: an agent rejected the reply the workbench suggested for it;
* ``corrected``: an agent said which intent it really was (`record_correction`);
* ``clarified``: the bot was unsure and asked "您是想……还是……？" (``action_clarify``), and the
  customer picked one of the offered requests: the message comes labelled with the pick.

`collect` reads the first two from Rasa's SQL tracker store (its ``events`` table, owned by
Rasa) and the third from the desk's `AgentReply` rows; it remembers how far it read (the
tracker's primary key, `CollectCursor`), so each run reads only what is new. Trainers then
annotate a candidate (intent and entity spans, checked against the domain) or discard it;
`bot.trainer.export` writes the annotations into ``data/nlu``.

The store keeps the raw text; trainers see it through `review_text`, which masks phones, ID
numbers, e-mail addresses, street addresses and names without changing the length, so entity
offsets chosen on the masked text are the offsets in the raw text.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped

from bot.config import PROJECT_ROOT, TIMEZONE, local_now
from bot.store.desk import AgentReply, ReplyDecision
from bot.store.models import Base, as_store_time
from bot.store.uow import UnitOfWork, UowFactory
from bot.text import masking, phones
from bot.text.payloads import intent_of_payload

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
FALLBACK_INTENT = "nlu_fallback"
LOW_CONFIDENCE = 0.6
# Ids below the cursor read once more: on PostgreSQL a smaller id can commit after a larger one.
OVERLAP_IDS = 500
BATCH = 500
# A correction and the tracker's copy of the same message are one candidate.
SAME_MESSAGE_WINDOW = timedelta(minutes=2)
MAX_ENTITY_VALUE = 100
CLARIFY_ACTION = "action_clarify"
# How far back from a pick to look for the clarifying question and the message it was about.
PICK_LOOKBACK_EVENTS = 30


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


class NluCandidate(Base):
    """A customer message waiting for (or done with) a trainer's review."""

    __tablename__ = "nlu_candidate"
    __table_args__ = (Index("ix_nlu_candidate_status_received", "status", "received_at"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    # Where it came from: "tracker:<sender>:<timestamp>" or "correction:<sender>:<time>:<hash>".
    source_key: Mapped[str] = Column(String(320), nullable=False, unique=True)
    sender_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)  # raw; shown masked (review_text)
    received_at: Mapped[datetime] = Column(DateTime, nullable=False, index=True)
    reason: Mapped[str] = Column(String(24), nullable=False)
    predicted_intent: Mapped[str | None] = Column(String(64), nullable=True)
    confidence: Mapped[float | None] = Column(Float, nullable=True)
    predicted_entities: Mapped[str] = Column(Text, nullable=False, default="[]")  # JSON
    suggested_intent: Mapped[str | None] = Column(String(64), nullable=True)  # an agent's
    reported_by: Mapped[str | None] = Column(String(64), nullable=True)  # that agent
    status: Mapped[str] = Column(String(12), nullable=False)
    intent: Mapped[str | None] = Column(String(64), nullable=True)  # the trainer's choice
    entities: Mapped[str] = Column(Text, nullable=False, default="[]")  # JSON spans
    note: Mapped[str | None] = Column(Text, nullable=True)  # why in conflict / not written
    reviewed_by: Mapped[str | None] = Column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = Column(DateTime, nullable=True)
    exported_at: Mapped[datetime | None] = Column(DateTime, nullable=True)


class CollectCursor(Base):
    """How far `collect` has read a source (the tracker's events, the agents' replies)."""

    __tablename__ = "nlu_collect_cursor"

    source: Mapped[str] = Column(String(32), primary_key=True)
    origin: Mapped[str] = Column(String(64), nullable=False)  # SHA-256 of the tracker URL
    position: Mapped[int] = Column(Integer, nullable=False)  # the last id read
    updated_at: Mapped[datetime] = Column(DateTime, nullable=False)


# The columns of Rasa's `SQLTrackerStore.SQLEvent` (rasa/core/tracker_store.py). Rasa creates
# and owns the table; declaring it here keeps Rasa itself out of the workbench process.
_TRACKER = MetaData()
EVENTS = Table(
    "events", _TRACKER,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


@dataclass(frozen=True)
class Span:
    """An entity on a message: characters ``text[start:end]``, optionally a synonym value."""

    start: int
    end: int
    entity: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
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
        return REASON_LABELS.get(self.reason, self.reason)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _spans(raw: str | None) -> list[Span]:
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


def _dump_spans(spans: Iterable[Span]) -> str:
    return json.dumps([s.as_dict() for s in spans], ensure_ascii=False)


def candidate_view(row: NluCandidate) -> CandidateView:
    """The read-only view of a candidate row."""
    return CandidateView(
        id=row.id, source_key=row.source_key, sender_id=row.sender_id, channel=row.channel,
        text=row.text, received_at=row.received_at, reason=row.reason,
        predicted_intent=row.predicted_intent, confidence=row.confidence,
        predicted_entities=_spans(row.predicted_entities), suggested_intent=row.suggested_intent,
        reported_by=row.reported_by, status=row.status, intent=row.intent,
        entities=_spans(row.entities), note=row.note, reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at, exported_at=row.exported_at,
    )


# --- masking for review -------------------------------------------------------------------

# Resident ID numbers (as bot.text.masking finds them): 18 characters with a birth date, or 15 digits.
_ID18_RE = re.compile(
    r"(?<![\dA-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![\dA-Za-z])")
_ID15_RE = re.compile(
    r"(?<![\dA-Za-z])\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])")


def _area_code_length(digits: str) -> int:
    return 3 if digits.startswith(("010", "02")) else 4


def review_text(text: str) -> str:
    """`text` with its personal data masked, every character where it was.

    ``bot.text.masking.mask_text`` rewrites a spaced or ``+86`` number into ``138****5678``,
    which moves what follows; trainers mark entities by position, so here every masked
    digit becomes one ``*`` and separators stay. A plain mobile still reads ``138****5678``,
    a landline ``0871-****9518``, an ID ``5301**********1234``. E-mail addresses, street
    addresses and names are starred in place as `bot.text.masking.mask_in_place` does:
    ``z********@qq.com``, ``寄到曲靖市麒麟区***********``, ``收件人：张**``.
    """
    chars = list(masking.mask_in_place(text))
    for pattern in (_ID18_RE, _ID15_RE):
        for m in pattern.finditer(text):
            for i in range(m.start() + 4, m.end() - 4):
                chars[i] = "*"
    for m in phones.PHONE_RE.finditer(text):
        positions = [i for i in range(m.start(), m.end()) if text[i].isdigit()]
        digits = "".join(text[i] for i in positions)
        if digits.startswith("0"):
            head = _area_code_length(digits)
        else:  # a mobile, perhaps after 86
            head = (len(digits) - 11) + 3
        for i in positions[head:len(positions) - 4]:
            chars[i] = "*"
    return "".join(chars)


# --- the domain ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The intents and entities of the domain, in the domain's order."""

    intents: tuple[str, ...]
    entities: tuple[str, ...]


_vocabulary_cache: dict[tuple[str, int], Vocabulary] = {}


def _names(items: Any) -> list[str]:
    names = []
    for item in items or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):  # "- intent: {use_entities: ...}"
            names.extend(str(k) for k in item)
    return names


def domain_vocabulary(domain_path: Path | None = None) -> Vocabulary:
    """The intents and entities of ``domain.yml`` (re-read when the file changes).

    Args:
        domain_path: the domain file (default: the project's ``domain.yml``).
    """
    path = Path(domain_path or DOMAIN_FILE)
    key = (str(path), path.stat().st_mtime_ns)
    cached = _vocabulary_cache.get(key)
    if cached is None:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cached = Vocabulary(tuple(_names(content.get("intents"))),
                            tuple(_names(content.get("entities"))))
        _vocabulary_cache[key] = cached
    return cached


# --- collecting ---------------------------------------------------------------------------


@dataclass
class CollectResult:
    """What one `collect` run found."""

    added: Counter = field(default_factory=Counter)  # reason -> new candidates
    events_read: int = 0
    replies_read: int = 0
    unmatched_replies: int = 0  # rejections whose customer message is not in the tracker
    tracker_found: bool = True  # False: the tracker store has no events table (yet)

    @property
    def total(self) -> int:
        return sum(self.added.values())


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def tracker_engine(tracker_url: str) -> Engine | None:
    """A (cached) engine on Rasa's tracker store, or None when its SQLite file does not exist."""
    url = make_url(tracker_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not Path(database).exists():
            return None
    with _engines_lock:
        engine = _engines.get(tracker_url)
        if engine is None:
            kwargs: dict[str, Any] = {"future": True}
            if url.get_backend_name() == "sqlite":
                kwargs["connect_args"] = {"check_same_thread": False}
            else:
                kwargs["pool_pre_ping"] = True
            engine = _engines[tracker_url] = create_engine(tracker_url, **kwargs)
        return engine


def dispose_tracker_engines() -> None:
    """Close the cached tracker-store engines (tests, shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _origin(engine: Engine) -> str:
    rendered = engine.url.render_as_string(hide_password=False)
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()


def _epoch(moment: datetime) -> float:
    return as_store_time(moment).replace(tzinfo=TIMEZONE).timestamp()


def _store_time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, TIMEZONE).replace(tzinfo=None)


def message_key(sender_id: str, timestamp: float) -> str:
    """The source key of a customer message in the tracker store."""
    return f"tracker:{sender_id}:{timestamp:.6f}"


@dataclass(frozen=True)
class _Reading:
    intent: str | None
    confidence: float | None
    fell_back: bool
    entities: list[Span]


def _reading(data: dict[str, Any]) -> _Reading:
    """The bot's reading of a user event; for a fallback, the intent it would have chosen."""
    parse = data.get("parse_data") or {}
    top = parse.get("intent") or {}
    name, confidence = top.get("name"), top.get("confidence")
    fell_back = name == FALLBACK_INTENT
    if fell_back:
        name, confidence = None, None
        for entry in parse.get("intent_ranking") or []:
            if isinstance(entry, dict) and entry.get("name") not in (None, FALLBACK_INTENT):
                name, confidence = entry["name"], entry.get("confidence")
                break
    entities = []
    for e in parse.get("entities") or []:
        try:
            entities.append(Span(int(e["start"]), int(e["end"]), str(e["entity"]),
                                 None if e.get("value") is None else str(e["value"])))
        except (KeyError, TypeError, ValueError):
            continue
    return _Reading(
        name if isinstance(name, str) else None,
        float(confidence) if isinstance(confidence, (int, float)) else None,
        fell_back, entities)


def _is_message(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip()) and not text.lstrip().startswith("/")


def _cursor(uow: UnitOfWork, source: str, origin: str) -> int:
    row = uow.session.get(CollectCursor, source)
    return row.position if row is not None and row.origin == origin else 0


def _move_cursor(uow: UnitOfWork, source: str, origin: str, position: int, now: datetime) -> None:
    row = uow.session.get(CollectCursor, source)
    if row is None:
        uow.session.add(CollectCursor(source=source, origin=origin, position=position,
                                      updated_at=now))
    else:
        row.origin, row.position, row.updated_at = origin, position, now


def _corrected_copy(uow: UnitOfWork, sender_id: str, text: str, at: datetime) -> bool:
    """True when an agent already reported this message (a 'corrected' candidate)."""
    stmt = select(NluCandidate.id).where(
        NluCandidate.sender_id == sender_id, NluCandidate.text == text,
        NluCandidate.reason == Reason.CORRECTED.value,
        NluCandidate.received_at.between(at - SAME_MESSAGE_WINDOW, at + SAME_MESSAGE_WINDOW))
    return uow.session.execute(stmt.limit(1)).first() is not None


def _add_new(uows: UowFactory, rows: list[NluCandidate], result: CollectResult) -> None:
    """Insert the rows whose source key is not stored yet (a concurrent run may race us)."""
    if not rows:
        return
    with uows() as uow:
        keys = [r.source_key for r in rows]
        seen = set(uow.session.execute(
            select(NluCandidate.source_key).where(NluCandidate.source_key.in_(keys))).scalars())
        fresh = []
        for row in rows:
            if row.source_key in seen or _corrected_copy(uow, row.sender_id, row.text,
                                                          row.received_at):
                continue
            seen.add(row.source_key)
            fresh.append(row)
        uow.session.add_all(fresh)
        try:
            uow.commit()
            result.added.update(r.reason for r in fresh)
            return
        except IntegrityError:
            uow.rollback()
    for row in fresh:  # one by one: skip what the other run stored
        with uows() as uow:
            uow.session.add(_copy(row))
            try:
                uow.commit()
                result.added[row.reason] += 1
            except IntegrityError:
                uow.rollback()


def _copy(row: NluCandidate) -> NluCandidate:
    # A row from a rolled-back insert keeps its id: insert a fresh copy instead.
    return NluCandidate(**{c.key: getattr(row, c.key) for c in NluCandidate.__table__.columns
                           if c.key != "id"})


def _candidate(sender_id: str, timestamp: float, data: dict[str, Any], reason: Reason,
               reading: _Reading) -> NluCandidate:
    return NluCandidate(
        source_key=message_key(sender_id, timestamp), sender_id=sender_id,
        channel=str(data.get("input_channel") or "unknown")[:32], text=data["text"],
        received_at=_store_time(timestamp), reason=reason.value,
        predicted_intent=reading.intent, confidence=reading.confidence,
        predicted_entities=_dump_spans(reading.entities), status=CandidateStatus.NEW.value,
        entities="[]")


def _collect_tracker(uows: UowFactory, engine: Engine, origin: str, since: datetime | None,
                     now: datetime, threshold: float, result: CollectResult) -> None:
    with uows() as uow:
        position = _cursor(uow, "tracker", origin)
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(EVENTS.c.id))).scalar() or 0
        if newest < position:  # the tracker store was emptied or replaced
            position = 0
        last = max(0, position - OVERLAP_IDS)
        while last < newest:
            stmt = (select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.timestamp, EVENTS.c.data)
                    .where(EVENTS.c.id > last, EVENTS.c.id <= newest,
                           EVENTS.c.type_name == "user")
                    .order_by(EVENTS.c.id).limit(BATCH))
            if since is not None:
                stmt = stmt.where(EVENTS.c.timestamp >= _epoch(since))
            batch = connection.execute(stmt).all()
            if not batch:
                break
            last = batch[-1].id
            rows, picks = [], []
            for event in batch:
                result.events_read += 1
                row = _from_event(event.sender_id, event.timestamp, event.data, threshold)
                if row is not None:
                    rows.append(row)
                elif intent_of_payload(_json(event.data).get("text")):
                    picks.append(event)
            _add_new(uows, rows, result)
            for event in picks:
                _record_pick(uows, connection, event, result)
    with uows() as uow:
        _move_cursor(uow, "tracker", origin, newest, now)
        uow.commit()


def _json(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _from_event(sender_id: str, timestamp: float | None, raw: str | None,
                threshold: float) -> NluCandidate | None:
    """The candidate a user event makes, or None (understood well, a button payload, ...)."""
    data = _json(raw)
    if timestamp is None or not _is_message(data.get("text")):
        return None
    reading = _reading(data)
    if reading.fell_back:
        reason = Reason.FALLBACK
    elif reading.confidence is not None and reading.confidence < threshold:
        reason = Reason.LOW_CONFIDENCE
    else:
        return None
    return _candidate(sender_id, timestamp, data, reason, reading)


def _clarified_message(connection: Any, sender_id: str, pick_id: int, picked: str) -> Any:
    """The customer message a pick answers: before it, ``action_clarify`` offered `picked`.

    Returns the user event (timestamp, data) or None when the payload was not a pick of an
    offered request (a button of another question, or a payload typed by hand).
    """
    stmt = (select(EVENTS.c.type_name, EVENTS.c.action_name, EVENTS.c.timestamp, EVENTS.c.data)
            .where(EVENTS.c.sender_id == sender_id, EVENTS.c.id < pick_id,
                   EVENTS.c.type_name.in_(("user", "bot", "action")))
            .order_by(EVENTS.c.id.desc()).limit(PICK_LOOKBACK_EVENTS))
    offered: set[str] | None = None
    asked = False
    for event in connection.execute(stmt):
        if event.type_name == "bot" and offered is None:
            buttons = (_json(event.data).get("data") or {}).get("buttons") or []
            offered = {intent_of_payload(b.get("payload")) for b in buttons
                       if isinstance(b, dict)} - {None}
        elif event.type_name == "action" and event.action_name == CLARIFY_ACTION:
            asked = True
        elif event.type_name == "user":
            data = _json(event.data)
            if asked and offered and picked in offered and _is_message(data.get("text")):
                return event
            return None
    return None


def _record_pick(uows: UowFactory, connection: Any, pick: Any, result: CollectResult) -> None:
    """Label the clarified message with the customer's pick (an agent's correction wins)."""
    picked = intent_of_payload(_json(pick.data).get("text"))
    if picked is None:
        return
    message = _clarified_message(connection, pick.sender_id, pick.id, picked)
    if message is None:
        return
    key = message_key(pick.sender_id, message.timestamp)
    for _ in range(2):  # a concurrent run may insert the same candidate between our steps
        with uows() as uow:
            row = uow.session.execute(
                select(NluCandidate).where(NluCandidate.source_key == key).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                data = _json(message.data)
                row = _candidate(pick.sender_id, message.timestamp, data, Reason.CLARIFIED,
                                 _reading(data))
                uow.session.add(row)
            elif row.reason == Reason.CORRECTED.value or row.suggested_intent == picked:
                return
            row.reason, row.suggested_intent, row.reported_by = (
                Reason.CLARIFIED.value, picked, None)
            try:
                uow.commit()
            except IntegrityError:
                uow.rollback()
                continue
            result.added[Reason.CLARIFIED.value] += 1
            return


def _answered_message(connection: Any, sender_id: str, at: datetime) -> Any:
    """The sender's latest user event at or before `at` (what the agent's reply answered)."""
    stmt = (select(EVENTS.c.timestamp, EVENTS.c.data)
            .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == "user",
                   EVENTS.c.timestamp <= _epoch(at))
            .order_by(EVENTS.c.timestamp.desc(), EVENTS.c.id.desc()).limit(1))
    return connection.execute(stmt).first()


def _collect_rejections(uows: UowFactory, engine: Engine, origin: str, since: datetime | None,
                        now: datetime, result: CollectResult) -> None:
    with uows() as uow:
        position = _cursor(uow, "agent_reply", origin)
        newest = uow.session.execute(select(func.max(AgentReply.id))).scalar() or 0
        if newest < position:
            position = 0
        stmt = (select(AgentReply.sender_id, AgentReply.created_at)
                .where(AgentReply.id > max(0, position - OVERLAP_IDS), AgentReply.id <= newest,
                       AgentReply.decision == ReplyDecision.REJECTED.value)
                .order_by(AgentReply.id))
        if since is not None:
            stmt = stmt.where(AgentReply.created_at >= as_store_time(since))
        rejections = uow.session.execute(stmt).all()
    rows: list[NluCandidate] = []
    keys: set[str] = set()
    with engine.connect() as connection:
        for rejection in rejections:
            result.replies_read += 1
            event = _answered_message(connection, rejection.sender_id, rejection.created_at)
            data = _json(event.data) if event is not None else {}
            if event is None or not _is_message(data.get("text")):
                result.unmatched_replies += 1
                continue
            row = _candidate(rejection.sender_id, event.timestamp, data,
                             Reason.REJECTED_SUGGESTION, _reading(data))
            if row.source_key not in keys:  # several suggestions rejected for one message
                keys.add(row.source_key)
                rows.append(row)
    for start in range(0, len(rows), BATCH):
        _add_new(uows, rows[start:start + BATCH], result)
    with uows() as uow:
        _move_cursor(uow, "agent_reply", origin, newest, now)
        uow.commit()


def collect(uows: UowFactory, tracker_url: str | Engine, since: datetime | None,
            now: datetime, low_confidence: float = LOW_CONFIDENCE) -> CollectResult:
    """Bring new candidates into the inbox from the tracker store and the agents' rejections.

    Safe to run again and from several processes: a message is stored once (its source key
    is unique). Each source is read from where the previous run stopped (its primary key),
    re-reading the last `OVERLAP_IDS` ids to catch rows committed late.

    Args:
        uows: the operational store.
        tracker_url: Rasa's SQL tracker store (a SQLAlchemy URL, or an engine on it).
        since: ignore messages and rejections older than this (naive Beijing time or aware);
            None = no limit.
        now: the current time (kept with the read position).
        low_confidence: a message whose top intent's confidence is below this is collected.

    Returns:
        What was read and added, by reason.
    """
    now = as_store_time(now)
    result = CollectResult()
    engine = tracker_url if isinstance(tracker_url, Engine) else tracker_engine(tracker_url)
    if engine is None or not inspect(engine).has_table("events"):
        result.tracker_found = False
        return result
    origin = _origin(engine)
    _collect_tracker(uows, engine, origin, since, now, low_confidence, result)
    _collect_rejections(uows, engine, origin, since, now, result)
    return result


def record_correction(uows: UowFactory, sender_id: str, channel: str, text: str,
                      received_at: datetime, predicted_intent: str | None,
                      confidence: float | None, corrected_intent: str, agent: str,
                      *, domain_path: Path | None = None) -> CandidateView:
    """An agent says the bot misread a customer's message: put it in the inbox as 'corrected'.

    When the message is already in the inbox (same sender and text, received within two
    minutes), that candidate takes the agent's intent instead of a second one being added.

    Args:
        uows: the operational store.
        sender_id, channel, text: the customer's message.
        received_at: when the customer sent it.
        predicted_intent, confidence: what the bot understood.
        corrected_intent: the intent the agent chose (a domain intent).
        agent: the agent's username.
        domain_path: the domain file (default ``domain.yml``).

    Raises:
        TrainerError: the intent is not in the domain, or the text is empty or a button payload.
    """
    if corrected_intent not in domain_vocabulary(domain_path).intents:
        raise TrainerError(f"意图“{corrected_intent}”不在领域文件的意图列表中")
    if not _is_message(text):
        raise TrainerError("这条消息没有可标注的文字")
    received_at = as_store_time(received_at)
    with uows() as uow:
        stmt = (select(NluCandidate).where(
            NluCandidate.sender_id == sender_id, NluCandidate.text == text,
            NluCandidate.received_at.between(received_at - SAME_MESSAGE_WINDOW,
                                             received_at + SAME_MESSAGE_WINDOW))
            .order_by(NluCandidate.id).limit(1).with_for_update())
        row = uow.session.execute(stmt).scalar_one_or_none()
        if row is None:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
            row = NluCandidate(
                source_key=f"correction:{sender_id}:{received_at.isoformat()}:{digest}",
                sender_id=sender_id, channel=channel[:32], text=text, received_at=received_at,
                predicted_intent=predicted_intent, confidence=confidence,
                predicted_entities="[]", status=CandidateStatus.NEW.value, entities="[]")
            uow.session.add(row)
        row.reason = Reason.CORRECTED.value
        row.suggested_intent = corrected_intent
        row.reported_by = agent
        try:
            uow.commit()
        except IntegrityError:  # the same correction sent twice at once
            uow.rollback()
            row = uow.session.execute(stmt).scalar_one()
        return candidate_view(row)


# --- review -------------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def validate_annotation(text: str, intent: str, entities: Any,
                        vocabulary: Vocabulary) -> list[Span]:
    """Check an annotation against the domain and the message; return the spans in order.

    Raises:
        TrainerError: naming the first problem, in Chinese.
    """
    if not isinstance(intent, str) or not intent:
        raise TrainerError("请选择意图")
    if intent not in vocabulary.intents:
        raise TrainerError(f"意图“{intent}”不在领域文件的意图列表中")
    if entities is None:
        entities = []
    if not isinstance(entities, list):
        raise TrainerError("实体必须是一个列表")
    spans: list[Span] = []
    for n, item in enumerate(entities, 1):
        if not isinstance(item, dict):
            raise TrainerError(f"第 {n} 个实体格式不对")
        start, end = _as_int(item.get("start")), _as_int(item.get("end"))
        name = item.get("entity")
        if start is None or end is None:
            raise TrainerError(f"第 {n} 个实体缺少起止位置")
        if not isinstance(name, str) or name not in vocabulary.entities:
            raise TrainerError(f"第 {n} 个实体的类型“{name}”不在领域文件的实体列表中")
        if not 0 <= start < end <= len(text):
            raise TrainerError(f"第 {n} 个实体（{name}）的位置 {start}–{end} 超出了消息范围"
                               f"（消息共 {len(text)} 个字）")
        if text[start].isspace() or text[end - 1].isspace():
            raise TrainerError(f"第 {n} 个实体（{name}）的首尾不能是空格")
        value = item.get("value")
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise TrainerError(f"第 {n} 个实体（{name}）的取值必须是文字")
            if len(value) > MAX_ENTITY_VALUE or re.search(r"[\r\n{}\[\]]", value):
                raise TrainerError(f"第 {n} 个实体（{name}）的取值不能超过 {MAX_ENTITY_VALUE} 字，"
                                   "也不能包含换行、方括号或花括号")
            if value == text[start:end]:
                value = None
        spans.append(Span(start, end, name, value))
    spans.sort(key=lambda s: (s.start, s.end))
    for before, after in zip(spans, spans[1:]):
        if after.start < before.end:
            raise TrainerError(f"实体 {before.entity}（第 {before.start + 1}–{before.end} 字）和 "
                               f"{after.entity}（第 {after.start + 1}–{after.end} 字）重叠了")
    return spans


def _locked(uow: UnitOfWork, candidate_id: int) -> NluCandidate:
    stmt = select(NluCandidate).where(NluCandidate.id == candidate_id).with_for_update()
    row = uow.session.execute(stmt).scalar_one_or_none()
    if row is None:
        raise CandidateNotFound(f"没有编号为 {candidate_id} 的候选消息")
    return row


def annotate(uows: UowFactory, candidate_id: int, intent: str, entities: Any, reviewer: str,
             now: datetime, *, domain_path: Path | None = None) -> CandidateView:
    """Record a trainer's annotation (any earlier one, or a discard, is replaced).

    Args:
        uows: the operational store.
        candidate_id: the candidate.
        intent: a domain intent.
        entities: a list of ``{"start", "end", "entity", "value"?}`` over the raw text
            (the same offsets as on the masked text); spans may not overlap.
        reviewer: the trainer's username.
        now: the current time.
        domain_path: the domain file (default ``domain.yml``).

    Raises:
        CandidateNotFound: no such candidate.
        TrainerError: the intent or an entity is not in the domain, or a span is invalid.
    """
    vocabulary = domain_vocabulary(domain_path)
    with uows() as uow:
        row = _locked(uow, candidate_id)
        spans = validate_annotation(row.text, intent, entities, vocabulary)
        row.intent = intent
        row.entities = _dump_spans(spans)
        row.status = CandidateStatus.ANNOTATED.value
        row.note = None
        row.reviewed_by = reviewer
        row.reviewed_at = as_store_time(now)
        uow.commit()
        return candidate_view(row)


def discard(uows: UowFactory, candidate_id: int, reviewer: str, now: datetime) -> CandidateView:
    """Keep a candidate out of the training data (an exported one leaves it on the next export).

    Raises:
        CandidateNotFound: no such candidate.
    """
    with uows() as uow:
        row = _locked(uow, candidate_id)
        row.status = CandidateStatus.DISCARDED.value
        row.note = None
        row.reviewed_by = reviewer
        row.reviewed_at = as_store_time(now)
        uow.commit()
        return candidate_view(row)


def get_candidate(uows: UowFactory, candidate_id: int) -> CandidateView | None:
    """One candidate, or None."""
    with uows() as uow:
        row = uow.session.get(NluCandidate, candidate_id)
        return candidate_view(row) if row is not None else None


def _day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return as_store_time(value)
    return datetime(value.year, value.month, value.day)


def list_candidates(
    uows: UowFactory,
    *,
    status: str | None = None,
    reason: str | None = None,
    intent: str | None = None,
    min_confidence: float | None = None,
    max_confidence: float | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    channel: str | None = None,
    limit: int = 200,
) -> list[CandidateView]:
    """Candidates matching every filter given, newest first.

    Args:
        uows: the operational store.
        status, reason, channel: exact values (None: any).
        intent: the bot's predicted intent, the agent's suggestion or the trainer's choice.
        min_confidence, max_confidence: bounds (inclusive) on the bot's confidence; a
            candidate without one is left out when either is given.
        date_from: received at or after (a date means its first moment).
        date_to: received before (a date means the end of that day).
        limit: at most this many.
    """
    stmt = select(NluCandidate)
    if status:
        stmt = stmt.where(NluCandidate.status == status)
    if reason:
        stmt = stmt.where(NluCandidate.reason == reason)
    if channel:
        stmt = stmt.where(NluCandidate.channel == channel)
    if intent:
        stmt = stmt.where(or_(NluCandidate.predicted_intent == intent,
                              NluCandidate.suggested_intent == intent,
                              NluCandidate.intent == intent))
    if min_confidence is not None:
        stmt = stmt.where(NluCandidate.confidence >= min_confidence)
    if max_confidence is not None:
        stmt = stmt.where(NluCandidate.confidence <= max_confidence)
    if date_from is not None:
        stmt = stmt.where(NluCandidate.received_at >= _day_start(date_from))
    if date_to is not None:
        end = (_day_start(date_to) + timedelta(days=1) if not isinstance(date_to, datetime)
               else as_store_time(date_to))
        stmt = stmt.where(NluCandidate.received_at < end)
    stmt = stmt.order_by(NluCandidate.received_at.desc(), NluCandidate.id.desc()).limit(limit)
    with uows() as uow:
        return [candidate_view(r) for r in uow.session.execute(stmt).scalars()]


def count_by(uows: UowFactory, column: str) -> dict[str, int]:
    """How many candidates per ``status``, ``reason`` or ``channel``."""
    attribute = {"status": NluCandidate.status, "reason": NluCandidate.reason,
                 "channel": NluCandidate.channel}[column]
    with uows() as uow:
        rows = uow.session.execute(select(attribute, func.count()).group_by(attribute)).all()
    return {key: n for key, n in sorted(rows)}


# --- command line -------------------------------------------------------------------------


def _since(value: str) -> datetime:
    try:
        return as_store_time(datetime.fromisoformat(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {value!r}") from exc


def build_collect_parser() -> argparse.ArgumentParser:
    """The arguments of ``python -m bot.trainer collect``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.trainer collect",
        description="Bring messages the bot misread (fallback, low confidence, rejected "
                    "suggestions) from Rasa's tracker store into the trainers' inbox.")
    parser.add_argument("--database-url", help="the operational store (default: DATABASE_URL)")
    parser.add_argument("--tracker-store-url",
                        help="Rasa's SQL tracker store (default: TRACKER_STORE_URL)")
    parser.add_argument("--since", type=_since, default=None,
                        help="ignore messages before this ISO date/date-time, Beijing time "
                             "(default: the last 30 days)")
    parser.add_argument("--low-confidence", type=float, default=LOW_CONFIDENCE,
                        help=f"collect messages below this confidence (default {LOW_CONFIDENCE})")
    return parser


def main_collect(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.trainer collect``: run `collect` once and print what it found."""
    from bot.config import load_settings
    from bot.store.db import create_schema, make_engine, make_session_factory
    from bot.store.uow import uow_factory

    args = build_collect_parser().parse_args(argv)
    if not 0.0 <= args.low_confidence <= 1.0:
        print("--low-confidence must be between 0 and 1")
        return 2
    settings = load_settings()
    now = local_now()
    since = args.since if args.since is not None else now - timedelta(days=30)
    engine = make_engine(args.database_url or settings.database_url)
    try:
        create_schema(engine)
        uows = uow_factory(make_session_factory(engine))
        result = collect(uows, args.tracker_store_url or settings.tracker_store_url, since, now,
                         args.low_confidence)
        if not result.tracker_found:
            print("tracker store has no events table yet (has Rasa run with the SQL tracker "
                  "store?): nothing read from it")
        print(f"read {result.events_read} customer messages and {result.replies_read} rejected "
              f"suggestions since {since:%Y-%m-%d %H:%M}")
        print(f"new candidates: {result.total}")
        for reason in Reason:
            print(f"  {reason.value:<20} {result.added.get(reason.value, 0)}")
        if result.unmatched_replies:
            print(f"  ({result.unmatched_replies} rejected suggestions without a customer "
                  "message in the tracker store)")
        print("inbox by status:")
        for status, n in count_by(uows, "status").items():
            print(f"  {status:<20} {n}")
        return 0
    finally:
        engine.dispose()
        dispose_tracker_engines()
