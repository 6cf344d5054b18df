"""The WeChat channel's answers to the security review, over real HTTP.

- safe mode is not downgraded by a plain POST (unless WeChat's compatible mode is configured);
- Rasa and the store see ``wechat:<openid>``, WeChat's API the raw openid;
- one customer cannot flood the channel, a forger's address gets 429;
- a lone surrogate is answered, a full-width tracking number reaches NLU as ASCII;
- bodies and fields are bounded.

The safe-only channel runs its rate limits on a fake clock (``--fake-clock``) with small limits;
each test starts a fresh window by moving that clock a minute on.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
from sqlalchemy import select

from bot.channels.limits import SLOW_DOWN_TEXT
from bot.channels.wechat import MAX_TEXT_CHARS, TOO_LONG, WeChatOutput
from bot.channels.wechat_api import WeChatClient
from bot.channels.wechat_sim import WeChatSimulator, message_xml
from bot.channels.wechat_xml import MAX_BODY, MAX_EVENT_KEY_CHARS
from bot.store.db import make_engine, make_session_factory
from bot.store.desk import ConversationDay
from bot.store.uow import uow_factory
from bot.store import services
from tests.channels.conftest import AES_KEY, APP_ID, TOKEN, start_stub, stop, wait_until
from tests.channels.fake_wechat import FakeWeChat

ACCOUNT = "gh_postdesk_demo"
SENDER_LIMIT = 3
ADDRESS_LIMIT = 5


@pytest.fixture(scope="module")
def safe_only(fake_wechat: FakeWeChat,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The channel in safe mode without compatible mode, small limits, a fake clock."""
    proc, urls = start_stub(
        fake_wechat, tmp_path_factory.mktemp("wechat-safe-only"),
        env={"WECHAT_COMPAT_MODE": "0", "SENDER_RATE_PER_MINUTE": str(SENDER_LIMIT),
             "ADDRESS_RATE_PER_MINUTE": str(ADDRESS_LIMIT)},
        args=["--fake-clock"])
    try:
        yield urls
    finally:
        stop(proc)


def advance(urls: SimpleNamespace, seconds: float) -> None:
    request = urllib.request.Request(f"{urls.base}/stub/clock?advance={seconds}", data=b"",
                                     method="POST")
    urllib.request.urlopen(request, timeout=5).close()


@pytest.fixture
def channel(safe_only: SimpleNamespace) -> SimpleNamespace:
    advance(safe_only, 61)  # a fresh rate-limit window for every test
    return safe_only


def turns(urls: SimpleNamespace, conversation: str) -> list[str]:
    with urllib.request.urlopen(f"{urls.base}/stub/turns", timeout=5) as r:
        return [t["text"] for t in json.loads(r.read()) if t["sender"] == conversation]


def log_since(urls: SimpleNamespace, offset: int) -> str:
    return Path(urls.log).read_text()[offset:]


def log_size(urls: SimpleNamespace) -> int:
    return len(Path(urls.log).read_text())


# --- safe mode is not downgraded ---------------------------------------------------------------

def test_a_plain_post_is_refused_in_safe_mode(channel: SimpleNamespace) -> None:
    before = log_size(channel)
    plain = WeChatSimulator(channel.webhook, TOKEN, APP_ID)
    refused = plain.say("o_downgrade", "/restart 转人工")  # a valid URL signature, plain body
    assert refused.status == 403 and refused.text is None
    assert turns(channel, "wechat:o_downgrade") == []
    assert "plain message in safe mode" in wait_until(lambda: log_since(channel, before))
    # The same customer, encrypted, is answered.
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    assert safe.say("o_downgrade", "你好").text == "收到：你好"


def test_a_plain_post_is_accepted_in_compatible_mode(stub_channel: SimpleNamespace) -> None:
    # stub_channel has the same AES key, with WECHAT_COMPAT_MODE=1 (conftest.wechat_env).
    plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)
    assert plain.say("o_compat_plain", "你好").text == "收到：你好"
    assert turns(stub_channel, "wechat:o_compat_plain") == ["你好"]


# --- conversations are namespaced --------------------------------------------------------------

