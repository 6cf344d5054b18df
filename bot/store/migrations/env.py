"""Alembic environment: migrates the connection (or URL) `bot.store.db.create_schema` passes in."""
from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.store.db import SCHEMA, make_engine

config = context.config
# The same metadata the engine setup uses (every table of bot.store.models).
target_metadata = SCHEMA


def run_migrations_online() -> None:
    """Migrate the connection `bot.store.db.create_schema` passed in, else ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise SystemExit("no connection and no sqlalchemy.url to migrate")
        engine = make_engine(url)
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
        return
    _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; pass a database URL")
run_migrations_online()
