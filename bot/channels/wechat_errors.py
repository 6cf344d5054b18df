"""The errors of WeChat's wire protocol; each carries the HTTP status the webhook answers with.

Raised by the signature, replay, XML and crypto modules (``wechat_signing``,
``wechat_replay``, ``wechat_xml``, ``wechat_crypto``) and mapped to a response by the channel
(bot/channels/wechat.py). No message of these errors carries customer text.
"""
from __future__ import annotations


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
    """A body over ``wechat_xml.MAX_BODY``; a ``Malformed`` whose HTTP answer is 413."""

    status = 413
