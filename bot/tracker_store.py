"""Rasa's SQL tracker store with its database work off the Rasa server's event loop.

Rasa 3.6's ``SQLTrackerStore`` is ``async`` in name only: ``save`` and ``retrieve`` run their
SQL (and SQLite's commit, which waits for the disk) on the event loop, so every other
conversation waits while one tracker is written. It also builds an ORM object per event to
insert, and loads whole ORM rows to read back only their JSON. This store runs the same
queries in a worker thread, inserts a turn's new events in one statement and reads the
``data`` column alone. Its statements are built once per store with the sender as a bound
parameter: building Rasa's ORM query anew on every turn, and SQLAlchemy's cache key for it,
cost more than running it. Same table, same rows, same session rule (a tracker is the events
since the latest ``session_started``), so trackers written by either store read back alike.

``bot.launcher.endpoints_yaml`` names it as the tracker store (``type:
bot.tracker_store.OffLoopSQLTrackerStore``); its options are ``type: SQL``'s.
Rasa's lock store keeps one conversation's turns in order, so a conversation never has two
writes in flight. Connections are checked before use (``pool_pre_ping``), so a turn after a
database restart is stored, not lost on a dead pooled connection. A SQLite file is kept in
WAL mode, as the operational store's (``bot.store.db.use_write_ahead_log``).
"""
from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Optional, Text

import sqlalchemy as sa
import sqlalchemy.orm.session
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.store.db import use_write_ahead_log


class OffLoopSQLTrackerStore(SQLTrackerStore):
    """:class:`SQLTrackerStore` whose reads and writes run in a worker thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open the store as Rasa does, on connections tested before each use.

        Rasa's engine hands out pooled connections as they are; after a PostgreSQL restart the
        first turn on each dead one failed, and Rasa's fail-safe store then kept that turn in
        memory only. ``pool_pre_ping`` replaces a dead connection before it is used.
        """
        super().__init__(*args, **kwargs)
        rasa_engine: Any = self.__dict__["engine"]  # set by Rasa's __init__, untyped there
        url = rasa_engine.url
        rasa_engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        if self.engine.dialect.name == "sqlite" and url.database not in (None, "", ":memory:"):
            sa.event.listen(self.engine, "connect", use_write_ahead_log)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._statements = self._build_statements(self.SQLEvent.__table__)

    @staticmethod
    def _build_statements(events: sa.Table) -> dict[str, Any]:
        """Rasa's ``_event_query`` as Core statements on the ``sender_id`` parameter.

        The latest session is the events from the latest ``session_started`` on (all events
        when there is none), in ``id`` order, exactly as Rasa selects them.
        """
        sender = events.c.sender_id == sa.bindparam("sender_id")
        session_start = (sa.select(sa.func.max(events.c.timestamp))
                         .where(sender, events.c.type_name == SessionStarted.type_name)
                         .scalar_subquery())
        latest = sa.and_(sender, sa.or_(events.c.timestamp >= session_start,
                                        session_start.is_(None)))
        return {
            "count_latest": sa.select(sa.func.count()).select_from(events).where(latest),
            "data_latest": sa.select(events.c.data).where(latest).order_by(events.c.id),
            "data_all": sa.select(events.c.data).where(sender).order_by(events.c.id),
            "insert": events.insert(),
        }

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the tracker's events not yet stored (of its latest session)."""
        await self.stream_events(tracker)
        await asyncio.to_thread(self._save_new_events, tracker)

    def _save_new_events(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            stored = session.execute(self._statements["count_latest"],
                                     {"sender_id": tracker.sender_id}).scalar_one()
            rows = [self._row(tracker.sender_id, event.type_name, event.as_dict())
                    for event in itertools.islice(tracker.events, stored, None)]
            if rows:
                session.execute(self._statements["insert"], rows)
            session.commit()

    @staticmethod
    def _row(sender_id: str, type_name: str, data: dict[str, Any]) -> dict[str, Any]:
        """The ``events`` row of one event, as Rasa's store writes it."""
        return {
            "sender_id": sender_id,
            "type_name": type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool
                        ) -> Optional[DialogueStateTracker]:
        return await asyncio.to_thread(self._read, sender_id, fetch_events_from_all_sessions)

    def _read(self, sender_id: str, all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            query = self._statements["data_all" if all_sessions else "data_latest"]
            events = [json.loads(data)
                      for (data,) in session.execute(query, {"sender_id": sender_id})]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None
