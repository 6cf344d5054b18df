"""Engine, session factory and schema creation; nothing is opened until a factory is called."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.store.models import Base


def _is_memory_sqlite(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create a 2.0-style engine for `url`.

    For SQLite, foreign keys are enforced, connections may cross threads (the action server
    runs handlers in a thread pool), an in-memory database (``sqlite://``) lives on one shared
    connection, and the parent directory of a database file is created if missing.

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
        kwargs.setdefault("poolclass", StaticPool)
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker:
    """Return a factory of 2.0-style sessions bound to `engine`.

    Objects stay readable after commit (``expire_on_commit=False``), so a unit of work can
    hand back what it just wrote.
    """
    return sessionmaker(bind=engine, class_=Session, future=True, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet (safe to run again)."""
    Base.metadata.create_all(engine)
