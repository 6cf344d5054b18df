"""WeChat protocol modules: signatures, replay, safe-mode crypto, XML in and out, splitting,
customer text (bot/channels/wechat_*.py and bot/channels/customer_text.py).

The crypto tests use wechatpy itself as the other side of the wire (it is what WeChat's own
sample code does), so a compatibility break shows up here.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional
from xml.etree import ElementTree

import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature as wechatpy_check_signature

from bot.channels import wechat_splitting, wechat_xml
from bot.channels.customer_text import neutralise_command, numbered_choices, pick_choice
from bot.channels.wechat_crypto import Crypto
from bot.channels.wechat_errors import Forbidden, Malformed, ProtocolError, TooLarge
from bot.channels.wechat_replay import MemoryNonceStore, RedisNonceStore, ReplayGuard
from bot.channels.wechat_signing import check_signature, sha1_signature, verify_url
from bot.channels.wechat_splitting import split_for_wechat
from bot.channels.wechat_xml import MAX_BODY, InboundMessage, parse_xml, text_reply_xml

TOKEN = "postdesk_demo_token"
APP_ID = "wx1234567890abcdef"
# 43 characters of base64 = 32 bytes, as the WeChat console generates.
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"
ACCOUNT = "gh_1a2b3c4d5e6f"


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def signed(token: str = TOKEN, timestamp: str = "1700000000", nonce: str = "1320562132") -> dict:
    return {"signature": sha1_signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def text_xml(content: str = "我的快递到哪了？", msg_id: str = "24268011234567890") -> bytes:
    return (
        "<xml>\n"
        f"  <ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\n"
        f"  <FromUserName><![CDATA[{OPENID}]]></FromUserName>\n"
        "  <CreateTime>1700000000</CreateTime>\n"
        "  <MsgType><![CDATA[text]]></MsgType>\n"
        f"  <Content><![CDATA[{content}]]></Content>\n"
        f"  <MsgId>{msg_id}</MsgId>\n"
        "</xml>"
    ).encode("utf-8")


def wrap(fields: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime>{fields}</xml>"
    ).encode("utf-8")


# --------------------------------------------------------------------------- signatures


def test_sha1_signature_is_wechats_rule() -> None:
    expected = hashlib.sha1("".join(sorted([TOKEN, "1700000000", "1320562132"])).encode()).hexdigest()
    assert sha1_signature(TOKEN, "1700000000", "1320562132") == expected
    assert sha1_signature("1320562132", TOKEN, "1700000000") == expected
    wechatpy_check_signature(TOKEN, expected, "1700000000", "1320562132")  # wechatpy agrees


def test_url_verification_echoes_echostr_exactly() -> None:
    echostr = "5837397749150218421"
    assert verify_url(TOKEN, echostr=echostr, **signed()) == echostr
    odd = "abc-DEF_123~!中文"
    assert verify_url(TOKEN, echostr=odd, **signed()) == odd


@pytest.mark.parametrize("bad", [
    {"signature": "0" * 40},
    {"signature": sha1_signature("other_token", "1700000000", "1320562132")},
    {"signature": "签名不是十六进制"},   # non-ASCII: compare_digest on str would raise TypeError
    {"timestamp": "1700000001"},        # signature no longer covers the parameters
    {"nonce": "1320562133"},
])
def test_url_verification_refuses_a_bad_signature(bad: dict) -> None:
    params = {**signed(), **bad}
    with pytest.raises(Forbidden) as info:
        verify_url(TOKEN, echostr="5837397749150218421", **params)
    assert info.value.status == 403


@pytest.mark.parametrize("missing", ["signature", "timestamp", "nonce", "echostr"])
def test_url_verification_refuses_missing_parameters(missing: str) -> None:
    params = {**signed(), "echostr": "5837397749150218421"}
    for value in (None, ""):
        params[missing] = value
        with pytest.raises(Forbidden):
            verify_url(TOKEN, **params)


def test_no_token_configured_accepts_nothing() -> None:
    with pytest.raises(Forbidden):
        check_signature("", **signed(token=""))


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    params = signed()
    check_signature(TOKEN, **params)
    assert calls == [(params["signature"].encode(), params["signature"].encode())]

    calls.clear()
    with pytest.raises(Forbidden):
        check_signature(TOKEN, params["signature"][:-1] + "0", params["timestamp"], params["nonce"])
    assert len(calls) == 1

    calls.clear()
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(text_xml().decode(), "42", "1700000000")
    signature = ElementTree.fromstring(envelope).findtext("MsgSignature")
    crypto.decrypt(envelope.encode(), signature, "1700000000", "42")
    assert (signature.encode(), signature.encode()) in calls


# --------------------------------------------------------------------------- replay


def test_replay_guard_refuses_stale_and_future_timestamps() -> None:
    clock = FakeClock()
    guard = ReplayGuard(window_s=300, clock=clock)
    now = int(clock.now)
    guard.check(str(now - 300), "n1")
    guard.check(str(now + 300), "n2")
    for i, ts in enumerate((now - 301, now + 301, now - 86_400)):
        with pytest.raises(Forbidden) as info:
            guard.check(str(ts), f"fresh{i}")
        assert info.value.status == 403


@pytest.mark.parametrize("timestamp,nonce", [
    (None, "n"), ("", "n"), ("abc", "n"), ("1700000000.5", "n"), ("-1700000000", "n"),
    ("1700000000", None), ("1700000000", ""), ("1700000000", "a b"), ("1700000000", "<x>"),
    ("1700000000", "n" * 129),
])
def test_replay_guard_refuses_missing_or_malformed_values(timestamp: Optional[str], nonce: Optional[str]) -> None:
    with pytest.raises(Forbidden):
        ReplayGuard(clock=FakeClock()).check(timestamp, nonce)


def test_replay_guard_refuses_a_reused_nonce_until_the_window_has_passed() -> None:
    clock = FakeClock()
    guard = ReplayGuard(window_s=300, clock=clock)
    guard.check(str(int(clock.now)), "1320562132")
    with pytest.raises(Forbidden):                      # the same request replayed
        guard.check(str(int(clock.now)), "1320562132")
    clock.advance(299)
    with pytest.raises(Forbidden):                      # same nonce, fresh timestamp, still in window
        guard.check(str(int(clock.now)), "1320562132")
    clock.advance(2)
    guard.check(str(int(clock.now)), "1320562132")      # accepted again after the window


def test_replay_guard_remembers_a_future_timestamp_for_as_long_as_it_is_fresh() -> None:
    clock = FakeClock()
    guard = ReplayGuard(window_s=300, clock=clock)
    ts = str(int(clock.now) + 250)                     # the sender's clock is ahead
    guard.check(ts, "skewed")
    clock.advance(500)                                  # ts is still within the window ...
    with pytest.raises(Forbidden):                      # ... so its replay must still be refused
        guard.check(ts, "skewed")


def test_replay_guards_of_two_processes_share_a_store() -> None:
    clock = FakeClock()
    shared = MemoryNonceStore(clock=clock)
    first, second = ReplayGuard(clock=clock, store=shared), ReplayGuard(clock=clock, store=shared)
    first.check(str(int(clock.now)), "777")
    with pytest.raises(Forbidden):
        second.check(str(int(clock.now)), "777")


def test_memory_nonce_store_expires_keys() -> None:
    clock = FakeClock(0.0)
    store = MemoryNonceStore(clock=clock)
    assert store.add_if_absent("a", 10) is True
    assert store.add_if_absent("a", 10) is False
    clock.advance(9.9)
    assert store.add_if_absent("a", 10) is False
    clock.advance(0.2)
    assert store.add_if_absent("a", 10) is True
    assert len(store) == 1
    clock.advance(11)
    assert len(store) == 0


def test_memory_nonce_store_is_bounded_and_evicts_what_expires_first() -> None:
    clock = FakeClock(0.0)
    store = MemoryNonceStore(max_entries=3, clock=clock)
    for key, ttl in (("soon", 5), ("late", 50), ("mid", 20), ("new1", 30), ("new2", 40)):
        assert store.add_if_absent(key, ttl)
    assert len(store) == 3
    assert store.evicted == 2
    assert store.add_if_absent("late", 50) is False     # the longest-lived keys are kept
    assert store.add_if_absent("new2", 40) is False
    # Churn through many keys: the internal heap stays bounded too.
    for i in range(1000):
        store.add_if_absent(f"k{i}", 5)
        clock.advance(1)
    assert len(store) <= 3 and len(store._heap) <= 2 * store.max_entries + 1


def _hammer(store: MemoryNonceStore, keys: int, threads: int = 6) -> tuple[list[str], list[BaseException]]:
    """Add the same keys from several threads at once; return the winners and any errors."""
    wins: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker() -> None:
        barrier.wait()
        try:
            for i in range(keys):
                if store.add_if_absent(f"n{i}", 600):
                    wins.append(f"n{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                         # switch threads often: a missing lock shows
    try:
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    return wins, errors


def test_memory_nonce_store_admits_each_key_once_across_threads() -> None:
    wins, errors = _hammer(MemoryNonceStore(), keys=300)
    assert errors == []
    assert sorted(wins) == sorted(f"n{i}" for i in range(300))


def test_memory_nonce_store_stays_consistent_when_full_under_contention() -> None:
    # Races are probabilistic: several rounds make a missing lock show up reliably.
    for _ in range(20):
        store = MemoryNonceStore(max_entries=50)
        wins, errors = _hammer(store, keys=1500)
        assert errors == []
        assert len(store) == 50
        # Nothing expires here, so every admitted key is either still stored or was evicted.
        assert len(wins) == store.evicted + len(store)


class FakeRedis:
    """The part of redis.Redis the store uses: SET NX EX, with expiry on a fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.data: dict[str, tuple[str, float]] = {}
        self.calls: list[dict] = []

    def set(self, name: str, value: str, nx: bool = False, ex: Optional[int] = None) -> Optional[bool]:
        self.calls.append({"name": name, "nx": nx, "ex": ex})
        current = self.data.get(name)
        if nx and current is not None and current[1] > self.clock():
            return None
        self.data[name] = (value, self.clock() + (ex or 10**9))
        return True

    def ttl(self, name: str) -> int:
        return int(self.data[name][1] - self.clock())


