"""The customer-service API client against the fake WeChat API, over real HTTP."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bot.channels.wechat_api import (
    SendFailed,
    SendUncertain,
    WeChatApiError,
    WeChatClient,
    WindowClosed,
)
from tests.channels.fake_wechat import FakeWeChat

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
OTHER_OPENID = "oUpF8uN2bq7VrT1xYcKpLmZs3dQe"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


def make_client(wechat: FakeWeChat, **kwargs) -> WeChatClient:
    options = {"timeout_s": 2.0, "backoff_s": 0.01, **kwargs}
    return WeChatClient(wechat.app_id, wechat.app_secret, base_url=wechat.base_url, **options)


@pytest_asyncio.fixture
async def client(wechat: FakeWeChat) -> AsyncIterator[WeChatClient]:
    api = make_client(wechat)
    yield api
    await api.close()


# ---- access token ---------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_token_is_fetched_once_and_cached(wechat, client):
    first = await client.access_token()
    await client.send_text(OPENID, "您好", "m1")
    await client.send_text(OPENID, "再见", "m2")
    assert await client.access_token() == first == wechat.token
    assert wechat.token_fetches == 1
    assert [token for _, _, token in wechat.sent] == [first, first]


@pytest.mark.asyncio
async def test_the_token_is_renewed_shortly_before_it_expires(wechat):
    clock = FakeClock()
    api = make_client(wechat, clock=clock)
    try:
        await api.access_token()
        clock.now += 7200 - 301  # still more than the 300 s margin left
        await api.access_token()
        assert wechat.token_fetches == 1
        clock.now += 2
        await api.access_token()
        assert wechat.token_fetches == 2
        assert wechat.forced_fetches == 0
    finally:
        await api.close()


@pytest.mark.asyncio
async def test_twenty_concurrent_sends_share_one_token_fetch(wechat, client):
    await asyncio.gather(*(client.send_text(OPENID, f"消息{i}", f"k{i}") for i in range(20)))
    assert wechat.token_fetches == 1
    assert sorted(content for _, content, _ in wechat.sent) == sorted(f"消息{i}" for i in range(20))


@pytest.mark.asyncio
async def test_forcing_a_refresh_gets_a_new_token(wechat, client):
    old = await client.access_token()
    new = await client.access_token(force_refresh=True)
    assert new != old and new == wechat.token
    assert wechat.forced_fetches == 1


@pytest.mark.asyncio
async def test_a_wrong_secret_is_refused_without_retry_and_without_echoing_it(wechat):
    api = WeChatClient(wechat.app_id, "wrong-secret-123", base_url=wechat.base_url, backoff_s=0.01)
    try:
        with pytest.raises(WeChatApiError) as caught:
            await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert caught.value.errcode == 40125
    assert not isinstance(caught.value, SendFailed)
    assert "wrong-secret-123" not in str(caught.value)
    assert wechat.token_fetches == 1 and wechat.send_attempts == 0


@pytest.mark.asyncio
async def test_a_busy_token_endpoint_is_retried(wechat, client):
    wechat.fail_next_token(-1, times=2)
    await client.send_text(OPENID, "您好", "m1")
    assert wechat.token_fetches == 3
    assert len(wechat.sent) == 1


# ---- invalid or expired token ---------------------------------------------------------------

@pytest.mark.asyncio
async def test_an_expired_token_is_renewed_once_and_the_message_delivered_once(wechat, client):
    await client.send_text(OPENID, "第一条", "m1")
    old = wechat.token
    wechat.expire_token()
    await client.send_text(OPENID, "第二条", "m2")
    assert wechat.token_fetches == 2
    assert wechat.forced_fetches == 0  # normal mode already hands out the new token
    assert wechat.send_attempts == 3  # m1, m2 refused with 42001, m2 again
    assert wechat.sent == [(OPENID, "第一条", old), (OPENID, "第二条", wechat.token)]
    assert wechat.token != old


@pytest.mark.asyncio
async def test_concurrent_senders_seeing_an_expired_token_renew_it_once(wechat, client):
    await client.access_token()
    wechat.expire_token()
    await asyncio.gather(*(client.send_text(OPENID, f"消息{i}", f"k{i}") for i in range(10)))
    assert wechat.token_fetches == 2
    assert len(wechat.sent) == 10
    assert {token for _, _, token in wechat.sent} == {wechat.token}


@pytest.mark.asyncio
async def test_a_token_still_handed_out_but_refused_is_force_refreshed(wechat, client):
    await client.access_token()
    wechat.reject_token(40001)
    await client.send_text(OPENID, "您好", "m1")
    assert wechat.token_fetches == 3  # first, normal mode (same token again), forced
    assert wechat.forced_fetches == 1
    assert wechat.sent == [(OPENID, "您好", wechat.token)]


@pytest.mark.asyncio
async def test_a_token_refused_after_renewal_is_not_retried_again(wechat, client):
    await client.access_token()
    wechat.fail_next(40001, times=5)
    with pytest.raises(SendFailed) as caught:
        await client.send_text(OPENID, "您好", "m1")
    assert caught.value.errcode == 40001
    assert wechat.send_attempts == 2
    assert wechat.sent == []


# ---- window, busy, timeouts -----------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_a_closed_window_or_used_up_quota_is_not_retried(wechat, client, errcode):
    wechat.fail_next(errcode, times=3)
    with pytest.raises(WindowClosed) as caught:
        await client.send_text(OPENID, "您好", "m1")
    assert caught.value.errcode == errcode
    assert wechat.send_attempts == 1
    assert wechat.sent == []


@pytest.mark.asyncio
async def test_system_busy_is_retried_with_backoff_and_delivered_once(wechat):
    api = make_client(wechat, backoff_s=0.05)
    wechat.fail_next(-1, times=2)
    started = time.monotonic()
    try:
        await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert time.monotonic() - started >= 0.05 + 0.10  # two pauses, the second doubled
    assert wechat.send_attempts == 3
    assert wechat.sent == [(OPENID, "您好", wechat.token)]


@pytest.mark.asyncio
async def test_system_busy_gives_up_after_max_attempts(wechat, client):
    wechat.fail_next(-1, times=10)
    with pytest.raises(SendFailed) as caught:
        await client.send_text(OPENID, "您好", "m1")
    assert caught.value.errcode == -1
    assert wechat.send_attempts == 3
    assert wechat.sent == []


@pytest.mark.asyncio
async def test_timeouts_are_retried_a_bounded_number_of_times(wechat):
    api = make_client(wechat, timeout_s=0.2, max_attempts=3)
    wechat.delay_next(0.6, times=10)
    try:
        with pytest.raises(SendFailed, match="timed out"):
            await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert wechat.send_attempts == 3
    await asyncio.sleep(0.6)  # let the held requests finish: the client gave up on all of them
    assert wechat.send_attempts == 3
    assert wechat.sent == []


@pytest.mark.asyncio
async def test_a_timed_out_request_that_never_arrived_is_sent_again_once(wechat):
    api = make_client(wechat, timeout_s=0.2)
    wechat.delay_next(0.6)
    try:
        await api.send_text(OPENID, "您好", "m1")
        await asyncio.sleep(0.6)
    finally:
        await api.close()
    assert wechat.send_attempts == 2
    assert wechat.sent == [(OPENID, "您好", wechat.token)]


@pytest.mark.asyncio
async def test_documented_limit_a_lost_answer_after_delivery_duplicates_the_message(wechat):
    # WeChat's API has no idempotency key: if it delivered the message and only the answer was
    # lost, the retry delivers it again. This is the limit send_text documents.
    api = make_client(wechat, timeout_s=0.2)
    wechat.delay_next(0.6, deliver_first=True)
    try:
        await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert [content for _, content, _ in wechat.sent] == ["您好", "您好"]


@pytest.mark.asyncio
@pytest.mark.parametrize("deliver_first", [True, False])
async def test_without_retry_uncertain_a_lost_answer_ends_at_once_as_uncertain(wechat,
                                                                              deliver_first):
    # The fake got the request; whether it delivered or not, the client cannot tell.
    api = make_client(wechat, timeout_s=0.2)
    wechat.delay_next(0.6, deliver_first=deliver_first)
    try:
        with pytest.raises(SendUncertain, match="timed out"):
            await api.send_text(OPENID, "您好", "m1", retry_uncertain=False)
    finally:
        await api.close()
    assert wechat.send_attempts == 1
    assert len(wechat.sent) == (1 if deliver_first else 0)


@pytest.mark.asyncio
async def test_retried_timeouts_that_give_up_are_uncertain(wechat):
    api = make_client(wechat, timeout_s=0.2, max_attempts=2)
    wechat.delay_next(0.6, times=2)
    try:
        with pytest.raises(SendUncertain):
            await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert wechat.send_attempts == 2


@pytest.mark.asyncio
async def test_failures_that_delivered_nothing_are_retried_even_without_retry_uncertain(wechat):
    api = make_client(wechat)
    try:
        wechat.fail_next(-1, times=2)
        await api.send_text(OPENID, "您好", "m1", retry_uncertain=False)
        assert wechat.send_attempts == 3 and len(wechat.sent) == 1
        wechat.expire_token()  # 42001: renewed and sent again, as with retries
        await api.send_text(OPENID, "再见", "m2", retry_uncertain=False)
        assert [content for _, content, _ in wechat.sent] == ["您好", "再见"]
        wechat.fail_next(-1, times=3)
        with pytest.raises(SendFailed) as caught:
            await api.send_text(OPENID, "您好", "m3", retry_uncertain=False)
        assert type(caught.value) is SendFailed
    finally:
        await api.close()


@pytest.mark.asyncio
async def test_a_connection_not_had_in_time_is_a_clear_failure(wechat):
    # One connection in the pool, held by a slow send: the other waits past its connect budget
    # and gives up before sending anything.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        slow = make_client(wechat, session=http, timeout_s=5.0)
        quick = make_client(wechat, session=http, timeout_s=0.5, max_attempts=1)
        await slow.access_token()
        await quick.access_token()
        wechat.delay_next(1.5)
        holding = asyncio.create_task(slow.send_text(OPENID, "慢", "m1"))
        while wechat.send_attempts == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(SendFailed, match="cannot connect") as caught:
            await quick.send_text(OPENID, "快", "m2", retry_uncertain=False)
        assert type(caught.value) is SendFailed
        await holding
    assert wechat.send_attempts == 1
    assert [content for _, content, _ in wechat.sent] == ["慢"]


@pytest.mark.asyncio
async def test_an_unreachable_api_gives_up_after_max_attempts():
    api = WeChatClient("wx1", "secret", base_url="http://127.0.0.1:9", timeout_s=0.5,
                       max_attempts=2, backoff_s=0.01)
    try:
        with pytest.raises(SendFailed, match="cannot connect") as caught:
            await api.send_text(OPENID, "您好", "m1")
    finally:
        await api.close()
    assert not isinstance(caught.value, SendUncertain)  # nothing can have reached WeChat


@pytest.mark.asyncio
async def test_other_error_codes_are_raised_without_retry(wechat, client):
    wechat.fail_next(40003)  # invalid openid
    with pytest.raises(WeChatApiError) as caught:
        await client.send_text(OPENID, "您好", "m1")
    assert type(caught.value) is WeChatApiError and caught.value.errcode == 40003
    assert wechat.send_attempts == 1


@pytest.mark.asyncio
async def test_empty_content_is_refused_before_sending(wechat, client):
    with pytest.raises(ValueError):
        await client.send_text(OPENID, "", "m1")
    assert wechat.send_attempts == 0


# ---- never sent twice -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_the_same_idempotency_key_is_sent_once(wechat, client):
    await client.send_text(OPENID, "您好", "msg-1")
    await client.send_text(OPENID, "您好", "msg-1")
    await client.send_text(OPENID, "您好", "msg-2")  # same text, other message: sent
    assert [content for _, content, _ in wechat.sent] == ["您好", "您好"]
    assert wechat.send_attempts == 2


@pytest.mark.asyncio
async def test_concurrent_sends_with_the_same_key_deliver_once(wechat, client):
    await asyncio.gather(*(client.send_text(OPENID, "您好", "msg-1") for _ in range(5)))
    assert len(wechat.sent) == 1


@pytest.mark.asyncio
async def test_a_key_whose_send_failed_can_be_sent_later(wechat, client):
    wechat.fail_next(45015)
    with pytest.raises(WindowClosed):
        await client.send_text(OPENID, "您好", "msg-1")
    await client.send_text(OPENID, "您好", "msg-1")
    assert len(wechat.sent) == 1


@pytest.mark.asyncio
async def test_the_record_of_confirmed_keys_is_bounded(wechat):
    api = make_client(wechat, remember_keys=2)
    try:
        for key in ("a", "b", "c", "a"):  # "a" was forgotten when "c" came in
            await api.send_text(OPENID, key, key)
    finally:
        await api.close()
    assert [content for _, content, _ in wechat.sent] == ["a", "b", "c", "a"]


# ---- several messages -----------------------------------------------------------------------

@pytest.mark.asyncio
async def test_send_texts_keeps_the_order(wechat, client):
    parts = ["您的邮件已到达昆明。", "预计明天投递 😊", "还有什么可以帮您？"]
    await client.send_texts(OPENID, parts, "msg-9")
    assert wechat.sent == [(OPENID, part, wechat.token) for part in parts]


@pytest.mark.asyncio
async def test_send_texts_stops_at_a_closed_window(wechat, client):
    wechat.fail_next(45015)
    with pytest.raises(WindowClosed):
        await client.send_texts(OPENID, ["一", "二", "三"], "msg-9")
    assert wechat.send_attempts == 1
    assert wechat.sent == []


@pytest.mark.asyncio
async def test_send_texts_again_sends_only_what_is_missing(wechat, client):
    await client.send_texts(OPENID, ["一", "二"], "msg-9")
    await client.send_texts(OPENID, ["一", "二", "三"], "msg-9")
    assert [content for _, content, _ in wechat.sent] == ["一", "二", "三"]


# ---- the fake itself and the wire format ----------------------------------------------------

@pytest.mark.asyncio
async def test_the_fake_checks_token_and_json_shape(wechat, client):
    token = await client.access_token()
    url = f"{wechat.base_url}/cgi-bin/message/custom/send"
    async with aiohttp.ClientSession() as http:
        async def send(params: dict, data: bytes) -> int:
            async with http.post(url, params=params, data=data) as response:
                return (await response.json())["errcode"]

        assert await send({"access_token": "forged"}, b'{"touser": "o1"}') == 40001
        assert await send({"access_token": token}, b"") == 44002
        assert await send({"access_token": token}, b"{not json") == 47001
        assert await send({"access_token": token}, b'{"msgtype": "text", "text": {"content": "x"}}') \
            == 47001
        assert await send({"access_token": token}, b'{"touser": "o1", "msgtype": "text"}') == 47001
        assert await send({"access_token": token},
                          b'{"touser": "o1", "msgtype": "text", "text": {"content": "x"}}') == 0
    assert wechat.sent == [("o1", "x", token)]


@pytest.mark.asyncio
async def test_chinese_and_emoji_are_sent_as_utf8_not_escapes(wechat):
    bodies: list[bytes] = []

    async def keep_body(session, context, params: aiohttp.TraceRequestChunkSentParams) -> None:
        bodies.append(params.chunk)

    tracing = aiohttp.TraceConfig()
    tracing.on_request_chunk_sent.append(keep_body)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as http:
        api = make_client(wechat, session=http)
        await api.send_text(OPENID, "包裹到了 📦", "m1")
        await api.close()  # does not close a session it was given
        assert not http.closed
    assert "包裹到了 📦".encode("utf-8") in b"".join(bodies)
    assert wechat.sent == [(OPENID, "包裹到了 📦", wechat.token)]


# ---- logs -----------------------------------------------------------------------------------

@pytest.mark.asyncio
async def test_logs_never_show_the_token_the_secret_or_the_openid(wechat, caplog):
    caplog.set_level(logging.DEBUG)
    api = make_client(wechat, timeout_s=0.2)
    tokens = []
    errors = []
    try:
        await api.send_text(OPENID, "一", "m1")
        tokens.append(wechat.token)
        wechat.expire_token()
        await api.send_text(OPENID, "二", "m2")
        tokens.append(wechat.token)
        wechat.reject_token()
        await api.send_text(OPENID, "三", "m3")
        tokens.append(wechat.token)
        wechat.fail_next(-1)
        await api.send_text(OPENID, "四", "m4")
        wechat.delay_next(0.4)
        await api.send_text(OPENID, "四", "m4b")
        for errcode in (45015, 40003):
            wechat.fail_next(errcode)
            with pytest.raises(WeChatApiError) as caught:
                await api.send_text(OPENID, "五", f"m5-{errcode}")
            errors.append(str(caught.value))
        wechat.delay_next(0.4, times=3)
        with pytest.raises(SendFailed) as caught:
            await api.send_text(OPENID, "六", "m6")
        errors.append(str(caught.value))
    finally:
        await api.close()
    assert len(set(tokens)) == 3 and wechat.forced_fetches == 1
    assert "WeChat sent" in caplog.text and "renewing" in caplog.text  # the logs do say something
    for secret in (*tokens, wechat.app_secret, OPENID):
        assert secret not in caplog.text
        assert not any(secret in error for error in errors)
    assert "oUpF****eS6o" in caplog.text
