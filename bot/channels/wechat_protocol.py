"""The WeChat Official Account wire protocol, without Rasa and without network.

Signatures (URL verification and ``msg_signature``), replay protection (stale timestamps,
reused nonces), safe/compatible mode AES, a hardened XML parser for inbound messages, the
passive text reply, and the text helpers the channel needs (splitting to WeChat's byte limit,
neutralising Rasa's ``/intent`` syntax, numbered choices for buttons).

``wechatpy`` provides the AES cipher and the reference message format. Its known gaps are
guarded here: its signature comparisons are not constant time (``hmac.compare_digest`` is used
instead), its XML goes through xmltodict (a duplicated or nested field silently becomes a list
or a dict; entity declarations are not refused), its decryption does not validate the padding
or the length field, its random prefix comes from :mod:`random`, and it never checks
timestamps. Nothing here runs at import time, and no exception message carries customer text.

Bounds: a body is at most :data:`MAX_BODY` bytes (the channel stops reading there); ids, the
message type, ``MsgId`` and ``Event`` have fixed patterns; ``EventKey`` is at most
:data:`MAX_EVENT_KEY_CHARS` and every other field at most :data:`MAX_FIELD_CHARS` characters.
``Content`` and ``Recognition`` are bounded by the body here; the channel answers text over
:data:`MAX_TEXT_CHARS` with a request to split it (like the REST channel's 2,000 characters).
A body in UTF-8 that encodes UTF-16 surrogates (CESU-8, as some Java stacks write emoji) is
accepted: pairs are joined into their character and a lone surrogate becomes U+FFFD, so such
a message gets an answer instead of being dropped as "not UTF-8".
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import re
import secrets
import struct
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence
from xml.etree import ElementTree

from wechatpy.crypto import PrpCrypto

MAX_BODY = 64 * 1024
MAX_TEXT_CHARS = 2000        # a text message (or voice recognition) the bot handles
MAX_EVENT_KEY_CHARS = 1024   # menu keys are <= 128 bytes; VIEW events carry a URL
MAX_FIELD_CHARS = 4096       # any other field (PicUrl, Url, Title, Description, Label...)
PASSIVE_LIMIT_BYTES = 2048
DEFAULT_REPLAY_WINDOW_S = 300

# Fields WeChat sends as containers of sub-elements (menu scan/photo/location events, mass-send
# reports). Only these may nest; their content is not flattened into ``extra``.
CONTAINER_FIELDS = frozenset(
    {"ScanCodeInfo", "SendPicsInfo", "SendLocationInfo", "CopyrightCheckResult", "ArticleUrlResult"}
)

# openids are 28 URL-safe base64 characters, account ids "gh_" + hex; a little slack for tools.
_USER_RE = re.compile(r"[A-Za-z0-9_\-.@:]{1,128}")
_TIMESTAMP_RE = re.compile(r"\d{1,12}")
# WeChat's nonces are digits; URL-safe tokens are accepted too. Nothing that needs XML escaping.
_NONCE_RE = re.compile(r"[A-Za-z0-9_\-.~]{1,128}")
_MSGID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_EVENT_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
_DECLARATION_RE = re.compile(r"\A<\?xml\s[^<>?]*\?>")
_ENCODING_RE = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
# C0 controls that XML 1.0 forbids outright (tab, newline and carriage return are allowed).
_RAW_FORBIDDEN_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Controls removed from every value after parsing (keeps \n and \t; \r is normalised first).
_VALUE_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that may not appear in an XML 1.0 document at all (for the replies we write).
_XML_INVALID_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class ProtocolError(Exception):
    """A request that does not follow WeChat's protocol; ``status`` is the HTTP answer."""

    status = 400


class Forbidden(ProtocolError):
    """Unverifiable: bad or missing signature, wrong appid, stale timestamp, reused nonce."""

    status = 403


class Malformed(ProtocolError):
    """Verifiable but unusable body; the channel answers ``success`` and logs a line."""

    status = 400


class TooLarge(Malformed):
    """A body over :data:`MAX_BODY`; a ``Malformed`` whose HTTP answer is 413."""

    status = 413


# --------------------------------------------------------------------------- signatures


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: the parts sorted, concatenated, SHA-1, lower-case hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str (a forged signature could be anything).
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogatepass"))


