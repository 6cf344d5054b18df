"""Reading Rasa's SQL tracker store: its ``events`` table, and what the bot made of a message.

Rasa creates and owns the table; it is declared here (`EVENTS`) so that the workbench and the
collector read it without importing Rasa.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.engine import Engine, make_url

from bot.config import TIMEZONE
from bot.store.models import as_store_time
from bot.text.payloads import intent_of_payload
from bot.trainer.candidates import Span, is_message

FALLBACK_INTENT = "nlu_fallback"
CLARIFY_ACTION = "action_clarify"
# How far back from a pick to look for the clarifying question and the message it was about.
PICK_LOOKBACK_EVENTS = 30

# The columns of Rasa's `SQLTrackerStore.SQLEvent` (rasa/core/tracker_store.py).
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


def origin_of(engine: Engine) -> str:
    """A fingerprint of the tracker store an engine reads (SHA-256 of its URL)."""
    rendered = engine.url.render_as_string(hide_password=False)
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()


def epoch(moment: datetime) -> float:
    """A store time (naive Beijing time, or aware) as the tracker's UNIX timestamp."""
    return as_store_time(moment).replace(tzinfo=TIMEZONE).timestamp()


def store_time(timestamp: float) -> datetime:
    """A tracker timestamp as store time (naive Beijing time)."""
    return datetime.fromtimestamp(timestamp, TIMEZONE).replace(tzinfo=None)


def message_key(sender_id: str, timestamp: float) -> str:
    """The source key of a customer message in the tracker store."""
    return f"tracker:{sender_id}:{timestamp:.6f}"


@dataclass(frozen=True)
class Reading:
    """What the bot made of a user event."""

    intent: str | None
    confidence: float | None
    fell_back: bool
    entities: list[Span]


def reading_of(data: dict[str, Any]) -> Reading:
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
    return Reading(
        name if isinstance(name, str) else None,
        float(confidence) if isinstance(confidence, (int, float)) else None,
        fell_back, entities)


def event_data(raw: str | None) -> dict[str, Any]:
    """The JSON ``data`` column of an event as a dict (empty when it is not one)."""
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def clarified_message(connection: Any, sender_id: str, pick_id: int, picked: str) -> Any:
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
            buttons = (event_data(event.data).get("data") or {}).get("buttons") or []
            offered = {intent for b in buttons if isinstance(b, dict)
                       if (intent := intent_of_payload(b.get("payload"))) is not None}
        elif event.type_name == "action" and event.action_name == CLARIFY_ACTION:
            asked = True
        elif event.type_name == "user":
            data = event_data(event.data)
            if asked and offered and picked in offered and is_message(data.get("text")):
                return event
            return None
    return None


def answered_message(connection: Any, sender_id: str, at: datetime) -> Any:
    """The sender's latest user event at or before `at` (what the agent's reply answered)."""
    stmt = (select(EVENTS.c.timestamp, EVENTS.c.data)
            .where(EVENTS.c.sender_id == sender_id, EVENTS.c.type_name == "user",
                   EVENTS.c.timestamp <= epoch(at))
            .order_by(EVENTS.c.timestamp.desc(), EVENTS.c.id.desc()).limit(1))
    return connection.execute(stmt).first()
