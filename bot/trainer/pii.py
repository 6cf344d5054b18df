"""Masking for review: personal data starred out without moving any character.

Trainers mark entities by position on the masked text, and those positions must be the
positions in the raw text; so unlike `bot.text.masking.mask_text`, every masked character
here becomes one ``*``.
"""
from __future__ import annotations

from bot.text import masking, phones


def review_text(text: str) -> str:
    """`text` with its personal data masked, every character where it was.

    ``bot.text.masking.mask_text`` rewrites a spaced or ``+86`` number into ``138****5678``,
    which moves what follows; trainers mark entities by position, so here every masked
    digit becomes one ``*`` and separators stay. A plain mobile still reads ``138****5678``,
    a landline ``0871-****9518``, an ID ``5301**********1234``. E-mail addresses, street
    addresses and names are starred in place as `bot.text.masking.mask_in_place` does:
    ``z********@qq.com``, ``寄到曲靖市麒麟区***********``, ``收件人：张**``.
    """
    chars = list(masking.mask_in_place(text))
    for pattern in (masking.ID18_RE, masking.ID15_RE):
        for m in pattern.finditer(text):
            for i in range(m.start() + 4, m.end() - 4):
                chars[i] = "*"
    for m in phones.PHONE_RE.finditer(text):
        positions = [i for i in range(m.start(), m.end()) if text[i].isdigit()]
        digits = "".join(text[i] for i in positions)
        if digits.startswith("0"):
            head = masking.area_code_length(digits)
        else:  # a mobile, perhaps after 86
            head = (len(digits) - 11) + 3
        for i in positions[head:len(positions) - 4]:
            chars[i] = "*"
    return "".join(chars)
