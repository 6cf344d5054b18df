"""The harness speaks the channel's protocol and keeps its customers open loop (no servers)."""
from __future__ import annotations

import asyncio
import urllib.parse

import aiohttp

from bot.channels.wechat_crypto import Crypto
from bot.channels.wechat_signing import check_signature
from bot.channels.wechat_xml import parse_fields
from bot.loadtest.__main__ import drive
from bot.loadtest.clients import WeChatChannel
from bot.loadtest.plan import Customer
from bot.loadtest.report import ANSWERED
from tests.channels.conftest import AES_KEY, APP_ID, TOKEN


def _request(aes_key: str, xml: str) -> tuple[WeChatChannel, dict[str, str], bytes]:
    """The channel of run "ab12" and the signed query and body it would post for `xml`."""
    async def build() -> tuple[WeChatChannel, dict[str, str], bytes]:
        async with aiohttp.ClientSession() as http:
            channel = WeChatChannel(http, "http://127.0.0.1:1", "ab12", TOKEN, APP_ID, aes_key)
            return (channel, *channel._request(xml))

    return asyncio.run(build())


def test_wechat_messages_are_signed_and_encrypted_as_the_channel_checks_them() -> None:
    xml = "<xml><Content><![CDATA[EA000000005CN到哪了]]></Content><MsgId>ltab12c0s1</MsgId></xml>"
    channel, query, body = _request(AES_KEY, xml)
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])  # no raise
    assert query["encrypt_type"] == "aes"
    inner = Crypto(TOKEN, AES_KEY, APP_ID).decrypt(body, query["msg_signature"],
                                                   query["timestamp"], query["nonce"])
    assert parse_fields(inner)["MsgId"] == "ltab12c0s1"
    assert channel.conversation(3) == "wechat:o_ltab12_3"


def test_the_query_names_the_sender_as_wechat_does_for_the_cluster_to_route_by() -> None:
    """WeChat adds ``openid`` to the URL; HAProxy hashes it (bot/cluster/haproxy.py)."""
    async def build() -> dict[str, str]:
        async with aiohttp.ClientSession() as http:
            channel = WeChatChannel(http, "http://127.0.0.1:1", "ab12", TOKEN, APP_ID, "")
            return channel._request("<xml/>", channel.openid(3))[0]

    assert asyncio.run(build())["openid"] == "o_ltab12_3"


def test_plain_mode_sends_the_xml_as_it_is() -> None:
    _, query, body = _request("", "<xml><Content>你好</Content></xml>")
    assert "encrypt_type" not in query and body.decode() == "<xml><Content>你好</Content></xml>"
    assert set(urllib.parse.parse_qs(urllib.parse.urlencode(query))) == {
        "signature", "timestamp", "nonce"}


class SlowChannel:
    """Answers every message after 0.3 s, noting when each was sent."""

    name = "slow"

    def __init__(self) -> None:
        self.sent: list[tuple[float, int, int]] = []

    def conversation(self, customer: int) -> str:
        return f"slow:{customer}"

    async def send(self, customer: int, seq: int, text: str) -> tuple[str, bool]:
        self.sent.append((asyncio.get_running_loop().time(), customer, seq))
        await asyncio.sleep(0.3)
        return ANSWERED, False


def test_customers_arrive_on_schedule_however_slow_the_replies() -> None:
    async def run() -> tuple[list[tuple[float, int, int]], float, float]:
        channel = SlowChannel()
        start = asyncio.get_running_loop().time()
        customers = [Customer(i, i * 0.05, ("你好", "谢谢")) for i in range(4)]
        turns, elapsed = await drive(channel, customers, 5.0, start)  # type: ignore[arg-type]
        assert [t.outcome for t in turns] == [ANSWERED] * 8
        return channel.sent, start, elapsed

    sent, start, elapsed = asyncio.run(run())
    firsts = {c: t - start for t, c, seq in sent if seq == 0}
    seconds = {c: t - start for t, c, seq in sent if seq == 1}
    for c in range(4):
        assert abs(firsts[c] - c * 0.05) < 0.1  # open loop: nobody waits for earlier customers
        assert seconds[c] - firsts[c] >= 0.29  # but a customer waits for their own reply
    assert elapsed < 1.0  # 4 customers x 2 turns of 0.3 s, overlapping
