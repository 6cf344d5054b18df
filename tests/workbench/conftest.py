"""Workbench fixtures: the store fixtures (SQLite and a real PostgreSQL) of tests/store."""
from __future__ import annotations

from tests.store.conftest import engine, pg_url, session_factory, uows  # noqa: F401
