"""What customers type, made safe for Rasa and mapped onto the buttons the bot offered.

Used by both channels: :func:`neutralise_command` keeps typed text from reaching Rasa as
``/intent{...}``; WeChat has no buttons, so :func:`numbered_choices` lists them as numbered
lines and :func:`pick_choice` maps the number a customer replies back to the payload.
"""
from __future__ import annotations

import unicodedata
from typing import Mapping, Optional, Sequence

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
