"""Mainland phone numbers in free text: mobiles and landlines with area codes."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Mobiles: 11 digits from 13x-19x, optionally as 3-4-4 groups with spaces or dashes, optional +86.
_MOBILE = r"(?:\+?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d{4}){2}"
# Landlines: 0 + 2-3 digit area code, optional dash or space, 7-8 digit local number.
_LANDLINE = r"0\d{2,3}[\s\-]?\d{7,8}"
PHONE_RE = re.compile(rf"(?<![\dA-Za-z])(?:{_MOBILE}|{_LANDLINE})(?![\dA-Za-z])")


@dataclass(frozen=True)
class FoundPhone:
    """A phone number found in text, with its span and its digits-only form."""

    start: int
    end: int
    text: str
    digits: str
    is_mobile: bool


def find_all(text: str) -> list[FoundPhone]:
    """Return every phone number in the text, in order."""
    found = []
    for m in PHONE_RE.finditer(text):
        raw = m.group(0)
        digits = re.sub(r"\D", "", raw)
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        found.append(FoundPhone(m.start(), m.end(), raw, digits, not digits.startswith("0")))
    return found


def normalise(text: str) -> str | None:
    """Digits-only form of one phone number, or None when it is not a phone number."""
    found = find_all(text.strip())
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(text.strip()):
        return found[0].digits
    return None


def the_one_in(text: str) -> str | None:
    """Digits of the single phone number somewhere in the text ("我的电话 138 1234 5678"), or
    None when there is none or more than one."""
    found = find_all(text)
    return found[0].digits if len(found) == 1 else None
