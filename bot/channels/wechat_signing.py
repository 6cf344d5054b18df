"""WeChat's request signatures: the URL ``signature`` and the SHA-1 behind ``msg_signature``.

wechatpy's own comparisons are not constant time: here every signature is compared with
:func:`hmac.compare_digest`. The patterns of the signed ``timestamp`` and ``nonce`` parameters
live here too, for the replay guard and for the encrypted replies that echo them.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Optional

from bot.channels.wechat_errors import Forbidden

TIMESTAMP_RE = re.compile(r"\d{1,12}")
# WeChat's nonces are digits; URL-safe tokens are accepted too. Nothing that needs XML escaping.
NONCE_RE = re.compile(r"[A-Za-z0-9_\-.~]{1,128}")


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: the parts sorted, concatenated, SHA-1, lower-case hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    """Whether `given` is the `expected` signature, compared in constant time."""
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
    if not signatures_match(sha1_signature(token, timestamp, nonce), signature):
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
