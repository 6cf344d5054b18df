"""Customer text made safe for NLU and storage before anything reads it.

Every channel calls :func:`clean_text` on what a customer typed: a lone surrogate (which no
UTF-8 encoder accepts, so it killed the turn when the tracker was written) becomes U+FFFD,
full-width ASCII (ＥＡ１２３…, ｈｅｌｌｏ, ＃) folds to half-width so tracking numbers and
phones are found as typed on a Chinese keyboard, and control characters other than line
breaks and tabs are dropped. Chinese punctuation (，。？！：；) is kept: the tokenizer and
the training data use it.
"""
from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# U+FF01..U+FF5E are the full-width forms of "!".."~"; U+3000 is the ideographic space.
# Chinese punctuation that has no ASCII twin in everyday writing is left as it is.
_KEEP_FULL_WIDTH = set("，。？！：；（）")
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)
         if chr(code) not in _KEEP_FULL_WIDTH}
_FOLD[0x3000] = 0x20


def clean_text(text: str) -> str:
    """`text` with surrogates replaced, full-width ASCII folded and control characters removed."""
    text = _SURROGATE_RE.sub(REPLACEMENT, text)
    text = text.translate(_FOLD)
    return _CONTROL_RE.sub("", text)


# Unicode classes that carry nothing a request can be read from: punctuation, spaces and
# mathematical or modifier signs ("。", "？？", "……", "~~~~", "／／／"). Letters, digits,
# ideographs and emoji (class So: 👍 agrees, 😡 is cross) all carry something.
_EMPTY_CLASSES = ("P", "Z", "Sm", "Sk", "Cc", "Cf")


def punctuation_only(text: str) -> bool:
    """True when `text` has no letter, digit, ideograph or emoji: nothing to read a request in."""
    return all(unicodedata.category(c).startswith(_EMPTY_CLASSES) for c in text)
