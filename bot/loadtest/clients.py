"""Speaking to the channels under load: REST JSON, signed WeChat XML, and Rasa's tracker API.

Each ``send`` times one message from the request to the reply and says what happened. WeChat
replies that miss the passive window go through the customer-service API: with
:class:`FakeWeChatApi` (what ``--start-stack`` points the channel at) the harness sees them
arrive and times them too; against a real deployment they are only counted.
"""
from __future__ import annotations

import asyncio
import secrets
import time
import urllib.parse
from collections import defaultdict
from typing import Any, Optional

import aiohttp
from aiohttp import web

from bot.channels.limits import SLOW_DOWN_TEXT
from bot.channels.wechat_crypto import Crypto
from bot.channels.wechat_signing import sha1_signature
from bot.channels.wechat_sim import message_xml
from bot.channels.wechat_xml import cdata, parse_fields
from bot.config import RASA_TOKEN_HEADER, REST_TOKEN_HEADER
from bot.loadtest.report import ANSWERED

REFUSED_STATUSES = range(400, 600)


class RestChannel:
    """The REST webhook; a customer is ``lt<run>-<index>`` (Rasa: ``rest:lt<run>-<index>``)."""

    name = "rest"

    def __init__(self, http: aiohttp.ClientSession, base_url: str, run: str,
                 rest_token: str = "") -> None:
        self.http, self.run = http, run
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.headers = {REST_TOKEN_HEADER: rest_token} if rest_token else {}

    def sender(self, customer: int) -> str:
        """The sender id the harness posts for `customer`."""
        return f"lt{self.run}-{customer}"

    def conversation(self, customer: int) -> str:
        """The conversation id Rasa keeps for `customer`."""
        return f"rest:{self.sender(customer)}"

    async def send(self, customer: int, seq: int, text: str) -> tuple[str, bool]:
        """Post one message (its sequence number as metadata); return (outcome, refused)."""
        body = {"sender": self.sender(customer), "message": text,
                "metadata": {"loadtest": {"run": self.run, "seq": seq}}}
        async with self.http.post(self.url, json=body, headers=self.headers) as r:
            if r.status in REFUSED_STATUSES:
                await r.read()
                return f"http {r.status}", True
            replies = await r.json(content_type=None)
        texts = [m.get("text") for m in replies or [] if isinstance(m, dict)]
        if SLOW_DOWN_TEXT in texts:
            return "slowed down (sender rate limit)", True
        return ANSWERED, False


class FakeWeChatApi:
    """WeChat's customer-service API on loopback: it takes every reply and hands it to the
    customer waiting for it (the access token is always granted)."""

    def __init__(self) -> None:
        self.inbox: dict[str, asyncio.Queue[str]] = defaultdict(asyncio.Queue)
        self._runner: Optional[web.AppRunner] = None
        self.base_url = ""

    async def start(self, port: int) -> str:
        """Listen on 127.0.0.1:`port`; return the base URL to give the channel."""
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": "loadtest-" + secrets.token_hex(8),
                                  "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.inbox[str(body.get("touser"))].put_nowait(str((body.get("text") or {})
                                                          .get("content", "")))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


class WeChatChannel:
    """The WeChat webhook, spoken as WeChat's servers do: signed query, plain XML, or encrypted
    with the EncodingAESKey when one is given. A customer is the openid ``o_lt<run>_<index>``."""

    name = "wechat"

    def __init__(self, http: aiohttp.ClientSession, base_url: str, run: str, token: str,
                 app_id: str, aes_key: str = "", api: Optional[FakeWeChatApi] = None,
                 account: str = "gh_postdesk_demo", timeout: float = 30) -> None:
        self.http, self.run, self.token, self.account = http, run, token, account
        self.url = f"{base_url}/webhooks/wechat/webhook"
        self.crypto = Crypto(token, aes_key, app_id) if aes_key else None
        self.api, self.timeout = api, timeout

    def openid(self, customer: int) -> str:
        """The openid of `customer`."""
        return f"o_lt{self.run}_{customer}"

    def conversation(self, customer: int) -> str:
        """The conversation id Rasa keeps for `customer`."""
        return f"wechat:{self.openid(customer)}"

    def _request(self, xml: str, openid: str = "") -> tuple[dict[str, str], bytes]:
        """The signed query and the body for one message (encrypted in safe mode); WeChat
        names the sender in the query too (``openid``: what HAProxy routes a cluster by)."""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        query = {"signature": sha1_signature(self.token, timestamp, nonce),
                 "timestamp": timestamp, "nonce": nonce}
        if openid:
            query["openid"] = openid
        if self.crypto is None:
            return query, xml.encode("utf-8")
        wrapped = parse_fields(self.crypto.encrypt(xml, nonce, timestamp).encode())
        query.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
        body = (f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
                f"<Encrypt>{cdata(wrapped['Encrypt'])}</Encrypt></xml>")
        return query, body.encode("utf-8")

    def _reply_text(self, body: str, query: dict[str, str]) -> Optional[str]:
        """The text of a passive reply; None for ``success`` (the reply comes by the API)."""
        if not body.startswith("<xml>"):
            return None
        raw = body.encode("utf-8")
        if self.crypto is not None:
            fields = parse_fields(raw)
            raw = self.crypto.decrypt(raw, fields.get("MsgSignature"), fields.get("TimeStamp"),
                                      fields.get("Nonce"))
        return parse_fields(raw).get("Content")

    async def send(self, customer: int, seq: int, text: str) -> tuple[str, bool]:
        """Post one text message (MsgId ``lt<run>c<customer>s<seq>``); return (outcome,
        refused)."""
        openid = self.openid(customer)
        xml = message_xml(openid, self.account, text, msg_id=f"lt{self.run}c{customer}s{seq}")
        query, body = self._request(xml, openid)
        inbox = self.api.inbox[openid] if self.api is not None else None
        while inbox is not None and not inbox.empty():  # late parts of an earlier reply
            inbox.get_nowait()
        async with self.http.post(f"{self.url}?{urllib.parse.urlencode(query)}", data=body,
                                  headers={"Content-Type": "text/xml"}) as r:
            answer = await r.text()
            if r.status in REFUSED_STATUSES:
                return f"http {r.status}", True
        reply = self._reply_text(answer, query)
        if reply == SLOW_DOWN_TEXT:
            return "slowed down (sender rate limit)", True
        if reply is not None:
            return ANSWERED, False
        if inbox is None:
            return "no passive reply (sent by the API, not seen)", False
        await asyncio.wait_for(inbox.get(), self.timeout)
        return ANSWERED, False


async def tracker_events(http: aiohttp.ClientSession, base_url: str, conversation: str,
                         rasa_token: str) -> list[dict[str, Any]]:
    """Every event of a conversation from Rasa's HTTP API (``X-Rasa-Token``)."""
    url = (f"{base_url}/conversations/{urllib.parse.quote(conversation, safe='')}/tracker"
           "?include_events=ALL")
    async with http.get(url, headers={RASA_TOKEN_HEADER: rasa_token}) as r:
        if r.status != 200:
            raise RuntimeError(f"tracker of {conversation}: HTTP {r.status}")
        tracker = await r.json()
    return list(tracker.get("events") or [])
