"""Numbers as people say them, and as a speech recognizer writes them down.

On the 11183 line a customer reads a number out: the transcript has 幺三九 for 139,
groups split by spaces (``幺五零 八七三二 九六四幺``), letters one by one
(``E A 五二六 零一八 一五二 C N``) or digits one by one (``1 1 3 8 7 7 …``).
:func:`find_runs` finds such a run and its compact form (``15087329641``,
``EA526018152CN``); the callers decide whether the compact form is a tracking or
a phone number, so a run that is neither (``一直``, ``三天``) is never anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from bot.text import phones, tracking

# Chinese digits as read out; 幺 is how 1 is said in numbers, 洞 is said for 0 on some lines.
CHINESE_DIGITS = {
    "零": "0", "〇": "0", "○": "0", "洞": "0",
    "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
    "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}
_TO_ASCII = str.maketrans({**CHINESE_DIGITS,
                           **{chr(0xFF10 + d): str(d) for d in range(10)},
                           **{chr(0xFF21 + i): chr(65 + i) for i in range(26)},
                           **{chr(0xFF41 + i): chr(97 + i) for i in range(26)}})
_UNIT = r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ" + "".join(CHINESE_DIGITS) + "]"
# A run: units, possibly separated by spaces (also the full-width one) or dashes.
_RUN_RE = re.compile(rf"{_UNIT}+(?:[ \u3000\-]+{_UNIT}+)*")
# A group inside a run: what the separators split.
_GROUP_RE = re.compile(rf"{_UNIT}+")
# The longest number looked for (a 13-digit number, an S10 with its letters, +86 mobiles).
MAX_COMPACT = 15
MIN_COMPACT = 7


@dataclass(frozen=True)
class Run:
    """A spoken or spaced-out number candidate: ``text[start:end]`` and its compact form."""

    start: int
    end: int
    compact: str


def to_ascii(text: str) -> str:
    """`text` with Chinese and full-width digits (and full-width letters) as ASCII; same length."""
    return text.translate(_TO_ASCII)


def is_unit(ch: str) -> bool:
    """Whether `ch` is one digit or letter of a number said aloud (not a separator)."""
    return bool(_GROUP_RE.fullmatch(ch))


def lay_out(original: str, replacement: str) -> str:
    """`replacement`'s characters in place of the digits and letters of `original`, each in
    the script it replaces (a Chinese digit by a Chinese digit, 幺 kept for 1 where the
    speaker said 幺), separators where they were: ``幺三六 幺二五八`` → ``幺五零 八七三二``.

    `replacement` must have one character per digit or letter of `original`.
    """
    ones = "幺" if "幺" in original else "一"
    chinese = "零" + ones + "二三四五六七八九"
    new = iter(replacement)
    out = []
    for ch in original:
        if not is_unit(ch):
            out.append(ch)
            continue
        r = next(new)
        if ch in CHINESE_DIGITS and r.isdigit():
            out.append(chinese[int(r)])
        else:
            out.append(r.lower() if ch.islower() else r)
    return "".join(out)


def find_runs(text: str) -> list[Run]:
    """Every stretch of `text` that reads as one number said aloud, with its compact form.

    Only runs that differ from plain typing are returned (they hold a Chinese or full-width
    digit, or a separator): plain ``13912345678`` is the regexes' business. For each run, the
    caller's test decides. So that a stray word at either end does not spoil the number, each
    run is offered whole and then without its first or last group, or both (``第一 1 1 3 8 …``),
    longest first; nothing shorter, so 13 digits said one by one never hide an 11-digit phone.
    """
    out: list[Run] = []
    for m in _RUN_RE.finditer(text):
        raw = m.group(0)
        if raw == to_ascii(raw) and not re.search(r"[ \u3000\-]", raw):
            continue
        groups = [(m.start() + g.start(), to_ascii(g.group(0))) for g in _GROUP_RE.finditer(raw)]
        found: list[Run] = []
        n = len(groups)
        for first, last in {(0, n), (1, n), (0, n - 1), (1, n - 1)}:
            if first >= last:
                continue
            compact = "".join(g for _, g in groups[first:last])
            if MIN_COMPACT <= len(compact) <= MAX_COMPACT:
                end = groups[last - 1][0] + len(groups[last - 1][1])
                found.append(Run(groups[first][0], end, compact))
        out += sorted(found, key=lambda r: (-len(r.compact), r.start))
    return out


@dataclass(frozen=True)
class SaidNumber:
    """A number read out: where (``text[start:end]``), what kind, and its typed form."""

    start: int
    end: int
    kind: str  # "tracking_number" or "phone_number"
    value: str
    mail: Optional[tracking.TrackingNumber] = None  # the tracking number, for that kind

    @property
    def check(self) -> Optional[str]:
        """A tracking number's check ("valid", "invalid" or "none"); None for a phone."""
        return self.mail.check_label if self.mail is not None else None


def read_numbers(text: str, taken: Sequence[tuple[int, int]] = ()) -> list[SaidNumber]:
    """The tracking and phone numbers read out in `text`, outside the spans `taken`.

    A tracking number whose check digit fails is taken only where no reading of the same
    words passes (a stray 一 before the digits must not spoil a good number); a run that
    holds a tracking number is never read as a phone number too.
    """
    readings = [(run, tracking.parse(run.compact)) for run in find_runs(text)]
    # Where some reading is a tracking number (even a mistyped one), no phone is read.
    mail_spans = [(run.start, run.end) for run, number in readings if number is not None]
    out: list[SaidNumber] = []
    busy = list(taken)
    for accept_mistyped in (False, True):
        for run, number in readings:
            if any(run.start < e and s < run.end for s, e in busy):
                continue
            said: Optional[SaidNumber] = None
            if number is not None and (accept_mistyped or not number.looks_mistyped):
                said = SaidNumber(run.start, run.end, "tracking_number", number.value, number)
            elif number is None and not any(run.start < e and s < run.end
                                            for s, e in mail_spans):
                digits = phones.normalise(run.compact)
                if digits:
                    said = SaidNumber(run.start, run.end, "phone_number", digits)
            if said is not None:
                out.append(said)
                busy.append((said.start, said.end))
    return sorted(out, key=lambda n: n.start)
