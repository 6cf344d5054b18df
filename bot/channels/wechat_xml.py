"""WeChat's XML: a hardened parser for inbound messages and the passive text reply.

wechatpy parses through xmltodict, where a duplicated or nested field silently becomes a list
or a dict and entity declarations are not refused. Here DOCTYPE/ENTITY, comments and
processing instructions are refused before any parser sees the body, every field must appear
once and not nested (except :data:`CONTAINER_FIELDS`), and no exception message carries
customer text.

Bounds: a body is at most :data:`MAX_BODY` bytes (the channel stops reading there); ids, the
message type, ``MsgId`` and ``Event`` have fixed patterns; ``EventKey`` is at most
:data:`MAX_EVENT_KEY_CHARS` and every other field at most :data:`MAX_FIELD_CHARS` characters.
``Content`` and ``Recognition`` are bounded by the body here (the channel bounds the text it
handles). A body in UTF-8 that encodes UTF-16 surrogates (CESU-8, as some Java stacks write
emoji) is accepted: pairs are joined into their character and a lone surrogate becomes U+FFFD,
so such a message gets an answer instead of being dropped as "not UTF-8".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional
from xml.etree import ElementTree

from bot.channels.wechat_errors import Malformed, TooLarge

MAX_BODY = 64 * 1024
MAX_EVENT_KEY_CHARS = 1024   # menu keys are <= 128 bytes; VIEW events carry a URL
MAX_FIELD_CHARS = 4096       # any other field (PicUrl, Url, Title, Description, Label...)

# Fields WeChat sends as containers of sub-elements (menu scan/photo/location events, mass-send
# reports). Only these may nest; their content is not flattened into ``extra``.
CONTAINER_FIELDS = frozenset(
    {"ScanCodeInfo", "SendPicsInfo", "SendLocationInfo", "CopyrightCheckResult", "ArticleUrlResult"}
)

# openids are 28 URL-safe base64 characters, account ids "gh_" + hex; a little slack for tools.
_USER_RE = re.compile(r"[A-Za-z0-9_\-.@:]{1,128}")
_CREATE_TIME_RE = re.compile(r"\d{1,12}")  # Unix seconds
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
    if not _CREATE_TIME_RE.fullmatch(create_time):
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
        content: the text, at most 2048 UTF-8 bytes (see ``wechat_splitting.split_for_wechat``).
        create_time: Unix seconds.
    """
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content></xml>"
    )