@pytest.fixture
def redis_client(tmp_path: Path) -> Iterator[tuple[object, Optional[FakeClock]]]:
    """A real redis-server when one is installed, else the in-memory fake (and its clock)."""
    binary = shutil.which("redis-server")
    if binary is None:
        clock = FakeClock()
        yield FakeRedis(clock), clock
        return
    import redis

    from tests.redis_server import RedisServer

    with RedisServer(tmp_path) as url:
        client = redis.Redis.from_url(url)
        try:
            yield client, None
        finally:
            client.close()


def test_redis_nonce_store_sets_nx_with_expiry(redis_client: tuple[object, Optional[FakeClock]]) -> None:
    client, clock = redis_client
    store = RedisNonceStore(client, prefix="test:")
    assert store.add_if_absent("nonce:1", 2) is True
    assert store.add_if_absent("nonce:1", 2) is False
    assert store.add_if_absent("nonce:2", 2) is True
    assert 0 < client.ttl("test:nonce:1") <= 2  # type: ignore[attr-defined]
    if clock is not None:
        assert all(call["nx"] and call["ex"] == 2 for call in client.calls)  # type: ignore[attr-defined]
        clock.advance(2.5)
    else:
        time.sleep(2.5)
    assert store.add_if_absent("nonce:1", 2) is True


