"""Collecting the inbox: messages the bot misread, from the tracker store and the agents.

`collect` reads fallbacks and low-confidence messages (and the customers' picks after a
clarifying question) from Rasa's tracker store, and the suggestions agents rejected from the
desk's replies. It remembers how far it read each source (the tracker's primary key, kept by
``uow.inbox.cursor``), so each run reads only what is new. ``python -m bot.trainer collect``
runs it once (`main_collect`).
"""
from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.config import load_settings, local_now
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import NluCandidate, as_store_time
from bot.store.uow import UnitOfWork, UowFactory, uow_factory
from bot.text.payloads import intent_of_payload
from bot.trainer.candidates import (
    SAME_MESSAGE_WINDOW,
    CandidateStatus,
    Reason,
    dump_spans,
    is_message,
)
from bot.trainer.tracker import (
    EVENTS,
    Reading,
    answered_message,
    clarified_message,
    dispose_tracker_engines,
    epoch,
    event_data,
    message_key,
    origin_of,
    reading_of,
    store_time,
    tracker_engine,
)

LOW_CONFIDENCE = 0.6
# Ids below the cursor read once more: on PostgreSQL a smaller id can commit after a larger one.
OVERLAP_IDS = 500
BATCH = 500


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
        """How many candidates were added, whatever the reason."""
        return sum(self.added.values())


def _corrected_copy(uow: UnitOfWork, sender_id: str, text: str, at: datetime) -> bool:
    """True when an agent already reported this message (a 'corrected' candidate)."""
    return uow.inbox.same_message(sender_id, text, at - SAME_MESSAGE_WINDOW,
                                  at + SAME_MESSAGE_WINDOW,
                                  reason=Reason.CORRECTED.value) is not None


def _add_new(uows: UowFactory, rows: list[NluCandidate], result: CollectResult) -> None:
    """Insert the rows whose source key is not stored yet (a concurrent run may race us)."""
    if not rows:
        return
    with uows() as uow:
        keys = [r.source_key for r in rows]
        seen = uow.inbox.known_sources(keys)
        fresh = []
        for row in rows:
            if row.source_key in seen or _corrected_copy(uow, row.sender_id, row.text,
                                                          row.received_at):
                continue
            seen.add(row.source_key)
            fresh.append(row)
        uow.inbox.add_all(fresh)
        try:
            uow.commit()
            result.added.update(r.reason for r in fresh)
            return
        except IntegrityError:
            uow.rollback()
    for row in fresh:  # one by one: skip what the other run stored
        with uows() as uow:
            uow.inbox.add(_copy(row))
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
               reading: Reading) -> NluCandidate:
    return NluCandidate(
        source_key=message_key(sender_id, timestamp), sender_id=sender_id,
        channel=str(data.get("input_channel") or "unknown")[:32], text=data["text"],
        received_at=store_time(timestamp), reason=reason.value,
        predicted_intent=reading.intent, confidence=reading.confidence,
        predicted_entities=dump_spans(reading.entities), status=CandidateStatus.NEW.value,
        entities="[]")


def _collect_tracker(uows: UowFactory, engine: Engine, origin: str, since: datetime | None,
                     now: datetime, threshold: float, result: CollectResult) -> None:
    with uows() as uow:
        position = uow.inbox.cursor("tracker", origin)
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
                stmt = stmt.where(EVENTS.c.timestamp >= epoch(since))
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
                elif intent_of_payload(event_data(event.data).get("text")):
                    picks.append(event)
            _add_new(uows, rows, result)
            for event in picks:
                _record_pick(uows, connection, event, result)
    with uows() as uow:
        uow.inbox.move_cursor("tracker", origin, newest, now)
        uow.commit()


def _from_event(sender_id: str, timestamp: float | None, raw: str | None,
                threshold: float) -> NluCandidate | None:
    """The candidate a user event makes, or None (understood well, a button payload, ...)."""
    data = event_data(raw)
    if timestamp is None or not is_message(data.get("text")):
        return None
    reading = reading_of(data)
    if reading.fell_back:
        reason = Reason.FALLBACK
    elif reading.confidence is not None and reading.confidence < threshold:
        reason = Reason.LOW_CONFIDENCE
    else:
        return None
    return _candidate(sender_id, timestamp, data, reason, reading)


def _record_pick(uows: UowFactory, connection: Any, pick: Any, result: CollectResult) -> None:
    """Label the clarified message with the customer's pick (an agent's correction wins)."""
    picked = intent_of_payload(event_data(pick.data).get("text"))
    if picked is None:
        return
    message = clarified_message(connection, pick.sender_id, pick.id, picked)
    if message is None:
        return
    key = message_key(pick.sender_id, message.timestamp)
    for _ in range(2):  # a concurrent run may insert the same candidate between our steps
        with uows() as uow:
            row = uow.inbox.lock_by_source(key)
            if row is None:
                data = event_data(message.data)
                row = _candidate(pick.sender_id, message.timestamp, data, Reason.CLARIFIED,
                                 reading_of(data))
                uow.inbox.add(row)
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


def _collect_rejections(uows: UowFactory, engine: Engine, origin: str, since: datetime | None,
                        now: datetime, result: CollectResult) -> None:
    with uows() as uow:
        position = uow.inbox.cursor("agent_reply", origin)
        newest = uow.desk.newest_reply_id()
        if newest < position:
            position = 0
        rejections = uow.desk.rejections(max(0, position - OVERLAP_IDS), newest,
                                         as_store_time(since) if since is not None else None)
    rows: list[NluCandidate] = []
    keys: set[str] = set()
    with engine.connect() as connection:
        for sender_id, rejected_at in rejections:
            result.replies_read += 1
            event = answered_message(connection, sender_id, rejected_at)
            data = event_data(event.data) if event is not None else {}
            if event is None or not is_message(data.get("text")):
                result.unmatched_replies += 1
                continue
            row = _candidate(sender_id, event.timestamp, data,
                             Reason.REJECTED_SUGGESTION, reading_of(data))
            if row.source_key not in keys:  # several suggestions rejected for one message
                keys.add(row.source_key)
                rows.append(row)
    for start in range(0, len(rows), BATCH):
        _add_new(uows, rows[start:start + BATCH], result)
    with uows() as uow:
        uow.inbox.move_cursor("agent_reply", origin, newest, now)
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
    origin = origin_of(engine)
    _collect_tracker(uows, engine, origin, since, now, low_confidence, result)
    _collect_rejections(uows, engine, origin, since, now, result)
    return result


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
        with uows() as uow:
            by_status = uow.inbox.count_by("status")
        for status, n in by_status.items():
            print(f"  {status:<20} {n}")
        return 0
    finally:
        engine.dispose()
        dispose_tracker_engines()
