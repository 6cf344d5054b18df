"""Store fixtures: every test runs on in-memory SQLite and on a real PostgreSQL server, one the
tests start from the Debian package (tests/pg.py) or the scratch database POSTDESK_TEST_PG_URL
names (its PostDesk tables are dropped and recreated)."""
from __future__ import annotations

import os
from datetime import datetime
from typing import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import Base
from bot.store.seed import SeedResult, seed_demo_mail
from bot.store.uow import UowFactory, uow_factory
from tests import pg


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if pg.available():
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The PostgreSQL database the store tests use (started on first use)."""
    if os.environ.get(pg.PG_URL_ENV):
        worker = os.environ.get("PYTEST_XDIST_WORKER")  # `make unit` runs two workers
        url = os.environ[pg.PG_URL_ENV]
        yield pg.database_of_worker(url, worker) if worker else url
        return
    server = pg.Server()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(params=_backends())
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, empty schema on each available backend."""
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        drop_everything(engine)
    create_schema(engine)
    yield engine
    if engine.dialect.name != "sqlite":
        drop_everything(engine)
    engine.dispose()


def drop_everything(engine: Engine) -> None:
    """Drop PostDesk's tables and the migration bookkeeping (a scratch PostgreSQL database)."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker:
    """Sessions on `engine`."""
    return make_session_factory(engine)


@pytest.fixture
def uows(session_factory: sessionmaker) -> UowFactory:
    """Units of work on the test's backend, as the services take them."""
    return uow_factory(session_factory)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' in the store's convention (naive Beijing time)."""
    return datetime(2025, 6, 10, 10, 0)


@pytest.fixture
def seeded(uows: UowFactory, now: datetime) -> SeedResult:
    """The demo mail seeded at `now`."""
    return seed_demo_mail(uows, now)