def test_replay_guard_over_redis(redis_client: tuple[object, Optional[FakeClock]]) -> None:
    client, _ = redis_client
    now = time.time()
    guard = ReplayGuard(clock=lambda: now, store=RedisNonceStore(client, prefix="guard:"))
    other_process = ReplayGuard(clock=lambda: now, store=RedisNonceStore(client, prefix="guard:"))
    guard.check(str(int(now)), "99887766")
    with pytest.raises(Forbidden):
        other_process.check(str(int(now)), "99887766")


# --------------------------------------------------------------------------- crypto


def test_safe_mode_round_trip_with_wechatpy_on_the_other_side() -> None:
    inner = text_xml("安全模式 😀 ＡＢＣ").decode()
    wechat = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    assert len(AES_KEY) == 43

    # WeChat -> us
    envelope = wechat.encrypt_message(inner, "1320562132", "1700000000")
    assert "我的" not in envelope and "安全" not in envelope
    signature = ElementTree.fromstring(envelope).findtext("MsgSignature")
    decrypted = crypto.decrypt(envelope.encode(), signature, "1700000000", "1320562132")
    assert decrypted == inner.encode("utf-8")
    assert parse_xml(decrypted).content == "安全模式 😀 ＡＢＣ"

    # us -> WeChat
    reply = text_reply_xml(OPENID, ACCOUNT, "您的邮件已妥投 ✅", 1700000001)
    body = crypto.encrypt(reply, "1320562132", "1700000001")
    assert wechat.decrypt_message(body, ElementTree.fromstring(body).findtext("MsgSignature"),
                                  "1700000001", "1320562132") == reply
    # and back through our own decrypt, which also checks the reply's signature and timestamp fields
    parsed = ElementTree.fromstring(body)
    assert parsed.findtext("TimeStamp") == "1700000001" and parsed.findtext("Nonce") == "1320562132"
    assert crypto.decrypt(body.encode(), parsed.findtext("MsgSignature"), "1700000001",
                          "1320562132").decode() == reply


def test_compatible_mode_envelope_with_plain_fields_decrypts_the_encrypted_part() -> None:
    wechat = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    inner = text_xml("真正的内容").decode()
    encrypt = ElementTree.fromstring(wechat.encrypt_message(inner, "5", "1700000000")).findtext("Encrypt")
    envelope = text_xml("明文里的假内容")[:-len(b"</xml>")] + f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    signature = sha1_signature(TOKEN, "1700000000", "5", encrypt)
    assert parse_xml(Crypto(TOKEN, AES_KEY, APP_ID).decrypt(envelope, signature, "1700000000", "5")).content == "真正的内容"


def _envelope(wechat: WeChatCrypto, nonce: str = "42", timestamp: str = "1700000000") -> tuple[str, str]:
    body = wechat.encrypt_message(text_xml().decode(), nonce, timestamp)
    root = ElementTree.fromstring(body)
    return root.findtext("Encrypt"), root.findtext("MsgSignature")


