"""What the application adds around every view: its error answer and its one clock."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, AsyncIterator, Callable

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings, local_now
from bot.store.uow import UowFactory
from bot.text.dates import iso_local
from bot.workbench import app as workbench_app
from bot.workbench.app import create_app
from bot.workbench.keys import MODEL_REGISTRY, RASA
from tests.workbench.desk_fixtures import accounts_db, store  # noqa: F401  (fixtures)
from tests.workbench.support import CSRF_INPUT, PASSWORD, PHONE, FakeRasa, handover, post

# A clock a few minutes ahead of the real one, to the second: nothing else gives this time.
PINNED = local_now().replace(microsecond=0) + timedelta(minutes=7, seconds=13)


class BrokenRasa(FakeRasa):
    """A Rasa client with a bug: reading a tracker fails with an error naming the customer."""

    async def tracker(self, sender: str) -> dict[str, Any]:
        raise RuntimeError(f"tracker of {sender} unreadable: 我电话{PHONE}")


class BrokenRegistry:
    """A model registry whose file cannot be read."""

    def all(self) -> list[Any]:
        raise RuntimeError("registry.json is corrupt")


async def login(client: TestClient, username: str) -> None:
    page = await (await client.get("/login")).text()
    token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
    response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": token}, allow_redirects=False)
    assert response.status == 303


@pytest_asyncio.fixture
async def running(store: UowFactory) -> AsyncIterator[Callable[..., Any]]:  # noqa: F811
    """Start the app `create_app` builds with a pinned clock and the given dependencies."""
    clients: list[TestClient] = []

    async def start(rasa: Any = None, registry: Any = None) -> TestClient:
        app = create_app(Settings(), store, clock=lambda: PINNED)
        app[RASA] = rasa if rasa is not None else FakeRasa()
        if registry is not None:
            app[MODEL_REGISTRY] = registry
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.mark.asyncio
async def test_an_unexpected_error_in_the_api_is_a_bare_500_and_an_operator_log_line(
    store: UowFactory, running: Callable[..., Any],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    hid = handover(store, "wx-boom", f"我电话{PHONE}")
    client = await running(rasa=BrokenRasa())
    await login(client, "agent1")
    caplog.set_level(logging.ERROR, logger="bot.workbench.app")
    response = await client.get(f"/api/conversations/{hid}")
    assert response.status == 500
    assert response.content_type == "application/json"
    text = await response.text()
    assert await response.json() == {"error": workbench_app.INTERNAL_ERROR}
    assert PHONE not in text and "Traceback" not in text and "RuntimeError" not in text
    assert response.headers["Content-Security-Policy"]  # still hardened
    [line] = [r for r in caplog.records if r.name == "bot.workbench.app"]
    assert line.levelno == logging.ERROR
    assert line.getMessage() == f"unexpected error answering GET /api/conversations/{hid}"
    assert line.exc_info is not None and isinstance(line.exc_info[1], RuntimeError)


@pytest.mark.asyncio
async def test_a_failing_page_keeps_aiohttps_error_page(
    running: Callable[..., Any], caplog: pytest.LogCaptureFixture,
) -> None:
    client = await running(registry=BrokenRegistry())
    await login(client, "trainer1")
    caplog.set_level(logging.ERROR)
    response = await client.get("/trainer/models")
    assert response.status == 500
    assert response.content_type != "application/json"
    assert "corrupt" not in await response.text()
    assert not [r for r in caplog.records if r.name == "bot.workbench.app"]
    assert [r for r in caplog.records if r.name == "aiohttp.server"]


@pytest.mark.asyncio
async def test_the_desk_takes_now_from_the_app_clock(
    store: UowFactory, running: Callable[..., Any],  # noqa: F811
) -> None:
    hid = handover(store, "wx-clock", "人工")
    client = await running()
    await login(client, "agent1")
    queue = await (await client.get("/api/queue")).json()
    assert queue["server_time"] == iso_local(PINNED)
    status, body = await post(client, f"/api/handovers/{hid}/claim")
    assert status == 200 and body["handover"]["claimed_at"] == iso_local(PINNED)