def check_signature(
    token: str, signature: Optional[str], timestamp: Optional[str], nonce: Optional[str]
) -> None:
    """Check the ``signature`` query parameter of a webhook request in constant time.

    Raises:
        Forbidden: the token is not configured, a parameter is missing, or the signature is wrong.
    """
    if not token or not signature or not timestamp or not nonce:
        raise Forbidden("missing signature parameters")
    if not _same(sha1_signature(token, timestamp, nonce), signature):
        raise Forbidden("bad signature")


def verify_url(
    token: str,
    signature: Optional[str],
    timestamp: Optional[str],
    nonce: Optional[str],
    echostr: Optional[str],
) -> str:
    """Answer WeChat's URL verification (GET): return ``echostr`` exactly when signed.

    Raises:
        Forbidden: a parameter is missing or the signature is wrong.
    """
    check_signature(token, signature, timestamp, nonce)
    if not echostr:
        raise Forbidden("missing echostr")
    return echostr


# --------------------------------------------------------------------------- replay


class NonceStore(Protocol):
    """Remembers keys for a while; the first ``add_if_absent`` of a key wins."""

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when it is already there."""
        ...


class MemoryNonceStore:
    """In-process, thread-safe, expiring set of keys with a bound on its size.

    When full of unexpired keys, the key closest to expiry is evicted (and counted in
    ``evicted``): memory stays bounded, and only signed requests get this far, so the cost of
    an eviction is a shorter replay memory under a flood, not refused customers.
    """

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty store.

        Args:
            max_entries: the most keys kept at once.
            clock: seconds, for expiry (monotonic by default).
        """
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.evicted = 0
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires:
                del self._expiry[key]

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when it is already there and unexpired."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            if key in self._expiry:
                return False
            while len(self._expiry) >= self.max_entries:
                expires, old = heapq.heappop(self._heap)
                if self._expiry.get(old) == expires:
                    del self._expiry[old]
                    self.evicted += 1
            expires = now + max(1, ttl_s)
            self._expiry[key] = expires
            heapq.heappush(self._heap, (expires, key))
            # Superseded heap entries of expired keys would otherwise pile up.
            if len(self._heap) > 2 * self.max_entries:
                self._heap = [(e, k) for k, e in self._expiry.items()]
                heapq.heapify(self._heap)
            return True


