"""Work-order fixtures: the store fixtures (SQLite and PostgreSQL) for tests that touch the store."""
from tests.store.conftest import engine, pg_url, session_factory, uows  # noqa: F401
