"""The workbench's /metrics over real HTTP: the agents' load read from the store at scrape time,
served to this machine or with the token, and nothing personal in it.

Runs on each store backend (tests/store/conftest.py): the overdue count is SQL of its own.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.metrics import WECHAT_API_ERROR_KINDS
from bot.store import desk
from bot.store import workorders as wo
from bot.store.seed import seed_demo_work_orders
from bot.store.uow import UnitOfWork, UowFactory
from bot.workbench import keys
from bot.workbench.app import create_app
from bot.workorders.policy import load_policy
from tests.support.metrics import samples, value
from tests.workbench.support import handover

# Seeded then, two orders are overdue (see tests/workbench/test_orders.py).
NOW = datetime(2025, 6, 10, 10, 0)
TOKEN = "metrics-token-for-tests-93fa"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seeded(uows: UowFactory) -> UowFactory:
    """The demo work orders at NOW, three hand-overs of which an agent took one."""
    assert seed_demo_work_orders(uows, load_policy(), NOW) == 8
    first = handover(uows, f"wechat:{OPENID}", "我要找人工，电话13812345678")
    handover(uows, "wechat:oUpF8uN2bq7VrT1xYcKpLmZs3dQe", "转人工")
    handover(uows, "rest:alice", "人工客服")
    desk.claim(uows, first, "agent1", NOW)
    return uows


def serve(uows: UowFactory, clock: Clock, settings: Settings = Settings()
          ) -> Callable[[], TestClient]:
    app = create_app(settings, uows, clock=clock)
    return lambda: TestClient(TestServer(app))


@pytest_asyncio.fixture
async def client(seeded: UowFactory, clock: Clock) -> AsyncIterator[TestClient]:
    async with serve(seeded, clock)() as client:
        yield client


async def scrape(client: TestClient, headers: dict[str, str] | None = None) -> tuple[int, str]:
    answer = await client.get("/metrics", headers=headers or {})
    return answer.status, await answer.text()


@pytest.mark.asyncio
async def test_the_gauges_show_the_queue_and_the_overdue_orders(
        client: TestClient, seeded: UowFactory, clock: Clock) -> None:
    status, text = await scrape(client)  # no login: a scraper has no account
    assert status == 200
    assert value(text, "postdesk_handover_queue_length") == 2  # the taken one is not waiting
    assert value(text, "postdesk_work_orders_overdue") == 2
    # Read at scrape time, by the same rule as the order list, as time goes by.
    clock.now = NOW + timedelta(days=30)
    overdue = [v for v in wo.list_work_orders(seeded, load_policy(), clock.now) if v.overdue]
    assert len(overdue) > 2
    assert value((await scrape(client))[1], "postdesk_work_orders_overdue") == len(overdue)


@pytest.mark.asyncio
async def test_the_wechat_errors_of_agents_replies_and_the_process_are_there(
        client: TestClient) -> None:
    text = (await scrape(client))[1]
    assert {kind for kind in WECHAT_API_ERROR_KINDS
            if value(text, "postdesk_wechat_api_errors_total", kind=kind) is not None} == set(
        WECHAT_API_ERROR_KINDS)
    assert any(name == "process_cpu_seconds_total" for name, _ in samples(text))


@pytest.mark.asyncio
async def test_no_personal_data_in_the_metrics(client: TestClient) -> None:
    text = (await scrape(client))[1]
    assert OPENID not in text and "13812345678" not in text and "alice" not in text
    postdesk_labels = {key for name, labels in samples(text) if name.startswith("postdesk_")
                       for key, _ in labels}
    assert postdesk_labels <= {"kind"}


@pytest.mark.asyncio
async def test_a_relayed_request_is_refused_without_a_token(client: TestClient) -> None:
    # Through a reverse proxy on this machine the peer is loopback, but the caller is not.
    status, text = await scrape(client, {"X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and "postdesk_" not in text


@pytest.mark.asyncio
async def test_with_a_token_elsewhere_needs_it(seeded: UowFactory, clock: Clock) -> None:
    async with serve(seeded, clock, replace(Settings(), metrics_token=TOKEN))() as client:
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        status, text = await scrape(client, relayed)
        assert status == 401 and "postdesk_" not in text
        status, _ = await scrape(client, {**relayed, "Authorization": "Bearer wrong-token"})
        assert status == 401
        status, text = await scrape(client, {**relayed, "Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and value(text, "postdesk_handover_queue_length") == 2


@pytest.mark.asyncio
async def test_each_app_has_a_registry_of_its_own(seeded: UowFactory, clock: Clock) -> None:
    first, second = (create_app(Settings(), seeded, clock=clock) for _ in range(2))
    assert first[keys.METRICS] is not second[keys.METRICS]


@pytest.mark.asyncio
async def test_an_unreadable_store_answers_503(seeded: UowFactory, clock: Clock) -> None:
    from sqlalchemy.exc import OperationalError

    def broken() -> UnitOfWork:
        raise OperationalError("SELECT 1", {}, Exception("the database is gone"))

    app: web.Application = create_app(Settings(), seeded, clock=clock)
    app[keys.UOWS] = broken
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/metrics")).status == 503
