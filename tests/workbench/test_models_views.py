"""The model history page: trainers and supervisors read the registry; agents may not."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.store.uow import UowFactory
from bot.trainer.registry import DEPLOYED, Registry
from bot.workbench.app import create_app
from bot.workbench.keys import MODEL_REGISTRY
from tests.workbench.desk_fixtures import accounts_db, store  # noqa: F401  (fixtures)
from tests.workbench.support import CSRF_INPUT, PASSWORD

NOW = datetime(2026, 11, 26, 10, 0)


@pytest_asyncio.fixture
async def client(store: UowFactory, tmp_path: Path) -> AsyncIterator[TestClient]:  # noqa: F811
    registry = Registry(tmp_path / "registry.json")
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.tar.gz").write_bytes(b"x")
    a = registry.register(tmp_path / "a.tar.gz", "aaaaaaaa11", {"macro_f1": 0.909}, NOW,
                          status=DEPLOYED, note="baseline: postdesk.tar.gz")
    registry.mark_deployed(a.id, NOW)
    b = registry.register(tmp_path / "b.tar.gz", "bbbbbbbb22", {"macro_f1": 0.912}, NOW)
    registry.mark_deployed(b.id, NOW)
    c = registry.register(tmp_path / "c.tar.gz", "cccccccc33", {"macro_f1": 0.85}, NOW)
    registry.judge(c.id, True, ["intent <b>track_mail</b>: F1 dropped"])
    app = create_app(Settings(), store)
    app[MODEL_REGISTRY] = registry
    async with TestClient(TestServer(app)) as client:
        yield client


async def login(client: TestClient, username: str) -> None:
    page = await (await client.get("/login")).text()
    token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
    response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": token}, allow_redirects=False)
    assert response.status == 303


@pytest.mark.asyncio
async def test_trainers_see_every_model_newest_first(client: TestClient) -> None:
    await login(client, "trainer1")
    page = await (await client.get("/trainer/models")).text()
    rows = page.split('data-testid="model-row"')[1:]
    assert [r.split('data-status="')[1].split('"')[0] for r in rows] == [
        "refused", "deployed", "retired"]
    assert "0.9120" in rows[1] and "bbbbbbbb" in rows[1] and "上一个在用模型：1" in rows[1]
    assert "&lt;b&gt;track_mail&lt;/b&gt;" in rows[0] and "<b>track_mail" not in page


@pytest.mark.asyncio
async def test_supervisors_may_look_agents_may_not(client: TestClient) -> None:
    await login(client, "agent1")
    assert (await client.get("/trainer/models")).status == 403
    await client.post("/logout", headers={"X-CSRF-Token": (await (await client.get(
        "/api/me")).json())["csrf_token"]})
    await login(client, "super1")
    assert (await client.get("/trainer/models")).status == 200