def test_rasa_and_the_store_see_wechat_openid_and_the_api_the_raw_openid(
        channel: SimpleNamespace, fake_wechat: FakeWeChat) -> None:
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    slow = safe.say("o_namespace", "慢1.5")  # longer than the 1 s passive wait: the API delivers
    assert (slow.status, slow.body) == (200, "success")
    image = safe.send_xml(message_xml("o_namespace", ACCOUNT, msg_type="image",
                                      PicUrl="http://mmbiz.example/p.jpg", MediaId="img1"))
    assert image.status == 200
    assert wait_until(lambda: [c for who, c, _ in fake_wechat.sent if who == "o_namespace"]) \
        == ["慢回复：慢1.5"]
    assert not [who for who, _, _ in fake_wechat.sent if who.startswith("wechat:")]
    assert turns(channel, "wechat:o_namespace") == ["慢1.5"]
    assert turns(channel, "o_namespace") == []

    engine = make_engine(channel.database_url)
    try:
        uows = uow_factory(make_session_factory(engine))
        with uows() as uow:
            counted = uow.session.execute(
                select(ConversationDay.sender_id, ConversationDay.channel)
                .where(ConversationDay.sender_id.like("%o_namespace"))).all()
        waiting = [h.sender_id for h in services.list_waiting_handovers(uows)
                   if h.sender_id.endswith("o_namespace")]
    finally:
        engine.dispose()
    assert [tuple(row) for row in counted] == [("wechat:o_namespace", "wechat")]
    assert waiting == ["wechat:o_namespace"]


def test_bot_output_goes_to_the_raw_openid_and_only_for_wechat_conversations(
        fake_wechat: FakeWeChat) -> None:
    async def send(recipient: str) -> None:
        client = WeChatClient(APP_ID, fake_wechat.app_secret, base_url=fake_wechat.base_url)
        try:
            await WeChatOutput(client).send_text_message(recipient, "您的邮件已妥投。")
        finally:
            await client.close()

    asyncio.run(send("wechat:o_output"))
    assert [c for who, c, _ in fake_wechat.sent if who == "o_output"] == ["您的邮件已妥投。"]
    for other in ("rest:o_output", "o_output", "wechat:"):
        with pytest.raises(ValueError):
            asyncio.run(send(other))
    assert len([who for who, _, _ in fake_wechat.sent if who == "o_output"]) == 1


# --- rate limits -------------------------------------------------------------------------------

def test_a_flood_gets_one_polite_reply_then_silence_until_the_window_passes(
        channel: SimpleNamespace) -> None:
    before = log_size(channel)
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    flooder = "o_flood_customer_0001"
    replies = [safe.say(flooder, f"第{k}条") for k in range(SENDER_LIMIT + 3)]
    assert [r.text for r in replies[:SENDER_LIMIT]] == [f"收到：第{k}条" for k in range(SENDER_LIMIT)]
    assert replies[SENDER_LIMIT].text == SLOW_DOWN_TEXT
    assert [(r.status, r.body) for r in replies[SENDER_LIMIT + 1:]] == [(200, "success")] * 2
    assert turns(channel, f"wechat:{flooder}") == [f"第{k}条" for k in range(SENDER_LIMIT)]
    # Another customer is not affected.
    assert safe.say("o_calm_customer", "你好").text == "收到：你好"
    # The operator gets one line, without the whole openid.
    log = wait_until(lambda: log_since(channel, before))
    assert log.count("asked to slow down") == 1 and flooder not in log
    # A minute later the customer is answered again.
    advance(channel, 61)
    assert safe.say(flooder, "现在可以了吗").text == "收到：现在可以了吗"


def test_retries_of_one_message_count_once(channel: SimpleNamespace) -> None:
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    xml = message_xml("o_retrying", ACCOUNT, "重复", msg_id="5555000011112222")
    for _ in range(SENDER_LIMIT + 2):  # WeChat's retries: one message
        safe.send_xml(xml)
    assert safe.say("o_retrying", "下一条").text == "收到：下一条"