def test_tampered_encrypt_is_forbidden() -> None:
    encrypt, signature = _envelope(WeChatCrypto(TOKEN, AES_KEY, APP_ID))
    flipped = encrypt[:10] + ("A" if encrypt[10] != "A" else "B") + encrypt[11:]
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{flipped}]]></Encrypt></xml>".encode()
    with pytest.raises(Forbidden):
        Crypto(TOKEN, AES_KEY, APP_ID).decrypt(body, signature, "1700000000", "42")


def test_missing_or_wrong_msg_signature_is_forbidden() -> None:
    encrypt, signature = _envelope(WeChatCrypto(TOKEN, AES_KEY, APP_ID))
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    for bad in (None, "", "0" * 40, signature.upper()):
        with pytest.raises(Forbidden):
            crypto.decrypt(body, bad, "1700000000", "42")
    with pytest.raises(Forbidden):                      # signature over another timestamp
        crypto.decrypt(body, signature, "1700000001", "42")
    assert crypto.decrypt(body, signature, "1700000000", "42") == text_xml()


def test_correctly_signed_garbage_is_forbidden_not_a_crash() -> None:
    """Someone holding the token but not the key: every decryption failure is a 403."""
    other_key = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
    encrypt, _ = _envelope(WeChatCrypto(TOKEN, other_key, APP_ID))
    candidates = [encrypt, "AAAA", "not base64!!", base64.b64encode(b"x" * 31).decode(),
                  base64.b64encode(os.urandom(64)).decode()]
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    for value in candidates:
        body = f"<xml><Encrypt><![CDATA[{value}]]></Encrypt></xml>".encode()
        with pytest.raises(Forbidden):
            crypto.decrypt(body, sha1_signature(TOKEN, "1700000000", "42", value), "1700000000", "42")


def _encrypt_raw(plain: bytes) -> str:
    from wechatpy.crypto.base import WeChatCipher

    key = base64.b64decode(AES_KEY + "=")
    return base64.b64encode(WeChatCipher(key).encrypt(plain)).decode()


def test_padding_must_be_pkcs7_to_32_bytes() -> None:
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)

    def attempt(padding: bytes) -> bytes:
        """Encrypt random(16) + length + xml + appid + padding; the xml is sized so it all
        fills whole 32-byte blocks."""
        prefix = os.urandom(16)
        xml = text_xml()
        free = (-(len(prefix) + 4 + len(xml) + len(APP_ID) + len(padding))) % 32
        xml = xml[:-len(b"</xml>")] + b" " * free + b"</xml>"
        plain = prefix + struct.pack(">I", len(xml)) + xml + APP_ID.encode() + padding
        assert len(plain) % 32 == 0
        encrypt = _encrypt_raw(plain)
        envelope = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        return crypto.decrypt(envelope, sha1_signature(TOKEN, "1", "2", encrypt), "1", "2")

    assert parse_xml(attempt(b"\x02\x02")).content == "我的快递到哪了？"     # proper PKCS#7
    assert parse_xml(attempt(b"\x20" * 32)).content == "我的快递到哪了？"     # a whole block of it
    for padding in (b"X\x02", b"\x01\x03\x03", b"\x00", b"\x21" * 33):
        with pytest.raises(Forbidden):
            attempt(padding)


@pytest.mark.parametrize("sender_app_id", ["wx0000000000000000", APP_ID + "x", APP_ID[:-1], ""])
def test_wrong_appid_tail_is_forbidden(sender_app_id: str) -> None:
    encrypt, signature = _envelope(WeChatCrypto(TOKEN, AES_KEY, sender_app_id))
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    with pytest.raises(Forbidden):
        Crypto(TOKEN, AES_KEY, APP_ID).decrypt(body, signature, "1700000000", "42")


def test_envelope_without_encrypt_or_with_a_doctype_is_malformed() -> None:
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    with pytest.raises(Malformed):
        crypto.decrypt(text_xml(), "x" * 40, "1700000000", "42")
    with pytest.raises(Malformed):
        crypto.decrypt(b'<!DOCTYPE x [<!ENTITY e "y">]><xml><Encrypt>&e;</Encrypt></xml>', "x", "1", "2")
    with pytest.raises(TooLarge):
        crypto.decrypt(b"<xml><Encrypt>" + b"A" * MAX_BODY + b"</Encrypt></xml>", "x", "1", "2")


@pytest.mark.parametrize("key", ["", "short", AES_KEY + "A", AES_KEY[:-1] + "*"])
def test_crypto_refuses_a_bad_encoding_aes_key(key: str) -> None:
    with pytest.raises(ValueError):
        Crypto(TOKEN, key, APP_ID)


