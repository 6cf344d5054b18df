"""Migration 0007 builds the inbox tables exactly as bot.store.models describes them."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from bot.store.models import Base

INBOX_TABLES = {"nlu_candidate", "nlu_collect_cursor"}


def _mentions_inbox(diff: object) -> bool:
    return any(name in repr(diff) for name in INBOX_TABLES)


def test_the_migrated_inbox_tables_match_the_models(engine: Engine) -> None:
    assert INBOX_TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert [d for d in compare_metadata(context, Base.metadata) if _mentions_inbox(d)] == []