class RedisNonceStore:
    """Nonces shared by every process through Redis (``SET key 1 NX EX ttl``)."""

    def __init__(self, client: Any, prefix: str = "postdesk:wechat:") -> None:
        """Wrap a Redis client.

        Args:
            client: a ``redis.Redis`` (or anything with its ``set(name, value, nx=, ex=)``).
            prefix: namespace of the keys.
        """
        self._client = client
        self._prefix = prefix

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when another request stored it first.

        Redis errors propagate: the caller decides whether an unreachable store refuses requests.
        """
        return bool(self._client.set(self._prefix + key, "1", nx=True, ex=max(1, int(ttl_s))))


class ReplayGuard:
    """Refuses stale timestamps and nonces already used. Call it after the signature check,
    so forged requests cannot use up nonces."""

    def __init__(
        self,
        window_s: int = DEFAULT_REPLAY_WINDOW_S,
        clock: Callable[[], float] = time.time,
        store: Optional[NonceStore] = None,
    ) -> None:
        """Create a guard.

        Args:
            window_s: how far (either way) a request's timestamp may be from now.
            clock: wall-clock seconds (WeChat timestamps are Unix seconds).
            store: where nonces are remembered; in-process (on the same clock) by default.
        """
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self.window_s = window_s
        self._clock = clock
        self.store: NonceStore = store if store is not None else MemoryNonceStore(clock=clock)

    def check(self, timestamp: Optional[str], nonce: Optional[str]) -> None:
        """Accept a (timestamp, nonce) pair once.

        The nonce is remembered for as long as its timestamp stays acceptable
        (``timestamp + window - now``, at most twice the window), so a replay is refused
        for the whole time it could otherwise pass.

        Raises:
            Forbidden: missing or malformed values, a timestamp out of the window, a reused nonce.
        """
        if not timestamp or not _TIMESTAMP_RE.fullmatch(timestamp):
            raise Forbidden("missing or malformed timestamp")
        if not nonce or not _NONCE_RE.fullmatch(nonce):
            raise Forbidden("missing or malformed nonce")
        now = self._clock()
        ts = int(timestamp)
        if abs(now - ts) > self.window_s:
            raise Forbidden("stale timestamp")
        ttl = int(ts + self.window_s - now) + 1
        if not self.store.add_if_absent(f"nonce:{nonce}", ttl):
            raise Forbidden("reused nonce")


# --------------------------------------------------------------------------- XML in


@dataclass(frozen=True)
class InboundMessage:
    """One message or event pushed by WeChat (see WeChat's 接收普通消息 / 接收事件推送).

    ``msg_type`` is lower-cased; ``event`` keeps WeChat's spelling ("subscribe", "CLICK").
    ``extra`` holds every other simple field (PicUrl, MediaId, Format, Location_X, Label, Url...).
    """

    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: Optional[str] = None
    content: Optional[str] = None
    recognition: Optional[str] = None
    event: Optional[str] = None
    event_key: Optional[str] = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def dedup_key(self) -> str:
        """``MsgId`` for messages, ``FromUserName:CreateTime`` for events (WeChat's rule)."""
        if self.msg_id:
            return self.msg_id
        return f"{self.from_user}:{self.create_time}"


def _clean_value(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _VALUE_CONTROL_RE.sub("", value)


def _refuse_declarations(text: str) -> None:
    """Refuse DOCTYPE/ENTITY (XXE, billion laughs), comments and processing instructions.

    Outside CDATA every ``<`` starts markup, so a scan that skips CDATA sections finds every
    ``<!`` and ``<?``; a customer typing "<!DOCTYPE" inside their (CDATA) Content is fine.
    """
    pos = 0
    while True:
        start = text.find("<", pos)
        if start < 0:
            return
        if text.startswith("<![CDATA[", start):
            end = text.find("]]>", start + 9)
            if end < 0:
                raise Malformed("unterminated CDATA section")
            pos = end + 3
            continue
        if text.startswith(("<!", "<?"), start):
            raise Malformed("declarations, comments and processing instructions are refused")
        pos = start + 1


def _decode(body: bytes) -> str:
    if not isinstance(body, (bytes, bytearray)):
        raise Malformed("body must be bytes")
    if len(body) > MAX_BODY:
        raise TooLarge("body over 64 KB")
    if not body.strip():
        raise Malformed("empty body")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_surrogates(bytes(body))
    text = text.lstrip("\ufeff").lstrip()
    declaration = _DECLARATION_RE.match(text)
    if declaration:
        encoding = _ENCODING_RE.search(declaration.group(0))
        if encoding and encoding.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise Malformed("declared encoding is not UTF-8")
        text = text[declaration.end():]
    return text


def _decode_surrogates(body: bytes) -> str:
    """UTF-8 that encodes surrogates (CESU-8): pairs joined, lone ones replaced by U+FFFD."""
    try:
        text = body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_fields(body: bytes) -> dict[str, str]:
    """Parse a WeChat XML body into its top-level fields, refusing anything unusual.

    Checks, in order: size, UTF-8, no DOCTYPE/ENTITY/comment/PI (before any parser sees it),
    raw control characters stripped, one ``<xml>`` root, every field once and not nested
    (except :data:`CONTAINER_FIELDS`, which are skipped). Values keep their text exactly,
    except that ``\\r`` becomes ``\\n`` and control characters other than ``\\n``/``\\t`` go.

    Raises:
        TooLarge: over :data:`MAX_BODY`.
        Malformed: anything else wrong.
    """
    text = _decode(body)
    _refuse_declarations(text)
    text = _RAW_FORBIDDEN_RE.sub("", text)
    parser = ElementTree.XMLParser()
    try:
        parser.feed(text)
        root = parser.close()
    except ElementTree.ParseError:
        raise Malformed("not well-formed XML") from None
    if root.tag != "xml":
        raise Malformed("root element is not <xml>")
    fields: dict[str, str] = {}
    for child in root:
        name = child.tag
        if not isinstance(name, str) or name in fields:
            raise Malformed("a field is present twice")
        if len(child):
            if name not in CONTAINER_FIELDS:
                raise Malformed("a field contains elements")
            fields[name] = ""
            continue
        fields[name] = _clean_value(child.text or "")
    for name in CONTAINER_FIELDS & fields.keys():
        del fields[name]
    return fields


def parse_xml(body: bytes) -> InboundMessage:
    """Parse a plain (or decrypted) WeChat message or event.

    Raises:
        TooLarge: the body is over :data:`MAX_BODY`.
        Malformed: not UTF-8, not one ``<xml>`` root, DOCTYPE/ENTITY, a field twice or nested,
            required fields missing or invalid, a field over its bound (see the module doc).
    """
    fields = parse_fields(body)
    to_user = fields.pop("ToUserName", "").strip()
    from_user = fields.pop("FromUserName", "").strip()
    create_time = fields.pop("CreateTime", "").strip()
    msg_type = fields.pop("MsgType", "").strip().lower()
    if not _USER_RE.fullmatch(to_user) or not _USER_RE.fullmatch(from_user):
        raise Malformed("missing or invalid ToUserName/FromUserName")
    if not _TIMESTAMP_RE.fullmatch(create_time):
        raise Malformed("missing or invalid CreateTime")
    if not msg_type or not re.fullmatch(r"[a-z_]{1,32}", msg_type):
        raise Malformed("missing or invalid MsgType")
    msg_id = fields.pop("MsgId", None)
    if msg_id is not None:
        msg_id = msg_id.strip()
        if not _MSGID_RE.fullmatch(msg_id):
            raise Malformed("invalid MsgId")
    event = fields.pop("Event", None)
    if event is not None:
        event = event.strip()
        if not _EVENT_RE.fullmatch(event):
            raise Malformed("invalid Event")
    event_key = fields.pop("EventKey", None)
    if event_key is not None and len(event_key) > MAX_EVENT_KEY_CHARS:
        raise Malformed("EventKey too long")
    content = fields.pop("Content", None)
    recognition = fields.pop("Recognition", None)
    if any(len(value) > MAX_FIELD_CHARS for value in fields.values()):
        raise Malformed("a field is too long")
    return InboundMessage(
        to_user=to_user,
        from_user=from_user,
        create_time=int(create_time),
        msg_type=msg_type,
        msg_id=msg_id,
        content=content,
        recognition=recognition,
        event=event,
        event_key=event_key.strip() if event_key is not None else None,
        extra=MappingProxyType(dict(fields)),
    )


# --------------------------------------------------------------------------- crypto


class _SecurePrpCrypto(PrpCrypto):
    """wechatpy's PrpCrypto with the 16-byte random prefix drawn from :mod:`secrets`."""

    def get_random_string(self) -> str:
        return secrets.token_hex(8)


class Crypto:
    """Safe and compatible mode: AES-256-CBC with the EncodingAESKey, signed by ``msg_signature``."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        """Set up safe mode for one account.

        Args:
            token: the Token configured in the WeChat console.
            encoding_aes_key: the 43-character EncodingAESKey.
            app_id: the AppID, which WeChat appends to every encrypted message.

        Raises:
            ValueError: an empty token or appid, or a key that is not 43 characters of base64.
        """
        if not token or not app_id:
            raise ValueError("token and app_id are required for safe mode")
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise ValueError("EncodingAESKey is not base64") from None
        if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.app_id = app_id
        self._app_id_bytes = app_id.encode("utf-8")
        self._prp = _SecurePrpCrypto(key)

    def decrypt(self, body: bytes, msg_signature: Optional[str], timestamp: Optional[str],
                nonce: Optional[str]) -> bytes:
        """Verify and decrypt an encrypted request body; return the inner XML (UTF-8 bytes).

        Only the inner XML is trustworthy: in compatible mode the plain fields next to
        ``Encrypt`` are not covered by ``msg_signature``.

        Raises:
            TooLarge / Malformed: the envelope is too big or not usable XML, or has no Encrypt.
            Forbidden: missing or wrong ``msg_signature``, undecryptable content, wrong appid.
        """
        if not msg_signature or not timestamp or not nonce:
            raise Forbidden("missing msg_signature parameters")
        encrypt = parse_fields(body).get("Encrypt", "")
        if not encrypt:
            raise Malformed("no Encrypt field")
        if not _same(sha1_signature(self.token, timestamp, nonce, encrypt), msg_signature):
            raise Forbidden("bad msg_signature")
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise Forbidden("Encrypt is not base64") from None
        if not raw or len(raw) % 32:
            raise Forbidden("ciphertext length is not a multiple of 32")
        plain = self._prp.cipher.decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise Forbidden("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise Forbidden("truncated content")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise Forbidden("bad length field")
        xml, tail = content[4:4 + length], content[4 + length:]
        if not hmac.compare_digest(tail, self._app_id_bytes):
            raise Forbidden("appid mismatch")
        return xml

    def encrypt(self, reply_xml: str, nonce: str, timestamp: str) -> str:
        """Encrypt a passive reply; return the ``<xml><Encrypt/>...</xml>`` body to send.

        Raises:
            ValueError: a nonce or timestamp that could not be written safely.
        """
        if not _NONCE_RE.fullmatch(nonce) or not _TIMESTAMP_RE.fullmatch(timestamp):
            raise ValueError("nonce or timestamp has unexpected characters")
        encrypt = self._prp.encrypt(reply_xml, self.app_id).decode("ascii")
        signature = sha1_signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


# --------------------------------------------------------------------------- XML out


def cdata(value: str) -> str:
    """``value`` as CDATA, well-formed whatever it contains (``]]>`` split across sections,
    characters XML cannot carry removed)."""
    value = _XML_INVALID_RE.sub("", value)
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """The passive text reply (被动回复文本消息).

    Args:
        to_user: the customer's openid (the request's FromUserName).
        from_user: the account id (the request's ToUserName).
        content: the text, at most 2048 UTF-8 bytes (see :func:`split_for_wechat`).
        create_time: Unix seconds.
    """
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )


# --------------------------------------------------------------------------- splitting

_PARAGRAPH_ENDS = "\n"
_SENTENCE_ENDS = "。！？!?；;…"
_CLAUSE_ENDS = "，、,：: \t\u3000"
_CLOSERS = "”’」』）)】》\"'"
_JOINER = "\n\n"


def _is_extender(ch: str) -> bool:
    """True for characters that belong to the grapheme before them (emoji modifiers, marks)."""
    code = ord(ch)
    return (
        code == 0x200D                      # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F         # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF       # skin-tone modifiers
        or code == 0x20E3                   # keycap
        or 0xE0020 <= code <= 0xE007F       # tag characters (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF       # variation selectors supplement
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _splits_grapheme(text: str, start: int, i: int) -> bool:
    """True when a cut before ``text[i]`` would split an emoji sequence, a flag or a mark."""
    if i <= start or i >= len(text):
        return False
    if _is_extender(text[i]) or text[i - 1] == "\u200d":
        return True
    if _is_regional(text[i]) and _is_regional(text[i - 1]):
        run, j = 0, i - 1
        while j >= start and _is_regional(text[j]):
            run, j = run + 1, j - 1
        return run % 2 == 1
    return False


def _safe_cut(text: str, start: int, cut: int) -> int:
    """Move ``cut`` back until it does not split a grapheme; a single grapheme longer than
    the limit is cut between code points (never inside a UTF-8 sequence)."""
    i = cut
    while i > start + 1 and _splits_grapheme(text, start, i):
        i -= 1
    return cut if _splits_grapheme(text, start, i) else i


def _split_one(text: str, limit: int) -> list[str]:
    """Split one message into pieces of at most ``limit`` UTF-8 bytes; their join is ``text``."""
    pieces: list[str] = []
    start = 0
    while len(text[start:].encode("utf-8")) > limit:
        # The longest prefix from `start` within the limit, in characters.
        used, end = 0, start
        while end < len(text):
            size = len(text[end].encode("utf-8", "surrogatepass"))
            if used + size > limit:
                break
            used += size
            end += 1
        floor = start + max(1, (end - start) // 2)
        cut = 0
        for ends in (_PARAGRAPH_ENDS, _SENTENCE_ENDS, _CLAUSE_ENDS):
            for i in range(end, floor - 1, -1):
                # A break after a delimiter (and the closing quotes that follow it).
                j = i
                while j > start and text[j - 1] in _CLOSERS:
                    j -= 1
                if (j > start and text[j - 1] in ends and text[i] not in _CLOSERS
                        and not _splits_grapheme(text, start, i)):
                    cut = i
                    break
            if cut:
                break
        if not cut:
            cut = _safe_cut(text, start, end)
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def split_for_wechat(texts: Sequence[str], limit_bytes: int = PASSIVE_LIMIT_BYTES) -> list[str]:
    """Pack bot messages into as few chunks of at most ``limit_bytes`` UTF-8 bytes as possible.

    Messages that fit together are joined by a blank line; a message over the limit is cut at
    the last paragraph end, else sentence end (。！？…), else clause break past half the chunk,
    else at a character boundary that does not split an emoji sequence. The pieces of one
    message concatenate back to it exactly; empty messages are dropped.

    Raises:
        ValueError: ``limit_bytes`` below 4 (one UTF-8 character).
    """
    if limit_bytes < 4:
        raise ValueError("limit_bytes must be at least 4")
    chunks: list[str] = []
    for text in texts:
        if not text or not text.strip():
            continue
        pieces = _split_one(text, limit_bytes)
        first = pieces[0]
        if chunks and len((chunks[-1] + _JOINER + first).encode("utf-8")) <= limit_bytes:
            chunks[-1] = chunks[-1] + _JOINER + first
        else:
            chunks.append(first)
        chunks.extend(pieces[1:])
    return chunks


# --------------------------------------------------------------------------- customer text

_SLASHES = "/\uff0f"  # "/" and the full-width "／" (NFKC maps only these two to "/")


def neutralise_command(text: str) -> str:
    """Keep customer text from reaching Rasa as ``/intent{"slot": ...}``.

    Rasa treats a message whose ``strip()`` starts with "/" as an intent with entities. The
    leading run of whitespace, invisible format characters and slashes ("/", "／") is removed
    ("/查询" -> "查询", '  /inform{"x":1}' -> 'inform{"x":1}'), so the words still go through
    NLU; text without a leading slash is returned unchanged. A text of only slashes becomes "".
    """
    i = 0
    seen_slash = False
    while i < len(text):
        ch = text[i]
        if ch in _SLASHES:
            seen_slash = True
        elif not (ch.isspace() or unicodedata.category(ch) == "Cf"):
            break
        i += 1
    return text[i:] if seen_slash else text


_CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                   "六": 6, "七": 7, "八": 8, "九": 9}


def _chinese_number(text: str) -> Optional[int]:
    """一..九十九 ("十", "十二", "二十", "二十三"); None for anything else."""
    if len(text) == 1 and text in _CHINESE_DIGITS:
        return _CHINESE_DIGITS[text]
    if "十" in text and len(text) <= 3:
        tens, _, ones = text.partition("十")
        if (tens and tens not in _CHINESE_DIGITS) or (ones and ones not in _CHINESE_DIGITS):
            return None
        return _CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(ones, 0)
    return None


def numbered_choices(text: str, buttons: Sequence[Mapping[str, str]]) -> tuple[str, dict[str, str]]:
    """Turn buttons into numbered lines under ``text`` ("1. 是\\n2. 否").

    Returns:
        the text to send and a map from the number ("1") to the button's payload (its title
        when it has none).
    """
    lines: list[str] = []
    choices: dict[str, str] = {}
    for button in buttons:
        title = " ".join(str(button.get("title", "")).split())
        payload = str(button.get("payload") or title)
        if not title and not payload:
            continue
        number = str(len(choices) + 1)
        choices[number] = payload
        lines.append(f"{number}. {title or payload}")
    if not lines:
        return text, {}
    listing = "\n".join(lines)
    return (f"{text}\n{listing}" if text else listing), choices


def pick_choice(reply: str, choices: Mapping[str, str]) -> Optional[str]:
    """The payload a reply selects: "1", "１", " 1 ", "①", "一", "1." all pick choice 1.

    Returns None when the reply is not just a number among the choices.
    """
    value = unicodedata.normalize("NFKC", reply).strip().rstrip(".。、)）")
    if value.isdigit() and value.isascii():
        return choices.get(str(int(value)))
    number = _chinese_number(value)
    return choices.get(str(number)) if number is not None else None
