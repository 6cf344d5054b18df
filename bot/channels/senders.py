"""Conversation ids: every customer's id is namespaced by the channel that carries it.

Rasa keys a conversation (its tracker) by the sender id alone, so a REST caller who used a
WeChat openid would write into that WeChat customer's conversation. Each channel therefore
hands Rasa ``<channel>:<id>`` (``wechat:oXyz…``, ``rest:alice``), and the store, the actions
and the workbench only ever see that form.

One encoding rule, so an id travels through URLs (the workbench calls Rasa's
``/conversations/<id>/…``) exactly as it is: ids made only of ``[A-Za-z0-9_.-]`` are kept;
any other id (Chinese, spaces, ``%``, ``/``, ``<>``) is written ``~`` + URL-safe base64 of
its UTF-8 bytes, unpadded. A conversation id therefore never needs percent-encoding.
"""
from __future__ import annotations

import base64
import re
from typing import Optional

CHANNELS = ("rest", "wechat")
_PLAIN_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_URL_SAFE_RE = re.compile(r"[A-Za-z0-9_.:~\-]+")


def _encode(raw: str) -> str:
    if _PLAIN_RE.fullmatch(raw):
        return raw
    return "~" + base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(encoded: str) -> str:
    if not encoded.startswith("~"):
        return encoded
    body = encoded[1:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")


def conversation_id(channel: str, raw: str) -> str:
    """The conversation id for customer `raw` on `channel` (``rest:alice``, ``wechat:oX…``)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if not raw:
        raise ValueError("empty sender id")
    return f"{channel}:{_encode(raw)}"


def split(conversation: str) -> tuple[Optional[str], str]:
    """(channel, raw customer id) of a conversation id; (None, id) for an id of no channel."""
    channel, sep, rest = conversation.partition(":")
    if not sep or channel not in CHANNELS or not rest:
        return None, conversation
    try:
        return channel, _decode(rest)
    except (ValueError, UnicodeDecodeError):
        return None, conversation


def raw_id(conversation: str, channel: str) -> Optional[str]:
    """The customer's own id on `channel` (a WeChat openid), or None if it is not that channel's."""
    found, raw = split(conversation)
    return raw if found == channel else None


def url_safe(conversation: str) -> bool:
    """True when `conversation` goes into a URL path as it is (no percent-encoding needed).

    Every id this module makes is; so are the plain ids of conversations from before
    namespacing. "." and ".." alone are not (a path would resolve them).
    """
    return bool(_URL_SAFE_RE.fullmatch(conversation)) and conversation not in (".", "..")
