"""Action fixtures: the real domain, real rasa_sdk trackers and a seeded SQLite mail store."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker

from actions import deps
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail
from bot.store.uow import UowFactory, uow_factory

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 10, 0)


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return Domain.load(str(ROOT / "domain.yml")).as_dict()


@pytest.fixture
def uows() -> Iterator[UowFactory]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    factory = uow_factory(make_session_factory(engine))
    seed_demo_mail(factory, NOW)
    deps.override(factory, clock=lambda: NOW, stuck=48)
    yield factory
    deps.override()
    engine.dispose()


def make_tracker(
    text: str = "",
    intent: str = "track_mail",
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    sender_id: str = "customer-1",
    earlier_intents: tuple[str, ...] = (),
    slots_from_message: tuple[str, ...] = (),
) -> Tracker:
    """A tracker as the action server receives it: the last user message and the slots."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99},
              "intent_ranking": [{"name": intent, "confidence": 0.99}],
              "entities": entities or []}
    events = [{"event": "user", "text": t, "parse_data": {"intent": {"name": t}}}
              for t in earlier_intents]
    events.append({"event": "user", "text": text, "parse_data": latest,
                   "input_channel": "rest"})
    # Slots filled from this message, as Rasa logs them right after the user event.
    events += [{"event": "slot", "name": n, "value": (slots or {})[n]} for n in slots_from_message]
    base_slots = {"tracking_number": None, "tracking_attempts": 0.0, "mail_state": None,
                  "last_tracking_number": None}
    base_slots.update(slots or {})
    return Tracker(
        sender_id=sender_id, slots=base_slots, latest_message=latest, events=events,
        paused=False, followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots an action set, by name."""
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def run(action: Any, tracker: Tracker, domain: dict[str, Any]) -> tuple[list, list]:
    """Run an action with a real CollectingDispatcher; return its messages and events."""
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher.messages, events
