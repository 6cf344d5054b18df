"""The trainers' pages on a test server, for the tests of the NLU inbox over HTTP
(tests/workbench/test_trainer_views.py, tests/trainer/test_inbox.py): import the fixtures by
name where they are needed, with ``tracker`` and ``data_dirs`` of tests/trainer/conftest.py.

* ``accounts_db`` (module): a SQLite file with trainer1, agent1 and admin1, password
  `PASSWORD`, hashed once (hashing is slow on purpose); ``store`` (per test): a copy of it;
* ``bench`` (per test): the workbench app on a test server reading ``tracker`` and exporting
  into the scratch ``data_dirs``, see :class:`Bench`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.store.accounts import Role, create_account
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from bot.workbench import trainer_views
from bot.workbench.app import create_app
from bot.workbench.keys import TRAINER_PATHS
from bot.workbench.trainer_views import TrainerPaths
from tests.trainer.conftest import DataDirs, RasaTracker
from tests.workbench.support import CSRF_INPUT, PASSWORD


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite file with the accounts (hashed once: hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("trainer") / "accounts.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    for name, role in [("trainer1", Role.TRAINER), ("agent1", Role.AGENT), ("admin1", Role.ADMIN)]:
        create_account(uows, name, PASSWORD, role, f"{role.label}{name[-1]}号")
    engine.dispose()
    yield str(path)


@pytest.fixture
def store(accounts_db: str, tmp_path: Path) -> Iterator[UowFactory]:
    """A fresh copy of the accounts file."""
    path = tmp_path / "store.db"
    path.write_bytes(Path(accounts_db).read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    yield uow_factory(make_session_factory(engine))
    engine.dispose()


@dataclass
class Bench:
    """The running app, its store, tracker store and scratch data; `login` opens a client."""

    uows: UowFactory
    tracker: RasaTracker
    app: Any
    server: TestServer
    dirs: DataDirs

    async def login(self, username: str) -> TestClient:
        """A new client logged in as `username` (closed by the fixture)."""
        client = TestClient(self.server)
        await client.start_server()
        page = await (await client.get("/login")).text()
        token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token, "next": "/"},
                                     allow_redirects=False)
        assert response.status == 303
        self.clients.append(client)
        return client

    def __post_init__(self) -> None:
        self.clients: list[TestClient] = []


@pytest_asyncio.fixture
async def bench(store: UowFactory, tracker: RasaTracker,
                data_dirs: DataDirs) -> AsyncIterator[Bench]:
    """The workbench with the trainers' pages, reading `tracker`, exporting into `data_dirs`."""
    settings = replace(Settings(), tracker_store_url=tracker.url)
    app = create_app(settings, store)
    if "trainer_inbox" not in app.router.named_resources():
        trainer_views.setup_routes(app)  # until bot.workbench.app wires the trainer pages
    app[TRAINER_PATHS] = TrainerPaths(data_dirs.data, data_dirs.heldout)
    server = TestServer(app)
    await server.start_server()
    bench = Bench(store, tracker, app, server, data_dirs)
    try:
        yield bench
    finally:
        for client in bench.clients:
            await client.close()
        await server.close()
