"""The WeChat channel over real HTTP: WeChat's wire protocol in, the fake customer-service API out.

Rasa is replaced by the stand-in of tests/channels/wechat_stub.py so that timing, ordering and
delivery are exact; tests/test_server.py runs the same channel in the real Rasa server.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from types import SimpleNamespace

import pytest

from bot.channels.senders import conversation_id
from bot.channels.wechat import NON_TEXT_REPLIES, VOICE_UNCLEAR, WELCOME
from bot.channels.wechat_sim import WeChatSimulator, message_xml
from bot.channels.wechat_xml import cdata, parse_fields
from bot.store import services
from bot.store.db import make_engine, make_session_factory
from bot.store.uow import uow_factory
from bot.text.normalize import clean_text
from tests.channels.conftest import AES_KEY, APP_ID, TOKEN, wait_until
from tests.channels.fake_wechat import FakeWeChat
from tests.channels.wechat_stub import LONG
from tests import redis_server

ACCOUNT = "gh_postdesk_demo"


@pytest.fixture
def plain(stub_channel: SimpleNamespace) -> WeChatSimulator:
    return WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID)


@pytest.fixture
def safe(stub_channel: SimpleNamespace) -> WeChatSimulator:
    return WeChatSimulator(stub_channel.webhook, TOKEN, APP_ID, AES_KEY)


def turn_log(stub_channel: SimpleNamespace, openid: str) -> list[dict]:
    """The turns Rasa saw from this WeChat customer (whose conversation is wechat:<openid>)."""
    with urllib.request.urlopen(f"{stub_channel.base}/stub/turns", timeout=5) as r:
        return [t for t in json.loads(r.read()) if t["sender"] == conversation_id("wechat", openid)]


def turns(stub_channel: SimpleNamespace, sender: str) -> list[str]:
    return [t["text"] for t in turn_log(stub_channel, sender)]


def sent_to(fake: FakeWeChat, openid: str) -> list[str]:
    """What the customer-service API delivered to `openid` (the raw openid: touser)."""
    return [content for who, content, _ in fake.sent if who == openid]


def handovers(stub_channel: SimpleNamespace) -> list[services.WaitingHandover]:
    engine = make_engine(stub_channel.database_url)
    try:
        return services.list_waiting_handovers(uow_factory(make_session_factory(engine)))
    finally:
        engine.dispose()


# --- URL verification ------------------------------------------------------------------------

def test_url_verification_echoes_exactly(plain: WeChatSimulator) -> None:
    reply = plain.verify("1234567890123456789")
    assert (reply.status, reply.body) == (200, "1234567890123456789")


@pytest.mark.parametrize("query", [
    {"signature": "0" * 40, "timestamp": "1700000000", "nonce": "n1", "echostr": "x"},
    {"timestamp": "1700000000", "nonce": "n1", "echostr": "x"},
    {},
])
def test_url_verification_refuses_bad_or_missing_signatures(plain: WeChatSimulator,
                                                            query: dict) -> None:
    url = f"{plain.url}?{urllib.parse.urlencode(query)}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 403


# --- messages in and out ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["你好😀ＡＢＣ，全角！", "EA000000005CN 到哪了", "a]]>b<c>&d"])
def test_text_round_trips_in_plain_and_safe_mode(plain: WeChatSimulator, safe: WeChatSimulator,
                                                  text: str) -> None:
    for sim, openid in ((plain, "o_plain_rt"), (safe, "o_safe_rt")):
        reply = sim.say(openid, text)
        # Rasa sees the text normalised: full-width letters folded, Chinese punctuation kept.
        assert reply.status == 200 and reply.text == "收到：" + clean_text(text), reply


def test_safe_mode_reply_is_encrypted(safe: WeChatSimulator) -> None:
    reply = safe.say("o_safe_enc", "你好")
    assert "<Encrypt>" in reply.body and "收到" not in reply.body
    assert reply.text == "收到：你好"


def test_a_leading_slash_cannot_inject_intents(stub_channel: SimpleNamespace,
                                               plain: WeChatSimulator) -> None:
    for text in ("/greet", '／inform{"tracking_number":"x"}', "  /restart"):
        plain.say("o_slash", text)
    assert all(not t.startswith(("/", "／")) for t in turns(stub_channel, "o_slash"))
    assert turns(stub_channel, "o_slash")[0] == "greet"


def test_empty_text_gets_success_and_no_turn(stub_channel: SimpleNamespace,
                                             plain: WeChatSimulator) -> None:
    reply = plain.say("o_empty", "")
    assert (reply.status, reply.body) == (200, "success")
    assert turns(stub_channel, "o_empty") == []


def test_long_replies_are_split_passive_first_then_the_api(plain: WeChatSimulator,
                                                          fake_wechat: FakeWeChat) -> None:
    reply = plain.say("o_long", "长")
    assert reply.text and len(reply.text.encode()) <= 2048
    # The API chunks go out one after another: wait for all of them (as much text as is
    # missing from the passive reply), not just the first.
    missing = len(LONG) - len(reply.text)
    rest = wait_until(lambda: (lambda sent: sent if len("".join(sent)) >= missing else [])(
        sent_to(fake_wechat, "o_long")))
    assert len(rest) >= 1 and all(len(c.encode()) <= 2048 for c in rest)
    assert reply.text + "".join(rest) == LONG


def test_several_bot_messages_fit_one_passive_reply(plain: WeChatSimulator) -> None:
    reply = plain.say("o_many", "多")
    assert reply.text is not None
    assert [line for line in reply.text.split("\n") if line] == ["第1条", "第2条", "第3条"]


def test_buttons_become_numbered_choices(stub_channel: SimpleNamespace,
                                         plain: WeChatSimulator) -> None:
    reply = plain.say("o_buttons", "按钮")
    assert "1" in reply.text and "要" in reply.text and "不用" in reply.text
    plain.say("o_buttons", "１")
    assert turns(stub_channel, "o_buttons")[-1] == "/affirm"


# --- who may talk to the channel -------------------------------------------------------------

def test_forged_signature_is_refused_before_rasa(stub_channel: SimpleNamespace,
                                                 plain: WeChatSimulator) -> None:
    body = message_xml("o_forged", ACCOUNT, "你好").encode()
    reply = plain.post(body, {"signature": "f" * 40, "timestamp": str(int(time.time())),
                              "nonce": "forged1"})
    assert reply.status == 403
    assert turns(stub_channel, "o_forged") == []


def test_wrong_appid_is_refused(stub_channel: SimpleNamespace) -> None:
    other = WeChatSimulator(stub_channel.webhook, TOKEN, "wx_someone_else00", AES_KEY)
    reply = other.say("o_other_app", "你好")
    assert reply.status == 403
    assert turns(stub_channel, "o_other_app") == []


def test_stale_timestamp_and_reused_nonce_are_refused(stub_channel: SimpleNamespace,
                                                      plain: WeChatSimulator) -> None:
    stale = plain.say("o_replay", "旧消息", timestamp=str(int(time.time()) - 3600))
    assert stale.status == 403
    first = plain.say("o_replay", "新消息", nonce="replaynonce42")
    again = plain.say("o_replay", "又一条", nonce="replaynonce42")
    assert first.status == 200 and again.status == 403
    assert turns(stub_channel, "o_replay") == ["新消息"]


def test_the_same_msgid_three_times_is_one_turn_and_one_answer(
        stub_channel: SimpleNamespace, plain: WeChatSimulator, fake_wechat: FakeWeChat) -> None:
    xml = message_xml("o_retry", ACCOUNT, "重复消息", msg_id="8888000011112222")
    replies = [plain.send_xml(xml) for _ in range(3)]  # WeChat's retries, fresh nonces
    assert [r.status for r in replies] == [200, 200, 200]
    answered = [r.text for r in replies if r.text]
    assert answered == ["收到：重复消息"]
    time.sleep(1.5)
    assert turns(stub_channel, "o_retry") == ["重复消息"]
    assert sent_to(fake_wechat, "o_retry") == []


@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>x</ToUserName",                                   # not well-formed
    b"not xml at all",
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>a</ToUserName><FromUserName>o_xxe</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>&e;</Content><MsgId>1</MsgId></xml>",  # XXE
    b"<xml><ToUserName>a</ToUserName><FromUserName>o_dup</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>a</Content><Content>b</Content><MsgId>2</MsgId></xml>",
])
def test_malformed_bodies_get_success_never_500(plain: WeChatSimulator, body: bytes) -> None:
    reply = plain.post(body, plain.signed_query())
    assert (reply.status, reply.body) == (200, "success")
    assert "root:" not in reply.body


def test_oversize_body_gets_413(plain: WeChatSimulator) -> None:
    reply = plain.post(b"<xml>" + b"a" * (65 * 1024) + b"</xml>", plain.signed_query())
    assert reply.status == 413


# --- message types and events ----------------------------------------------------------------

def test_subscribe_is_welcomed_and_unsubscribe_is_quiet(stub_channel: SimpleNamespace,
                                                        plain: WeChatSimulator) -> None:
    hello = plain.send_xml(message_xml("o_events", ACCOUNT, msg_type="event", Event="subscribe"))
    assert hello.text == WELCOME
    bye = plain.send_xml(message_xml("o_events", ACCOUNT, msg_type="event", Event="unsubscribe",
                                     create_time=int(time.time()) + 1))
    assert (bye.status, bye.body) == (200, "success")
    assert turns(stub_channel, "o_events") == []


def test_menu_clicks_map_through_the_allow_list(stub_channel: SimpleNamespace,
                                                plain: WeChatSimulator) -> None:
    plain.send_xml(message_xml("o_menu", ACCOUNT, msg_type="event", Event="CLICK",
                               EventKey="TRACK_MAIL"))
    unknown = plain.send_xml(message_xml("o_menu", ACCOUNT, msg_type="event", Event="CLICK",
                                         EventKey="DROP_TABLES", create_time=int(time.time()) + 5))
    assert (unknown.status, unknown.body) == (200, "success")
    assert turns(stub_channel, "o_menu") == ["/track_mail"]


def test_voice_uses_the_recognition(stub_channel: SimpleNamespace, plain: WeChatSimulator) -> None:
    heard = plain.send_xml(message_xml("o_voice", ACCOUNT, msg_type="voice", MediaId="m1",
                                       Format="amr", Recognition="我的快递到哪了"))
    assert heard.text == "收到：我的快递到哪了"
    unclear = plain.send_xml(message_xml("o_voice", ACCOUNT, msg_type="voice", MediaId="m2",
                                         Format="amr", Recognition=""))
    assert unclear.text == VOICE_UNCLEAR


@pytest.mark.parametrize("kind, fields", [
    ("image", {"PicUrl": "http://mmbiz.example/p.jpg", "MediaId": "img1"}),
    ("location", {"Location_X": "22.00", "Location_Y": "100.79", "Scale": "15",
                  "Label": "景洪市勐泐大道"}),
    ("link", {"Title": "物流截图", "Description": "看一下", "Url": "http://example.com/x"}),
])
def test_media_gets_a_polite_reply_and_is_kept_for_an_agent(
        stub_channel: SimpleNamespace, plain: WeChatSimulator, kind: str, fields: dict) -> None:
    openid = f"o_media_{kind}"
    reply = plain.send_xml(message_xml(openid, ACCOUNT, msg_type=kind, **fields))
    assert reply.text == NON_TEXT_REPLIES[kind]
    kept = [h for h in handovers(stub_channel) if h.sender_id == conversation_id("wechat", openid)]
    assert len(kept) == 1 and kept[0].reason == f"wechat_{kind}"
    assert turns(stub_channel, openid) == []


# --- slow turns, ordering, the API -----------------------------------------------------------

def test_a_slow_turn_answers_success_then_delivers_through_the_api(
        plain: WeChatSimulator, fake_wechat: FakeWeChat) -> None:
    reply = plain.say("o_slow", "慢2")  # a 2 s turn; the passive window is 1 s here
    assert (reply.status, reply.body) == (200, "success")
    assert wait_until(lambda: sent_to(fake_wechat, "o_slow")) == ["慢回复：慢2"]


def test_one_customers_messages_are_handled_in_order(stub_channel: SimpleNamespace,
                                                     plain: WeChatSimulator) -> None:
    slow = threading.Thread(target=plain.say, args=("o_order", "慢1.5"))
    slow.start()
    time.sleep(0.3)
    quick = plain.say("o_order", "快")
    slow.join(10)
    assert quick.status == 200
    # "快" waited for "慢1.5" to finish, even though it arrived while that turn was running.
    def both_finished() -> list[dict]:
        log = turn_log(stub_channel, "o_order")
        return log if len(log) == 2 and all(t["finished"] for t in log) else []

    done = wait_until(both_finished)
    assert [t["text"] for t in done] == ["慢1.5", "快"]
    assert done[1]["started"] >= done[0]["finished"]


def test_concurrent_slow_turns_fetch_one_token(plain: WeChatSimulator,
                                               fake_wechat: FakeWeChat) -> None:
    before = fake_wechat.token_fetches
    senders = [threading.Thread(target=plain.say, args=(f"o_conc{k}", "慢1.2")) for k in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(10)
    assert wait_until(lambda: all(sent_to(fake_wechat, f"o_conc{k}") for k in range(4)))
    assert fake_wechat.token_fetches - before <= 1


def test_an_expired_token_is_renewed_and_the_reply_delivered_once(
        plain: WeChatSimulator, fake_wechat: FakeWeChat) -> None:
    plain.say("o_warm", "慢1.2")  # make sure a token is cached
    assert wait_until(lambda: sent_to(fake_wechat, "o_warm"))
    fake_wechat.expire_token()
    plain.say("o_expired", "慢1.2")
    assert wait_until(lambda: sent_to(fake_wechat, "o_expired")) == ["慢回复：慢1.2"]


def test_a_closed_reply_window_flags_the_conversation_for_an_agent(
        stub_channel: SimpleNamespace, plain: WeChatSimulator, fake_wechat: FakeWeChat) -> None:
    fake_wechat.fail_next(45015)
    plain.say("o_window", "慢1.2")
    flagged = wait_until(lambda: [h for h in handovers(stub_channel)
                                  if h.sender_id == "wechat:o_window"])
    assert flagged and flagged[0].reason == "wechat_window_closed"
    assert sent_to(fake_wechat, "o_window") == []


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")
def test_the_same_msgid_at_two_processes_is_one_turn(fake_wechat: FakeWeChat, tmp_path) -> None:
    from tests.channels.conftest import start_stub, stop

    with redis_server.RedisServer(tmp_path) as redis_url:
        database_url = f"sqlite:///{tmp_path / 'shared.db'}"
        first, a = start_stub(fake_wechat, tmp_path, redis_url, database_url)
        second, b = start_stub(fake_wechat, tmp_path, redis_url, database_url)
        try:
            xml = message_xml("o_two_procs", ACCOUNT, "两台服务器", msg_id="7777000011112222")
            replies = [WeChatSimulator(urls.webhook, TOKEN, APP_ID).send_xml(xml)
                       for urls in (a, b, a, b)]
            assert [r.text for r in replies if r.text] == ["收到：两台服务器"]
            assert turns(a, "o_two_procs") + turns(b, "o_two_procs") == ["两台服务器"]
            # A nonce used at one process is refused at the other.
            sim_a, sim_b = (WeChatSimulator(u.webhook, TOKEN, APP_ID) for u in (a, b))
            assert sim_a.say("o_two_procs", "一", nonce="sharednonce1").status == 200
            assert sim_b.say("o_two_procs", "二", nonce="sharednonce1").status == 403
        finally:
            stop(first)
            stop(second)


def test_redis_down_still_answers_and_tells_the_operator(fake_wechat: FakeWeChat, tmp_path) -> None:
    from tests.channels.conftest import start_stub, stop

    proc, urls = start_stub(fake_wechat, tmp_path, redis_url="redis://127.0.0.1:1/0")
    try:
        sim = WeChatSimulator(urls.webhook, TOKEN, APP_ID)
        xml = message_xml("o_no_redis", ACCOUNT, "还在吗", msg_id="6666000011112222")
        replies = [sim.send_xml(xml) for _ in range(2)]
        assert [r.text for r in replies if r.text] == ["收到：还在吗"]  # duplicates still caught
    finally:
        stop(proc)
    logs = "".join(p.read_text() for p in tmp_path.glob("stub-*.log"))
    assert "redis unavailable" in logs


def test_the_simulator_command_chats_through_the_real_protocol(
        stub_channel: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import io

    from bot.channels import wechat_sim

    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setattr("sys.stdin", io.StringIO("你好\n\n查一下EA000000005CN\n"))
    assert wechat_sim.main(["--url", stub_channel.webhook, "--openid", "o_sim_cli"]) == 0
    out = capsys.readouterr().out
    assert "bot> 收到：你好" in out and "bot> 收到：查一下EA000000005CN" in out
    monkeypatch.setenv("WECHAT_TOKEN", "wrong-token")
    assert wechat_sim.main(["--url", stub_channel.webhook]) == 1


def test_a_turn_survives_the_webhook_request_being_dropped(plain: WeChatSimulator,
                                                           fake_wechat: FakeWeChat) -> None:
    impatient = WeChatSimulator(plain.url, TOKEN, APP_ID, timeout=0.3)
    with pytest.raises(OSError):  # the client hangs up before any answer
        impatient.say("o_dropped", "慢0.6")  # shorter than the 1 s passive window
    # Nobody waits for the passive reply any more: the turn finishes and goes through the API.
    assert wait_until(lambda: sent_to(fake_wechat, "o_dropped")) == ["慢回复：慢0.6"]


def test_compatible_mode_trusts_only_the_encrypted_part(stub_channel: SimpleNamespace,
                                                        safe: WeChatSimulator) -> None:
    # Compatible mode: the plaintext fields travel next to <Encrypt>; only the latter counts.
    inner = message_xml("o_compat", ACCOUNT, "真的内容")
    signed = safe.signed_query()
    wrapped = parse_fields(safe.crypto.encrypt(inner, signed["nonce"],
                                                  signed["timestamp"]).encode())
    plaintext = message_xml("o_compat", ACCOUNT, "/restart 假的内容")[len("<xml>"):-len("</xml>")]
    body = f"<xml>{plaintext}<Encrypt>{cdata(wrapped['Encrypt'])}</Encrypt></xml>"
    signed.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
    reply = safe.post(body.encode(), signed)
    assert reply.status == 200 and reply.text == "收到：真的内容"
    assert turns(stub_channel, "o_compat") == ["真的内容"]