def test_crypto_requires_token_and_app_id() -> None:
    for token, app_id in (("", APP_ID), (TOKEN, "")):
        with pytest.raises(ValueError):
            Crypto(token, AES_KEY, app_id)


def test_encrypt_refuses_values_that_would_break_the_envelope() -> None:
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    with pytest.raises(ValueError):
        crypto.encrypt("<xml/>", "]]><x>", "1700000000")
    with pytest.raises(ValueError):
        crypto.encrypt("<xml/>", "42", "soon")


def test_encryption_is_randomised() -> None:
    crypto = Crypto(TOKEN, AES_KEY, APP_ID)
    first = ElementTree.fromstring(crypto.encrypt("<xml/>", "1", "1700000000")).findtext("Encrypt")
    second = ElementTree.fromstring(crypto.encrypt("<xml/>", "1", "1700000000")).findtext("Encrypt")
    assert first != second


# --------------------------------------------------------------------------- parsing


def test_parse_text_message() -> None:
    message = parse_xml(text_xml())
    assert message == InboundMessage(
        to_user=ACCOUNT, from_user=OPENID, create_time=1700000000, msg_type="text",
        msg_id="24268011234567890", content="我的快递到哪了？", extra={},
    )
    assert message.dedup_key == "24268011234567890"
    with pytest.raises(TypeError):
        message.extra["x"] = "y"  # type: ignore[index]


def test_parse_voice_with_recognition() -> None:
    message = parse_xml(wrap(
        "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[media_id_voice]]></MediaId>"
        "<Format><![CDATA[amr]]></Format><MediaId16K><![CDATA[media_16k]]></MediaId16K>"
        "<Recognition><![CDATA[查一下我的包裹]]></Recognition><MsgId>1234567890123456</MsgId>"
    ))
    assert (message.msg_type, message.recognition, message.content) == ("voice", "查一下我的包裹", None)
    assert dict(message.extra) == {"MediaId": "media_id_voice", "Format": "amr", "MediaId16K": "media_16k"}


def test_parse_image_location_and_link() -> None:
    image = parse_xml(wrap(
        "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz.qpic.cn/abc]]></PicUrl>"
        "<MediaId><![CDATA[media_id_pic]]></MediaId><MsgId>1234567890123457</MsgId>"
    ))
    assert image.msg_type == "image"
    assert image.extra == {"PicUrl": "http://mmbiz.qpic.cn/abc", "MediaId": "media_id_pic"}

    location = parse_xml(wrap(
        "<MsgType><![CDATA[location]]></MsgType><Location_X>25.040609</Location_X>"
        "<Location_Y>102.712251</Location_Y><Scale>15</Scale>"
        "<Label><![CDATA[云南省昆明市五华区东风西路]]></Label><MsgId>1234567890123458</MsgId>"
    ))
    assert location.msg_type == "location"
    assert location.extra["Location_X"] == "25.040609" and location.extra["Label"] == "云南省昆明市五华区东风西路"

    link = parse_xml(wrap(
        "<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[邮件查询]]></Title>"
        "<Description><![CDATA[EMS 跟踪]]></Description><Url><![CDATA[https://example.com/a?b=1&c=2]]></Url>"
        "<MsgId>1234567890123459</MsgId>"
    ))
    assert link.extra == {"Title": "邮件查询", "Description": "EMS 跟踪", "Url": "https://example.com/a?b=1&c=2"}


def test_parse_events_and_their_dedup_key() -> None:
    subscribe = parse_xml(wrap("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"))
    assert (subscribe.msg_type, subscribe.event, subscribe.event_key, subscribe.msg_id) == ("event", "subscribe", None, None)
    assert subscribe.dedup_key == f"{OPENID}:1700000000"

    scan = parse_xml(wrap(
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
        "<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>"
    ))
    assert scan.event_key == "qrscene_123123" and scan.extra == {"Ticket": "TICKET"}

    unsubscribe = parse_xml(wrap("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>"))
    assert unsubscribe.event == "unsubscribe"

    click = parse_xml(wrap(
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
        "<EventKey><![CDATA[MENU_TRACK_MAIL]]></EventKey>"
    ))
    assert (click.event, click.event_key) == ("CLICK", "MENU_TRACK_MAIL")
    later = parse_xml(wrap(
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>"
        "<EventKey><![CDATA[MENU_TRACK_MAIL]]></EventKey>"
    ).replace(b"1700000000", b"1700000009"))
    assert later.dedup_key != click.dedup_key


def test_container_fields_of_menu_events_are_accepted_and_not_flattened() -> None:
    message = parse_xml(wrap(
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[scancode_push]]></Event>"
        "<EventKey><![CDATA[SCAN]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType>"
        "<ScanResult><![CDATA[9876543210123]]></ScanResult></ScanCodeInfo>"
    ))
    assert message.event == "scancode_push" and "ScanCodeInfo" not in message.extra


