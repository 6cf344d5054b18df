"""One WeChat access token for every replica: kept and renewed in a real Redis, against the fake
WeChat API over real HTTP. Two `WeChatClient` objects with the same REDIS_URL stand for two
replicas; they share nothing but Redis."""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from bot.channels.wechat_api import WeChatClient
from tests import redis_server
from tests.channels.conftest import ThreadedFake
from tests.channels.fake_wechat import FakeWeChat

pytestmark = pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
TOKEN_KEY = "postdesk:wechat:{app_id}:access_token"
LOCK_KEY = TOKEN_KEY + ":renewing"


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server.RedisServer(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(shared_redis: str) -> Iterator[str]:
    import redis  # type: ignore[import-untyped]  # redis 4 ships no type hints

    client = redis.Redis.from_url(shared_redis)
    client.flushall()
    client.close()
    yield shared_redis


@pytest_asyncio.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


def replica(wechat: FakeWeChat, redis_url: str) -> WeChatClient:
    return WeChatClient(wechat.app_id, wechat.app_secret, base_url=wechat.base_url,
                        timeout_s=2.0, backoff_s=0.01, redis_url=redis_url)


@pytest_asyncio.fixture
async def replicas(wechat: FakeWeChat, redis_url: str) -> AsyncIterator[list[WeChatClient]]:
    clients = [replica(wechat, redis_url), replica(wechat, redis_url)]
    yield clients
    for client in clients:
        await client.close()


async def send_from_both(a: WeChatClient, b: WeChatClient, n: int, tag: str) -> None:
    await asyncio.gather(*(client.send_text(OPENID, f"{tag}{name}{i}", f"{tag}{name}{i}")
                           for i in range(n) for name, client in (("a", a), ("b", b))))


def tokens_used(wechat: FakeWeChat) -> set[str]:
    return {token for _, _, token in wechat.sent}


@pytest.mark.asyncio
async def test_two_replicas_sending_at_once_fetch_one_token(wechat, replicas):
    a, b = replicas
    await send_from_both(a, b, 5, "m")
    assert wechat.token_fetches == 1
    assert len(wechat.sent) == 10 and tokens_used(wechat) == {wechat.token}


@pytest.mark.asyncio
async def test_without_redis_each_replica_fetches_its_own(wechat):
    """The behaviour without REDIS_URL, unchanged (and what the shared token saves)."""
    a, b = replica(wechat, ""), replica(wechat, "")
    try:
        await send_from_both(a, b, 3, "m")
    finally:
        await a.close()
        await b.close()
    assert wechat.token_fetches == 2 and len(wechat.sent) == 6


def test_replicas_on_their_own_threads_and_loops_fetch_one_token(redis_url: str) -> None:
    """Closer to two processes: each replica has its own event loop, started together."""
    with ThreadedFake() as wechat:
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(name: str) -> None:
            async def sends() -> None:
                client = replica(wechat, redis_url)
                try:
                    start.wait(10)
                    await asyncio.gather(*(client.send_text(OPENID, f"{name}{i}", f"{name}{i}")
                                           for i in range(4)))
                finally:
                    await client.close()
            try:
                asyncio.run(sends())
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert wechat.token_fetches == 1
        assert len(wechat.sent) == 8 and tokens_used(wechat) == {wechat.token}


@pytest.mark.asyncio
async def test_the_token_and_its_lifetime_are_kept_in_redis(wechat, replicas, redis_url):
    import redis

    token = await replicas[0].access_token()
    client = redis.Redis.from_url(redis_url)
    try:
        key = TOKEN_KEY.format(app_id=wechat.app_id)
        assert client.get(key) == token.encode()
        # expires_in 7200 s less the 300 s margin
        assert 6800_000 < client.pttl(key) <= 6900_000
        assert not client.exists(LOCK_KEY.format(app_id=wechat.app_id))  # released
    finally:
        client.close()


@pytest.mark.asyncio
async def test_an_expired_token_is_renewed_once_for_both_replicas(wechat, replicas):
    a, b = replicas
    await send_from_both(a, b, 1, "before")
    old = wechat.token
    wechat.expire_token()
    await send_from_both(a, b, 3, "after")
    assert wechat.token_fetches == 2  # the first, and one renewal for both
    assert wechat.forced_fetches == 0
    assert wechat.token != old
    assert {t for _, content, t in wechat.sent if content.startswith("after")} == {wechat.token}
    assert len(wechat.sent) == 8


@pytest.mark.asyncio
async def test_a_refused_token_is_force_refreshed_by_one_replica_only(wechat, replicas):
    """A second forced refresh would invalidate the token the first one just got."""
    a, b = replicas
    await send_from_both(a, b, 1, "before")
    wechat.reject_token(40001)
    await send_from_both(a, b, 3, "after")
    assert wechat.forced_fetches == 1
    assert wechat.token_fetches == 3  # the first; normal mode (the same token again); forced
    assert {t for _, content, t in wechat.sent if content.startswith("after")} == {wechat.token}
    assert len(wechat.sent) == 8


@pytest.mark.asyncio
async def test_a_replica_with_an_outdated_token_takes_the_renewed_one_from_redis(wechat, replicas):
    a, b = replicas
    await send_from_both(a, b, 1, "before")
    renewed = await a.access_token(force_refresh=True)  # the old token stops working
    assert wechat.token_fetches == 2
    await b.send_text(OPENID, "您好", "b-after")  # refused with the old token, then retried
    assert wechat.token_fetches == 2  # no fetch: the renewed token was in Redis
    assert wechat.sent[-1] == (OPENID, "您好", renewed)


@pytest.mark.asyncio
async def test_forcing_does_not_replace_a_token_another_replica_already_replaced(wechat,
                                                                                 replicas):
    a, b = replicas
    old = await a.access_token()
    assert await b.access_token() == old
    new = await a.access_token(force_refresh=True)
    assert await b.access_token(force_refresh=True) == new != old
    assert wechat.forced_fetches == 1 and wechat.token_fetches == 2


@pytest.mark.asyncio
async def test_a_lock_left_by_a_dead_replica_expires_and_the_token_is_fetched(wechat, replicas,
                                                                               redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.set(LOCK_KEY.format(app_id=wechat.app_id), "dead-replica", px=300)
    finally:
        client.close()
    await replicas[0].send_text(OPENID, "您好", "m1")
    assert wechat.token_fetches == 1
    assert wechat.sent == [(OPENID, "您好", wechat.token)]


@pytest.mark.asyncio
async def test_with_redis_stopped_the_replicas_still_deliver_and_say_so_once(
        wechat: FakeWeChat, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.wechat_api")
    server = redis_server.RedisServer(tmp_path)
    url = server.__enter__()
    a, b = replica(wechat, url), replica(wechat, url)
    try:
        await a.send_text(OPENID, "有 Redis", "m0")
        server.__exit__(None, None, None)
        wechat.expire_token()
        await send_from_both(a, b, 2, "down")
        wechat.expire_token()
        await send_from_both(a, b, 1, "still down")
    finally:
        server.__exit__(None, None, None)
        await a.close()
        await b.close()
    assert sorted(content for _, content, _ in wechat.sent) == sorted(
        ["有 Redis", "downa0", "downa1", "downb0", "downb1", "still downa0", "still downb0"])
    warnings = [r for r in caplog.records if "not shared" in r.getMessage()]
    assert len(warnings) == 2  # one a process (a minute), not one a fetch
    assert all(r.levelno == logging.ERROR for r in warnings)