def test_unverifiable_requests_from_one_address_get_429_and_customers_still_pass(
        channel: SimpleNamespace) -> None:
    before = log_size(channel)
    forger = WeChatSimulator(channel.webhook, "not-the-token", APP_ID, AES_KEY)
    statuses = [forger.say("o_victim", "转人工").status for _ in range(ADDRESS_LIMIT + 4)]
    assert statuses == [403] * ADDRESS_LIMIT + [429] * 4
    # Genuine WeChat traffic from the same address is never throttled by the address limit.
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    assert safe.say("o_genuine", "你好").text == "收到：你好"
    # A plain POST in safe mode is an unverifiable request too.
    assert WeChatSimulator(channel.webhook, TOKEN, APP_ID).say("o_victim", "x").status == 429
    assert turns(channel, "wechat:o_victim") == []
    log = wait_until(lambda: log_since(channel, before))
    assert log.count("answering 429") == 1
    advance(channel, 61)
    assert forger.say("o_victim", "转人工").status == 403


# --- customer text -----------------------------------------------------------------------------

def test_a_lone_surrogate_is_answered_without_an_error(stub_channel: SimpleNamespace) -> None:
    before = log_size(stub_channel)
    plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)
    xml = message_xml("o_surrogate", ACCOUNT, "查件SURROGATE").encode()
    # CESU-8 / WTF-8: a lone high surrogate written as UTF-8 bytes, then a pair (😀).
    lone = plain.post(xml.replace(b"SURROGATE", b"\xed\xa0\x80"), plain.signed_query())
    pair = plain.post(xml.replace(b"SURROGATE", b"\xed\xa0\xbd\xed\xb8\x80")
                      .replace(b"<MsgId>", b"<MsgId>1"), plain.signed_query())
    assert (lone.status, lone.text) == (200, "收到：查件\ufffd")
    assert (pair.status, pair.text) == (200, "收到：查件😀")
    time.sleep(0.3)
    log = log_since(stub_channel, before)
    assert "ERROR" not in log and "Traceback" not in log, log


def test_a_full_width_tracking_number_reaches_nlu_as_ascii(stub_channel: SimpleNamespace) -> None:
    plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)
    reply = plain.say("o_full_width", "ＥＡ０００００００１４ＣＮ到哪了")
    assert reply.text == "收到：EA000000014CN到哪了"
    plain.say("o_full_width", "／ｒｅｓｔａｒｔ")  # folded first, then neutralised
    assert turns(stub_channel, "wechat:o_full_width") == ["EA000000014CN到哪了", "restart"]


def test_voice_recognition_is_cleaned_too(stub_channel: SimpleNamespace) -> None:
    plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)
    heard = plain.send_xml(message_xml("o_voice_fw", ACCOUNT, msg_type="voice", MediaId="m1",
                                       Format="amr", Recognition="ＥＡ０００００００１４ＣＮ"))
    assert heard.text == "收到：EA000000014CN"


# --- bounds ------------------------------------------------------------------------------------

def test_a_body_over_the_limit_is_refused_without_being_read(channel: SimpleNamespace) -> None:
    safe = WeChatSimulator(channel.webhook, TOKEN, APP_ID, AES_KEY)
    big = b"<xml>" + b"a" * MAX_BODY + b"</xml>"
    assert safe.post(big, safe.signed_query()).status == 413

    # Chunked, so no Content-Length announces the size: the read stops at the limit.
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"a" * 4096

    request = urllib.request.Request(
        f"{channel.webhook}?{urllib.parse.urlencode(safe.signed_query())}", data=chunks(),
        headers={"Content-Type": "text/xml", "Transfer-Encoding": "chunked"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413


def test_overlong_text_and_fields_are_bounded(stub_channel: SimpleNamespace) -> None:
    plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)
    assert plain.say("o_long_text", "字" * (MAX_TEXT_CHARS + 1)).text == TOO_LONG
    assert plain.say("o_long_text", "字" * MAX_TEXT_CHARS).status == 200
    key = plain.send_xml(message_xml("o_long_text", ACCOUNT, msg_type="event", Event="CLICK",
                                     EventKey="K" * (MAX_EVENT_KEY_CHARS + 1)))
    assert (key.status, key.body) == (200, "success")
    assert turns(stub_channel, "wechat:o_long_text") == ["字" * MAX_TEXT_CHARS]
