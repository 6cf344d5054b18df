"""Tracking-number recognition and check-digit validation.

Three families of China Post numbers (see ../shared/nlu-taxonomy.md):

* UPU S10: two letters, eight serial digits, a check digit, a two-letter country code.
* 13-digit EMS numbers (prefixes 10, 11, 50, 51): digit 11 is the S10 check digit of digits 3-10.
* 13-digit parcel numbers (prefixes 96, 98, 99): no public check digit, format only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
EMS13_PREFIXES = ("10", "11", "50", "51")
PARCEL13_PREFIXES = ("96", "98", "99")

# Candidates as customers type them: S10 possibly in lower case and with inner spaces,
# 13-digit numbers possibly split by spaces or dashes in groups.
S10_RE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{2})\s?(\d{4})\s?(\d{4})\s?(\d)\s?([A-Za-z]{2})(?![A-Za-z0-9])"
)
_D13_RE = re.compile(r"(?<![A-Za-z0-9\d])(\d{13})(?!\d)")


class Kind(str, Enum):
    """Which numbering scheme a tracking number follows."""

    S10 = "s10"
    EMS13 = "ems13"
    PARCEL13 = "parcel13"


@dataclass(frozen=True)
class TrackingNumber:
    """A normalised tracking number and whether its check digit holds.

    Attributes:
        value: the number in canonical form (upper case, no spaces).
        kind: which scheme it follows.
        check_ok: True when the check digit holds; None when the scheme has none.
    """

    value: str
    kind: Kind

    @property
    def check_ok(self) -> bool | None:
        """True when the check digit holds, False when not, None for a scheme without one."""
        if self.kind is Kind.S10:
            return s10_check_digit(self.value[2:10]) == int(self.value[10])
        if self.kind is Kind.EMS13:
            return s10_check_digit(self.value[2:10]) == int(self.value[10])
        return None

    @property
    def check_label(self) -> str:
        """The check as the NLU entity carries it: "valid", "invalid" or "none"."""
        check = self.check_ok
        return "none" if check is None else ("valid" if check else "invalid")

    @property
    def looks_mistyped(self) -> bool:
        """True when the number has a check digit and it is wrong (ask the customer again)."""
        return self.check_ok is False


def s10_check_digit(serial: str) -> int:
    """Return the UPU S10 check digit for an eight-digit serial.

    Args:
        serial: exactly eight digits.

    Returns:
        The check digit (0-9).
    """
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"S10 serial must be 8 digits, got {serial!r}")
    total = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS))
    check = 11 - total % 11
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def normalise(text: str) -> str:
    """Upper-case a candidate number and drop the spaces and dashes customers put in."""
    return re.sub(r"[\s\-]", "", text).upper()


def parse(text: str) -> TrackingNumber | None:
    """Classify one candidate tracking number.

    Args:
        text: the number as typed (spaces and lower case are tolerated).

    Returns:
        A TrackingNumber, or None when it matches no known format.
    """
    value = normalise(text)
    if re.fullmatch(r"[A-Z]{2}\d{9}[A-Z]{2}", value):
        return TrackingNumber(value, Kind.S10)
    if re.fullmatch(r"\d{13}", value):
        if value[:2] in EMS13_PREFIXES:
            return TrackingNumber(value, Kind.EMS13)
        if value[:2] in PARCEL13_PREFIXES:
            return TrackingNumber(value, Kind.PARCEL13)
    return None


@dataclass(frozen=True)
class Found:
    """A tracking number found in free text, with its character span."""

    start: int
    end: int
    text: str
    number: TrackingNumber


def find_all(text: str) -> list[Found]:
    """Find every tracking number in a message.

    13-digit strings with an unknown prefix are not numbers we issue; they are skipped.
    """
    found: list[Found] = []
    for m in S10_RE.finditer(text):
        number = parse(m.group(0))
        if number:
            found.append(Found(m.start(), m.end(), m.group(0), number))
    for m in _D13_RE.finditer(text):
        number = parse(m.group(1))
        if number:
            found.append(Found(m.start(1), m.end(1), m.group(1), number))
    return sorted(found, key=lambda f: f.start)


def make_s10(prefix: str, serial: str, country: str = "CN") -> str:
    """Build a valid S10 number from a two-letter prefix and an eight-digit serial."""
    return f"{prefix.upper()}{serial}{s10_check_digit(serial)}{country.upper()}"


def make_ems13(prefix: str, serial: str, tail: str = "00") -> str:
    """Build a valid 13-digit EMS number: prefix (2) + serial (8) + check digit + tail (2)."""
    if prefix not in EMS13_PREFIXES or len(tail) != 2 or not tail.isdigit():
        raise ValueError(f"bad EMS prefix {prefix!r} or tail {tail!r}")
    return f"{prefix}{serial}{s10_check_digit(serial)}{tail}"
