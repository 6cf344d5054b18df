"""Chat with the bot as if from WeChat: ``python -m bot.channels.wechat_sim [--url URL] [--aes]``.

Speaks the real server protocol to a running PostDesk (plain or safe mode): signs each request
with the account token, encrypts it with the EncodingAESKey in safe mode, and decrypts and
prints the passive reply. A server with an EncodingAESKey accepts only safe-mode messages
(unless WECHAT_COMPAT_MODE is set): use ``--aes`` there. A reply that comes later through the
customer-service API is not seen here (it goes to WeChat's API, or the fake one in the tests).
The tests and the benchmark use :class:`WeChatSimulator` to speak to the channel. The simulator
speaks as a raw openid; Rasa and the store know that customer as ``wechat:<openid>``.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Optional, Sequence

from bot.channels.wechat_crypto import Crypto
from bot.channels.wechat_signing import sha1_signature
from bot.channels.wechat_xml import cdata, parse_fields
from bot.config import load_settings

DEFAULT_URL = "http://127.0.0.1:5005/webhooks/wechat/webhook"


@dataclass
class Reply:
    """What the webhook answered: HTTP status, raw body and, for a passive reply, its text."""

    status: int
    body: str
    text: Optional[str]


def message_xml(openid: str, account: str, content: str = "", msg_type: str = "text",
                msg_id: Optional[str] = None, create_time: Optional[int] = None,
                **extra: str) -> str:
    """A message as WeChat posts it (text by default; ``extra`` adds fields such as Event)."""
    fields = {
        "ToUserName": account, "FromUserName": openid,
        "CreateTime": str(create_time or int(time.time())), "MsgType": msg_type,
    }
    if msg_type == "text":
        fields["Content"] = content
    fields.update(extra)
    if msg_type != "event":
        fields["MsgId"] = msg_id or str(secrets.randbelow(10 ** 18))
    inner = "".join(f"<{k}>{cdata(v)}</{k}>" if k not in ("CreateTime", "MsgId")
                    else f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f"<xml>{inner}</xml>"


class WeChatSimulator:
    """Signs (and in safe mode encrypts) requests to the channel like WeChat's servers do."""

    def __init__(self, url: str, token: str, app_id: str, aes_key: str = "",
                 account: str = "gh_postdesk_demo", timeout: float = 30) -> None:
        self.url, self.token, self.account, self.timeout = url, token, account, timeout
        self.crypto = Crypto(token, aes_key, app_id) if aes_key else None

    def signed_query(self, timestamp: Optional[str] = None, nonce: Optional[str] = None,
                     **extra: str) -> dict[str, str]:
        """The query of a request signed with the account token (fresh timestamp and nonce)."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        return {"signature": sha1_signature(self.token, timestamp, nonce),
                "timestamp": timestamp, "nonce": nonce, **extra}

    def post(self, body: bytes, query: dict[str, str]) -> Reply:
        """POST a raw body with a query string; decode a passive reply if there is one."""
        request = urllib.request.Request(f"{self.url}?{urllib.parse.urlencode(query)}", data=body,
                                         headers={"Content-Type": "text/xml"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                status, text = r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode("utf-8", "replace"), None)
        return Reply(status, text, self._reply_text(text, query))

    def _reply_text(self, body: str, query: dict[str, str]) -> Optional[str]:
        if not body.startswith("<xml>"):
            return None
        if self.crypto is not None and query.get("encrypt_type") == "aes":
            fields = parse_fields(body.encode())
            inner = self.crypto.decrypt(body.encode(), fields.get("MsgSignature"),
                                        fields.get("TimeStamp"), fields.get("Nonce"))
            return parse_fields(inner).get("Content")
        return parse_fields(body.encode()).get("Content")

    def send_xml(self, xml: str, encrypted: Optional[bool] = None, **query: str) -> Reply:
        """Send one message's XML, signed; encrypted when the simulator has an AES key."""
        encrypted = self.crypto is not None if encrypted is None else encrypted
        signed = self.signed_query(query.pop("timestamp", None), query.pop("nonce", None), **query)
        if not encrypted:
            return self.post(xml.encode("utf-8"), signed)
        assert self.crypto is not None
        wrapped = parse_fields(self.crypto.encrypt(xml, signed["nonce"],
                                                   signed["timestamp"]).encode())
        body = (f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
                f"<Encrypt>{cdata(wrapped['Encrypt'])}</Encrypt></xml>")
        signed.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
        return self.post(body.encode(), signed)

    def say(self, openid: str, text: str, timestamp: Optional[str] = None,
            nonce: Optional[str] = None) -> Reply:
        """Send a text message from `openid` (optionally with a given timestamp or nonce)."""
        query = {k: v for k, v in (("timestamp", timestamp), ("nonce", nonce)) if v}
        # WeChat names the sender in the URL too (what HAProxy routes a cluster by).
        return self.send_xml(message_xml(openid, self.account, text), None, openid=openid,
                             **query)

    def verify(self, echostr: str = "postdesk-echo") -> Reply:
        """The URL verification WeChat does when the server URL is saved."""
        query = {**self.signed_query(), "echostr": echostr}
        try:
            with urllib.request.urlopen(f"{self.url}?{urllib.parse.urlencode(query)}",
                                        timeout=self.timeout) as r:
                return Reply(r.status, r.read().decode("utf-8"), None)
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.read().decode("utf-8", "replace"), None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Read lines from the terminal and print the bot's passive replies."""
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m bot.channels.wechat_sim", description=__doc__)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--openid", default="o_sim_" + secrets.token_hex(4))
    parser.add_argument("--aes", action="store_true",
                        help="safe mode with WECHAT_ENCODING_AES_KEY (must be set)")
    args = parser.parse_args(argv)
    if args.aes and not settings.wechat_encoding_aes_key:
        print("--aes needs WECHAT_ENCODING_AES_KEY (43 characters) in the environment or .env",
              file=sys.stderr)
        return 2
    sim = WeChatSimulator(args.url, settings.wechat_token, settings.wechat_app_id,
                          settings.wechat_encoding_aes_key if args.aes else "")
    check = sim.verify()
    if check.status != 200:
        print(f"URL verification failed ({check.status}): is the server running at {args.url} "
              f"with the same WECHAT_TOKEN?", file=sys.stderr)
        return 1
    print(f"connected to {args.url} as {args.openid} ({'safe' if args.aes else 'plain'} mode); "
          f"Ctrl-D to quit")
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text:
            continue
        reply = sim.say(args.openid, text)
        if reply.text is not None:
            print(f"bot> {reply.text}")
        elif reply.status == 200:
            print("bot> (answered later through the customer-service API)")
        else:
            print(f"bot> HTTP {reply.status}: {reply.body}")
            if (reply.status == 403 and not args.aes and settings.wechat_encoding_aes_key
                    and not settings.wechat_compat_mode):
                print("(the server is in safe mode and refuses plain messages: use --aes)",
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
