"""Benchmark fixtures: the store fixtures of tests/store (in-memory SQLite and a real PostgreSQL)."""
from __future__ import annotations

from tests.store.conftest import engine, pg_url, session_factory, uows  # noqa: F401
