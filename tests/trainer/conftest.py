"""Trainer fixtures: the store (SQLite and PostgreSQL, from tests/store), a real Rasa SQL tracker
store written with Rasa's own classes, and a scratch copy of the training data and the held-out
split (no test ever writes the project's data/nlu)."""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from bot.config import TIMEZONE
from bot.store import desk, services
from bot.store.uow import UowFactory
from tests.store.conftest import engine, now, pg_url, session_factory, uows  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def domain() -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


def epoch(moment: datetime) -> float:
    """A naive Beijing time as Rasa's event timestamp."""
    return moment.replace(tzinfo=TIMEZONE).timestamp()


class RasaTracker:
    """Rasa's own `SQLTrackerStore` on a SQLite file: events written as the Rasa server does."""

    def __init__(self, path: Path, domain: Any) -> None:
        from rasa.core.tracker_store import SQLTrackerStore

        self.path = path
        self.domain = domain
        self.store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
        self.url = f"sqlite:///{path}"

    async def say_async(self, sender: str, text: str, intent: str, confidence: float,
                        at: datetime, channel: str = "rest",
                        entities: Sequence[dict[str, Any]] = (),
                        ranking: Sequence[tuple[str, float]] | None = None,
                        reply: str = "好的", action: str = "utter_default",
                        buttons: Sequence[dict[str, str]] = ()) -> float:
        """The customer says `text`, the bot read it as `intent` and ran `action`, which
        answered `reply` (with `buttons`, if any)."""
        from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
        from rasa.shared.core.trackers import DialogueStateTracker

        timestamp = epoch(at)
        ranking = list(ranking) if ranking is not None else [(intent, confidence)]
        parse_data = {
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "entities": [dict(e) for e in entities],
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        }
        tracker = await self.store.retrieve(sender) or DialogueStateTracker(sender,
                                                                            self.domain.slots)
        for event in (
            UserUttered(text, parse_data["intent"], parse_data["entities"], parse_data,
                        timestamp=timestamp, input_channel=channel),
            ActionExecuted(action, timestamp=timestamp + 0.5),
            BotUttered(reply, {"buttons": [dict(b) for b in buttons]} if buttons else None,
                       timestamp=timestamp + 0.6),
            ActionExecuted("action_listen", timestamp=timestamp + 0.7),
        ):
            tracker.update(event)
        await self.store.save(tracker)
        return timestamp

    def say(self, *args: Any, **kwargs: Any) -> float:
        return asyncio.run(self.say_async(*args, **kwargs))

    def dispose(self) -> None:
        self.store.engine.dispose()


@pytest.fixture
def tracker(tmp_path: Path, domain: Any) -> Iterator[RasaTracker]:
    from bot.trainer.tracker import dispose_tracker_engines

    store = RasaTracker(tmp_path / "tracker.db", domain)
    yield store
    dispose_tracker_engines()
    store.dispose()


def reject_suggestion(uows: UowFactory, sender: str, at: datetime, channel: str = "wechat",
                      key: str | None = None) -> desk.ReplyView:
    """An agent takes `sender`'s conversation and rejects the reply suggested at `at`."""
    handover = services.record_handover(uows, sender, channel, "request_human", "转人工", None, at)
    desk.claim(uows, handover.id, "agent1", at)
    reply, _ = desk.record_reply(
        uows, request_key=key or f"reject-{sender}-{at:%H%M%S}", handover_id=handover.id,
        agent="agent1", suggestion_kind="status", suggested_text="您的邮件正在派送中",
        final_text=None, now=at)
    return reply


@dataclass
class DataDirs:
    """Scratch copies of data/nlu (training) and tests/nlu (held out)."""

    data: Path
    heldout: Path


@pytest.fixture
def data_dirs(tmp_path: Path) -> DataDirs:
    data = tmp_path / "data" / "nlu"
    heldout = tmp_path / "tests" / "nlu"
    shutil.copytree(ROOT / "data" / "nlu", data,
                    ignore=shutil.ignore_patterns("reviewed_*.yml"))
    heldout.mkdir(parents=True)
    for path in (ROOT / "tests" / "nlu").glob("*.yml"):
        shutil.copy(path, heldout / path.name)
    return DataDirs(data, heldout)
