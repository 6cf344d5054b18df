"""Chinese text as a sequence of toneless pinyin syllables, for features that hear rather than read.

A speech recognizer writes 快第 for 快递 and 邮正 for 邮政; customers type 我的kuaidi or whole
requests in pinyin. Characters differ in each case, the sounds do not: the linear intent model
(`bot.nlu.intent_blend`) reads syllable n-grams beside its character and word n-grams.

Each character is read on its own (its first reading, no tone): a homophone typo then gives the
same syllable whatever its neighbours, which phrase-level readings would not guarantee. Runs of
Latin letters are split into syllables where they are pinyin ("baoguo" → bao guo) and kept whole
otherwise ("EMS" → ems).
"""
from __future__ import annotations

import functools
import re
from typing import FrozenSet, List

_TOKEN_RE = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]+|\s+|.", re.S)
_MAX_SYLLABLE = 6  # zhuang, shuang, chuang


@functools.lru_cache(maxsize=None)
def _reading(char: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(char)[0]


@functools.lru_cache(maxsize=1)
def syllables() -> FrozenSet[str]:
    """Every toneless syllable of the common CJK block (about 400)."""
    readings = (_reading(chr(c)) for c in range(0x4E00, 0x9FA6))
    return frozenset(r for r in readings if r.isascii() and r.isalpha())


@functools.lru_cache(maxsize=4096)
def split_latin(run: str) -> List[str]:
    """`run` (lowercase letters) as the fewest pinyin syllables, or whole if it is no pinyin."""
    known = syllables()
    best: List[List[str] | None] = [[]] + [None] * len(run)
    for end in range(1, len(run) + 1):
        for start in range(max(0, end - _MAX_SYLLABLE), end):
            head = best[start]
            if head is not None and run[start:end] in known:
                current = best[end]
                if current is None or len(head) + 1 < len(current):
                    best[end] = head + [run[start:end]]
    found = best[len(run)]
    return list(found) if found is not None and len(run) > 1 else [run]


def to_pinyin(text: str) -> str:
    """`text` as space-separated toneless syllables; other characters stay as they are (letters
    lowercased), spaces are dropped ("快第 到了吗 baoguo" → "kuai di dao le ma bao guo")."""
    out: List[str] = []
    for token in _TOKEN_RE.findall(text):
        if token.isspace():
            continue
        if "\u4e00" <= token <= "\u9fff":
            out.append(_reading(token))
        elif token.isascii() and token.isalpha():
            out.extend(split_latin(token.lower()))
        else:
            out.append(token)
    return " ".join(out)