def test_empty_content_is_an_empty_string() -> None:
    assert parse_xml(text_xml("")).content == ""
    assert parse_xml(wrap("<MsgType>text</MsgType><Content></Content><MsgId>1</MsgId>")).content == ""
    assert parse_xml(wrap("<MsgType>text</MsgType><Content/><MsgId>1</MsgId>")).content == ""


def test_content_keeps_markup_like_text_inside_cdata() -> None:
    typed = '<!DOCTYPE x> <?php ?> &amp; <b>粗</b> /greet{"a":1}'
    assert parse_xml(text_xml(typed)).content == typed


def _no_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an XML parser was constructed for a body that should be refused first")

    monkeypatch.setattr(wechat_xml.ElementTree, "XMLParser", refuse)


def test_xxe_is_refused_before_any_parser_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-MARKER")
    bodies = [
        f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>"
        f"<MsgType>text</MsgType><Content>&xxe;</Content></xml>",
        '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><Content>x</Content></xml>',
        f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><xml/>',
        "<xml><!ENTITY e 'x'><Content>x</Content></xml>",
    ]
    _no_parser(monkeypatch)
    for body in bodies:
        with pytest.raises(Malformed) as info:
            parse_xml(body.encode())
        assert info.value.status == 400
        assert "SECRET-MARKER" not in str(info.value)


def test_billion_laughs_is_refused_before_any_parser_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    body = f"<?xml version=\"1.0\"?><!DOCTYPE lolz [{entities}]><xml><Content>&lol9;</Content></xml>"
    _no_parser(monkeypatch)
    with pytest.raises(Malformed):
        parse_xml(body.encode())


