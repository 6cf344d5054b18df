"""The desk's store for the workbench tests that log agents in (test_conversations,
test_models_views): import the fixtures by name where they are needed.

* ``accounts_db`` (module): a SQLite file with agent1, agent2, trainer1 and super1, password
  `PASSWORD`, hashed once (hashing is slow on purpose);
* ``store`` (per test): a copy of that file, with the demo mail seeded at the current time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.config import local_now
from bot.store.accounts import Role, create_account
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.seed import seed_demo_mail
from bot.store.uow import UowFactory, uow_factory
from tests.workbench.support import PASSWORD


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite file with the accounts (hashed once: hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("desk") / "accounts.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    for name, role in [("agent1", Role.AGENT), ("agent2", Role.AGENT),
                       ("trainer1", Role.TRAINER), ("super1", Role.SUPERVISOR)]:
        create_account(uows, name, PASSWORD, role, f"{role.label}{name[-1]}号")
    engine.dispose()
    yield str(path)


@pytest.fixture
def store(accounts_db: str, tmp_path: Path) -> Iterator[UowFactory]:
    """A fresh copy of the accounts file with the demo mail seeded at the current time."""
    path = tmp_path / "desk.db"
    path.write_bytes(Path(accounts_db).read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    uows = uow_factory(make_session_factory(engine))
    seed_demo_mail(uows, local_now())
    yield uows
    engine.dispose()
