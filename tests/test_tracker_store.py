"""bot.tracker_store: Rasa's SQL tracker store with its database work off the event loop writes
and reads exactly what Rasa's own store does, on SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests import pg
from tests.store.conftest import pg_url  # noqa: F401
from tests.support.model import ROOT

BACKENDS = ["sqlite"] + (["postgresql"] if pg.available() else [])


@pytest.fixture(scope="module")
def domain() -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tracker database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("pg_url")


def stores(url: str, domain: Any) -> tuple[Any, Any]:
    """Rasa's store and ours on the same database."""
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.tracker_store import OffLoopSQLTrackerStore

    u = make_url(url)
    options = dict(dialect=u.drivername.split("+")[0], host=u.host, port=u.port,
                   db=u.database, username=u.username, password=u.password)
    return SQLTrackerStore(domain, **options), OffLoopSQLTrackerStore(domain, **options)


def session_start(t: float) -> list[Any]:
    """The events that open a conversation session at `t`."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return stamped([ActionExecuted("action_session_start"), SessionStarted(),
                    ActionExecuted("action_listen")], t)


def tracking_turn(number: str, t: float) -> list[Any]:
    """A tracking question answered through the mail-query form, from `t` on."""
    from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, SlotSet,
                                         UserUttered)

    return stamped([
        UserUttered(f"{number}到哪了", {"name": "track_mail", "confidence": 0.93},
                    [{"entity": "tracking_number", "value": number, "start": 0, "end": 13}]),
        ActionExecuted("mail_query_form"), ActiveLoop("mail_query_form"),
        SlotSet("tracking_number", number), ActiveLoop(None),
        ActionExecuted("action_query_mail"), BotUttered("您的邮件已到景洪", {"buttons": []}),
        ActionExecuted("action_listen"),
    ], t)


def stamped(events: list[Any], t: float) -> list[Any]:
    """`events` one second apart from `t` on."""
    for k, event in enumerate(events):
        event.timestamp = t + k
    return events


async def converse(store: Any, sender: str, domain: Any) -> None:
    """Three turns as the Rasa server saves them: retrieve, add the turn, save (twice once)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    t0 = 1_700_000_000.0
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in session_start(t0) + tracking_turn("EA000000005CN", t0 + 10):
        tracker.update(event)
    await store.save(tracker)
    tracker = await store.retrieve(sender)
    for event in tracking_turn("EA000000014CN", t0 + 100):
        tracker.update(event)
    await store.save(tracker)
    await store.save(tracker)  # saved again: nothing more is written
    tracker = await store.retrieve(sender)
    for event in session_start(t0 + 9000) + tracking_turn("EA000000023CN", t0 + 9010):
        tracker.update(event)
    await store.save(tracker)


def rows(url: str, sender: str) -> list[tuple]:
    """The stored rows of one conversation, without the id and the sender."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(
                "SELECT type_name, timestamp, intent_name, action_name, data FROM events "
                "WHERE sender_id = :s ORDER BY id"), {"s": sender})]
    finally:
        engine.dispose()


def test_writes_the_rows_rasa_writes_and_reads_them_back(url: str, domain: Any) -> None:
    rasa_store, ours = stores(url, domain)
    a, b = f"rasa-{uuid.uuid4().hex[:8]}", f"ours-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[Any, ...]:
        await converse(rasa_store, a, domain)
        await converse(ours, b, domain)
        return (await rasa_store.retrieve(a), await ours.retrieve(b),
                await rasa_store.retrieve_full_tracker(a), await ours.retrieve_full_tracker(b),
                await ours.retrieve(f"nobody-{uuid.uuid4().hex}"))

    latest_a, latest_b, full_a, full_b, nobody = asyncio.run(scenario())
    assert rows(url, b) == rows(url, a)
    assert len(rows(url, b)) == 3 + 8 + 8 + 3 + 8  # every event once
    assert [e.as_dict() for e in latest_b.events] == [e.as_dict() for e in latest_a.events]
    assert [e.as_dict() for e in full_b.events] == [e.as_dict() for e in full_a.events]
    assert len(latest_b.events) == 10 < len(full_b.events) == 30  # from the latest session_started
    assert latest_b.get_slot("tracking_number") == "EA000000023CN"
    assert nobody is None


def test_database_work_runs_outside_the_event_loop_thread(url: str, domain: Any) -> None:
    _, ours = stores(url, domain)
    threads: set[int] = set()
    scope = ours.session_scope

    def recording_scope() -> Any:
        threads.add(threading.get_ident())
        return scope()

    ours.session_scope = recording_scope
    senders = [f"many-{uuid.uuid4().hex[:8]}-{k}" for k in range(12)]

    async def scenario() -> tuple[int, list[Any]]:
        loop_thread = threading.get_ident()
        await asyncio.gather(*(converse(ours, s, domain) for s in senders))
        back = await asyncio.gather(*(ours.retrieve(s) for s in senders))
        return loop_thread, back

    loop_thread, back = asyncio.run(scenario())
    assert threads and loop_thread not in threads
    assert [len(t.events) for t in back] == [10] * len(senders)
    assert all(len(rows(url, s)) == 30 for s in senders)


def test_connections_are_checked_before_use(url: str, domain: Any) -> None:
    """A pooled connection that died (the database restarted) is replaced, not used."""
    _, ours = stores(url, domain)
    assert ours.engine.pool._pre_ping is True
    sender = f"restart-{uuid.uuid4().hex[:8]}"

    async def scenario() -> Any:
        await converse(ours, sender, domain)
        return await ours.retrieve(sender)

    assert len(asyncio.run(scenario()).events) == 10