@pytest.mark.parametrize("body", [
    b"<xml><!-- comment --><MsgType>text</MsgType></xml>",
    b"<xml><?pi data?><MsgType>text</MsgType></xml>",
    b"<xml><Content><![CDATA[unterminated</Content></xml>",
])
def test_comments_processing_instructions_and_broken_cdata_are_refused(body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_xml(body)


def test_duplicated_or_nested_fields_are_malformed() -> None:
    duplicated = text_xml("第一")[:-len(b"</xml>")] + b"<Content><![CDATA[/restart]]></Content></xml>"
    nested = wrap("<MsgType>text</MsgType><Content><a>x</a></Content><MsgId>1</MsgId>")
    mixed = wrap("<MsgType>text</MsgType><Content>a<b/>c</Content><MsgId>1</MsgId>")
    twice_type = wrap("<MsgType>text</MsgType><MsgType>event</MsgType><Content>x</Content>")
    twice_sender = text_xml().replace(b"<CreateTime>", b"<FromUserName>oOther</FromUserName><CreateTime>")
    nested_sender = text_xml().replace(f"<![CDATA[{OPENID}]]>".encode(), b"<x>o1</x>")
    for body in (duplicated, nested, mixed, twice_type, twice_sender, nested_sender):
        with pytest.raises(Malformed):
            parse_xml(body)


def test_control_characters_are_stripped_but_newline_and_tab_kept() -> None:
    message = parse_xml(text_xml("第一行\x07\x1b[31m\x00\r\n第二行\t末尾\x7f\x85\x0b"))
    assert message.content == "第一行[31m\n第二行\t末尾"


def test_control_character_references_are_malformed() -> None:
    with pytest.raises(Malformed):
        parse_xml(wrap("<MsgType>text</MsgType><Content>a&#7;b</Content><MsgId>1</MsgId>"))


def test_non_utf8_is_malformed() -> None:
    with pytest.raises(Malformed):
        parse_xml(text_xml().decode().encode("gbk"))
    with pytest.raises(Malformed):
        parse_xml(text_xml().decode().encode("utf-16"))
    with pytest.raises(Malformed):
        parse_xml(b'<?xml version="1.0" encoding="GBK"?>' + text_xml())
    assert parse_xml(b'<?xml version="1.0" encoding="UTF-8"?>\n' + text_xml()).content == "我的快递到哪了？"
    assert parse_xml(b"\xef\xbb\xbf" + text_xml()).content == "我的快递到哪了？"


@pytest.mark.parametrize("body", [
    b"", b"   ", b"hello", b'{"MsgType": "text"}', b"<xml>", b"<xml></xml><xml></xml>",
    text_xml() + b"junk", b"<root><MsgType>text</MsgType></root>",
    wrap("<Content>no type</Content>"),
    text_xml().replace(b"1700000000", b"yesterday"),
    text_xml().replace(f"<![CDATA[{OPENID}]]>".encode(), b""),
    text_xml().replace(b"24268011234567890", b"1 OR 1=1"),
    text_xml().replace(b"<![CDATA[text]]>", b"<![CDATA[te xt]]>"),
])
def test_not_wechat_xml_is_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_xml(body)


def test_non_bytes_is_malformed() -> None:
    with pytest.raises(Malformed):
        parse_xml(text_xml().decode())  # type: ignore[arg-type]


def test_oversize_body_is_refused_and_the_limit_itself_accepted() -> None:
    body = text_xml()
    at_limit = body[:-len(b"</xml>")] + b" " * (MAX_BODY - len(body)) + b"</xml>"
    assert len(at_limit) == MAX_BODY
    assert parse_xml(at_limit).content == "我的快递到哪了？"
    with pytest.raises(TooLarge) as info:
        parse_xml(at_limit[:-len(b"</xml>")] + b" </xml>")
    assert info.value.status == 413
    assert isinstance(info.value, Malformed) and isinstance(info.value, ProtocolError)


def test_encoded_surrogates_are_joined_or_replaced_not_refused() -> None:
    # CESU-8: a lone high surrogate, and U+1F600 written as its two surrogates.
    lone = text_xml("查件").replace("查件".encode(), "查件".encode() + b"\xed\xa0\x80")
    pair = text_xml("好").replace("好".encode(), "好".encode() + b"\xed\xa0\xbd\xed\xb8\x80")
    assert parse_xml(lone).content == "查件\ufffd"
    assert parse_xml(pair).content == "好😀"
    with pytest.raises(Malformed):  # other invalid UTF-8 is still refused
        parse_xml(text_xml("查件").replace("查件".encode(), b"\xff\xfe"))


def event_xml(event: str, key: str = "") -> bytes:
    return wrap(f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
                f"<EventKey><![CDATA[{key}]]></EventKey>")


def test_each_field_is_bounded() -> None:
    assert parse_xml(event_xml("VIEW", "x" * wechat_xml.MAX_EVENT_KEY_CHARS)).event == "VIEW"
    with pytest.raises(Malformed):
        parse_xml(event_xml("VIEW", "x" * (wechat_xml.MAX_EVENT_KEY_CHARS + 1)))
    for event in ("", "x" * 65, "CLICK\nINFO forged log line", "<b>"):
        with pytest.raises(Malformed):
            parse_xml(event_xml(event))
    link = "<MsgType><![CDATA[link]]></MsgType><Url><![CDATA[{}]]></Url><MsgId>1</MsgId>"
    assert parse_xml(wrap(link.format("u" * wechat_xml.MAX_FIELD_CHARS))).extra["Url"]
    with pytest.raises(Malformed):
        parse_xml(wrap(link.format("u" * (wechat_xml.MAX_FIELD_CHARS + 1))))
    # Content is bounded by the body; the channel answers over MAX_TEXT_CHARS itself.
    assert len(parse_xml(text_xml("字" * 5000)).content or "") == 5000


# --------------------------------------------------------------------------- replies


ROUND_TRIP_TEXTS = [
    "你好😀👨‍👩‍👧🇨🇳 ＡＢＣ１２３，全角！",
    "",
    "a]]>b]]>]]>",
    "]]>",
    "<xml>&amp;</xml> & <Content>",
    "第一行\n第二行\t制表",
]


@pytest.mark.parametrize("content", ROUND_TRIP_TEXTS)
def test_text_reply_round_trips_through_the_parser(content: str) -> None:
    reply = text_reply_xml(OPENID, ACCOUNT, content, 1700000001)
    root = ElementTree.fromstring(reply)            # well-formed for a standard parser too
    assert root.findtext("Content") in (content, None if content == "" else content)
    message = parse_xml(reply.encode("utf-8"))
    assert (message.to_user, message.from_user, message.create_time, message.msg_type) == (
        OPENID, ACCOUNT, 1700000001, "text")
    assert message.content == content


def test_reply_drops_characters_xml_cannot_carry() -> None:
    reply = text_reply_xml(OPENID, ACCOUNT, "响铃\x07了\ufffe", 1)
    assert parse_xml(reply.encode()).content == "响铃了"


# --------------------------------------------------------------------------- splitting


def _long_reply() -> str:
    sentences = ["您的邮件已由昆明市五华区营业部揽收。", "目前正在发往蒙自市分拣中心的途中！",
                 "预计明天下午送达，请保持电话畅通？", "如有疑问请拨打11183。"]
    paragraphs = []
    for i in range(12):
        paragraphs.append("".join(sentences[(i + j) % 4] for j in range(9)))
    return "\n".join(paragraphs)


def test_split_a_long_chinese_reply_at_sentence_boundaries() -> None:
    text = _long_reply()
    assert len(text.encode("utf-8")) >= 5000
    chunks = split_for_wechat([text])
    assert len(chunks) >= 3
    assert all(len(chunk.encode("utf-8")) <= 2048 for chunk in chunks)
    assert "".join(chunks) == text
    assert all(chunk[-1] in "。！？\n" for chunk in chunks)


def test_split_prefers_paragraphs_and_keeps_closing_quotes_with_their_sentence() -> None:
    text = ("前言" * 150 + "\n") + ("他说：“好的。”" + "然后" * 40) * 20
    chunks = split_for_wechat([text], limit_bytes=1200)
    assert chunks[0].endswith("\n")
    assert "".join(chunks) == text
    assert all(not chunk.startswith("”") for chunk in chunks)
    assert all(len(chunk.encode()) <= 1200 for chunk in chunks)


@pytest.mark.parametrize("unit", ["邮件👨‍👩‍👧", "🇨🇳", "👍🏽", "1️⃣", "é"])
def test_split_never_cuts_inside_a_character_or_an_emoji(unit: str) -> None:
    text = "开" + unit * (6000 // len(unit.encode()))
    chunks = split_for_wechat([text], limit_bytes=2048)
    assert "".join(chunks) == text
    for chunk in chunks:
        assert len(chunk.encode("utf-8")) <= 2048
        assert not wechat_splitting._is_extender(chunk[0]) and chunk[0] != "\u200d" and chunk[-1] != "\u200d"
        regional = [ch for ch in chunk if wechat_splitting._is_regional(ch)]
        assert len(regional) % 2 == 0


def test_split_packs_several_bot_messages_into_few_chunks() -> None:
    assert split_for_wechat(["您好！", "", "   ", "请提供邮件号。"]) == ["您好！\n\n请提供邮件号。"]
    big = "长" * 600                                       # 1800 bytes
    assert split_for_wechat([big, big, "短"]) == [big, big + "\n\n短"]
    assert split_for_wechat([]) == []
    with pytest.raises(ValueError):
        split_for_wechat(["x"], limit_bytes=3)


def test_split_does_not_separate_a_closing_quote_from_its_sentence() -> None:
    text = "甲" * 4 + "，" + "甲" * 5 + "。”" + "乙" * 50
    chunks = split_for_wechat([text], limit_bytes=33)      # 33 bytes end right after "。"
    assert chunks[0] == "甲甲甲甲，"
    assert "".join(chunks) == text and all(not c.startswith("”") for c in chunks)


def test_split_without_any_boundary_still_respects_the_limit() -> None:
    text = "a" * 5000
    chunks = split_for_wechat([text], limit_bytes=2048)
    assert [len(c) for c in chunks] == [2048, 2048, 904]


# --------------------------------------------------------------------------- customer text


def _rasa_would_unpack(text: str) -> bool:
    # Rasa 3.6 (YAMLStoryReader.unpack_regex_message): text.strip().startswith("/")
    return text.strip().startswith("/")


@pytest.mark.parametrize("text,expected", [
    ("/greet", "greet"),
    ("／restart", "restart"),
    ('  /inform{"tracking_number":"x"}', 'inform{"tracking_number":"x"}'),
    ("//greet", "greet"),
    ("/ /restart", "restart"),
    ("\u3000／／stop", "stop"),
    ("\u200b/greet", "greet"),
    ("/", ""),
    ("查询/greet", "查询/greet"),
    ("邮件 1/2 到了吗", "邮件 1/2 到了吗"),
    ("  你好", "  你好"),
])
def test_neutralise_command(text: str, expected: str) -> None:
    result = neutralise_command(text)
    assert result == expected
    assert not _rasa_would_unpack(result)


def test_numbered_choices_and_picking_them() -> None:
    buttons = [{"title": "是", "payload": "/affirm"}, {"title": "否", "payload": "/deny"},
               {"title": "转\n人工", "payload": "/request_agent"}]
    text, choices = numbered_choices("需要为您登记投诉吗？", buttons)
    assert text == "需要为您登记投诉吗？\n1. 是\n2. 否\n3. 转 人工"
    assert choices == {"1": "/affirm", "2": "/deny", "3": "/request_agent"}
    for reply in ("1", "１", " 1 ", "一", "①", "1.", "1。", "\u30001\u3000"):
        assert pick_choice(reply, choices) == "/affirm", reply
    assert pick_choice("二", choices) == "/deny"
    assert pick_choice("3", choices) == "/request_agent"
    for reply in ("4", "0", "01x", "是", "", "1 2", "十", "一二", "/affirm", "1.5"):
        assert pick_choice(reply, choices) is None, reply


def test_numbered_choices_edge_cases() -> None:
    assert numbered_choices("文本", []) == ("文本", {})
    text, choices = numbered_choices("", [{"title": "查询"}])
    assert (text, choices) == ("1. 查询", {"1": "查询"})
    many = [{"title": f"选项{i}", "payload": f"/p{i}"} for i in range(1, 13)]
    _, choices = numbered_choices("请选择", many)
    assert pick_choice("十二", choices) == "/p12" and pick_choice("十", choices) == "/p10"
    assert pick_choice("12", choices) == "/p12"
