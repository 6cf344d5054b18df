"""Splitting bot replies to WeChat's limit of 2,048 UTF-8 bytes per text message.

Used for the passive reply, for the customer-service API and by the workbench when an agent's
reply goes out on WeChat.
"""
from __future__ import annotations

import unicodedata
from typing import Sequence

PASSIVE_LIMIT_BYTES = 2048

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
