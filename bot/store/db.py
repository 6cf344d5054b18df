"""Engine, session factory and schema creation; nothing is opened until a factory is called.

These are synchronous SQLAlchemy calls: they block the thread that makes them. Code running on
an event loop (rasa_sdk awaits each action's ``run``; the aiohttp workbench) must not call the
store directly but hand the work to a thread (``asyncio.to_thread`` or an executor).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.store.models import Base


class SharedConnectionPool(StaticPool):
    """The one connection of an in-memory SQLite database, lent to one thread at a time.

    ``StaticPool`` hands the same connection to every checkout at once. The workbench and
    the action server run store calls in worker threads, and two threads using one sqlite3
    connection together break each other's transactions ("Cursor needed to be reset because
    of commit/rollback", "cannot rollback - no transaction is active"). Here a checkout waits
    until the thread that holds the connection has returned it.

    The holder may check it out again while it holds it, as with ``StaticPool`` (waiting for
    itself would hang). SQLAlchemy returns such a doubly checked-out connection once (the
    second check-in is a "Double checkin attempted" warning), so the first return frees it.
    """

    # A holder that never returns the connection is a bug; waiting for ever would hide it.
    WAIT_S = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.Condition()
        self._holder: int | None = None

    def _do_get(self) -> Any:
        me = threading.get_ident()
        with self._turn:
            if not self._turn.wait_for(lambda: self._holder in (None, me), self.WAIT_S):
                raise TimeoutError(
                    f"the in-memory SQLite connection was not returned within {self.WAIT_S:.0f} s")
            self._holder = me
        try:
            return super()._do_get()
        except BaseException:
            self._release()
            raise

    def _do_return_conn(self, conn: Any) -> None:
        super()._do_return_conn(conn)
        self._release()

    def _release(self) -> None:
        with self._turn:
            self._holder = None
            self._turn.notify_all()


def _is_memory_sqlite(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def use_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """Put a SQLite database file in WAL mode (kept in the file; in-memory ones stay as they are).

    In the default rollback-journal mode each commit creates, syncs and deletes a journal
    beside the database (three syncs) and readers wait for writers. With the write-ahead log
    a commit appends to one file and syncs it once, still at every commit (``synchronous`` is
    left FULL, so a committed message survives a power cut), and readers go on meanwhile.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create a 2.0-style engine for `url`.

    For SQLite, foreign keys are enforced, a database file is in WAL mode
    (:func:`use_write_ahead_log`), connections may cross threads (code on an event
    loop runs store calls in worker threads, see the module docstring), an in-memory
    database (``sqlite://``) lives on one connection lent to one thread at a time
    (:class:`SharedConnectionPool`), and the parent directory of a database file is created
    if missing.

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:///var/postdesk.db`` or ``postgresql://...``.
        **kwargs: passed on to ``sqlalchemy.create_engine``.

    Returns:
        The engine.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, **kwargs)
    connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
    if _is_memory_sqlite(parsed.database):
        kwargs.setdefault("poolclass", SharedConnectionPool)
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    if not _is_memory_sqlite(parsed.database):
        event.listen(engine, "connect", use_write_ahead_log)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker:
    """Return a factory of 2.0-style sessions bound to `engine`.

    Objects stay readable after commit (``expire_on_commit=False``), so a unit of work can
    hand back what it just wrote.
    """
    return sessionmaker(bind=engine, class_=Session, future=True, expire_on_commit=False)


# Every table of the store (`bot.store.models`): what `create_schema` migrates to, and the
# metadata the Alembic environment compares databases with.
SCHEMA: MetaData = Base.metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The revision whose tables a database made before migrations existed already has.
BASELINE_REVISION = "0001"


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic configuration for this package's migrations, bound to `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def create_schema(engine: Engine) -> None:
    """Bring the schema up to the newest migration (safe to run again).

    A database created before migrations existed (tables present, no ``alembic_version``)
    is stamped at the baseline revision first, then upgraded.
    """
    from alembic import command

    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        config = alembic_config(connection)
        if "mail_item" in tables and "alembic_version" not in tables:
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")
