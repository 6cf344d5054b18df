"""Opting out by replying 退订 to the Official Account, over WeChat's real protocol (the channel
with its Rasa stand-in, tests/channels/wechat_stub.py)."""
from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from types import SimpleNamespace

from bot.channels.senders import conversation_id
from bot.channels.store import OPTED_OUT_TEXT
from bot.channels.wechat_sim import WeChatSimulator
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.proactive import VipRecord, list_vips, save_vips
from bot.store.uow import uow_factory
from tests.channels.conftest import APP_ID, TOKEN, fake_wechat, stub_channel  # noqa: F401

VIP_OPENID = "oVIP_replies_to_opt_out_01"


def _turns(stub: SimpleNamespace, openid: str) -> list[str]:
    with urllib.request.urlopen(f"{stub.base}/stub/turns", timeout=5) as r:
        return [t["text"] for t in json.loads(r.read())
                if t["sender"] == conversation_id("wechat", openid)]


def test_a_vip_replying_tuiding_is_opted_out_and_others_reach_the_bot(
        stub_channel: SimpleNamespace) -> None:  # noqa: F811
    engine = make_engine(stub_channel.database_url)
    try:
        create_schema(engine)
        uows = uow_factory(make_session_factory(engine))
        save_vips(uows, [VipRecord("云南白药电商", openid=VIP_OPENID, consent=True)],
                  datetime(2025, 6, 10, 10, 0))
        plain = WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)

        reply = plain.say(VIP_OPENID, "退订")
        assert OPTED_OUT_TEXT in reply.body
        assert _turns(stub_channel, VIP_OPENID) == []  # answered without the bot
        [vip] = list_vips(uows)
        assert vip.opted_out and vip.opted_out_at is not None and not vip.may_be_notified

        # Someone who is no VIP customer: the text goes to the bot as any other.
        plain.say("o_not_a_vip_customer_01", "退订")
        assert _turns(stub_channel, "o_not_a_vip_customer_01") == ["退订"]
    finally:
        engine.dispose()
