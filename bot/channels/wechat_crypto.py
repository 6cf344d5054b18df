"""WeChat's safe and compatible mode: AES-256-CBC with the EncodingAESKey.

``wechatpy`` provides the cipher. Its gaps are guarded here: its decryption does not validate
the padding or the length field (both are checked, and the appid compared in constant time),
and its 16-byte random prefix comes from :mod:`random` (:mod:`secrets` here).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import struct
from typing import Optional

from wechatpy.crypto import PrpCrypto

from bot.channels.wechat_errors import Forbidden, Malformed
from bot.channels.wechat_signing import NONCE_RE, TIMESTAMP_RE, sha1_signature, signatures_match
from bot.channels.wechat_xml import parse_fields


class _SecurePrpCrypto(PrpCrypto):
    """wechatpy's PrpCrypto with the 16-byte random prefix drawn from :mod:`secrets`."""

    def get_random_string(self) -> str:
        return secrets.token_hex(8)


class Crypto:
    """Safe and compatible mode for one account: AES-256-CBC, signed by ``msg_signature``."""

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
        expected = sha1_signature(self.token, timestamp, nonce, encrypt)
        if not signatures_match(expected, msg_signature):
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
        if not NONCE_RE.fullmatch(nonce) or not TIMESTAMP_RE.fullmatch(timestamp):
            raise ValueError("nonce or timestamp has unexpected characters")
        encrypt = self._prp.encrypt(reply_xml, self.app_id).decode("ascii")
        signature = sha1_signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
