"""Masking of personal information (PIPL) for text that leaves the operational store.

The store keeps raw values; logs, exports, trainer views and reports show them masked:
mobile 138****5678, landline 0871-****9518, ID 5301**********1234, name 张**, address 蒙自市****.
"""
from __future__ import annotations

import re

from bot.text import gazetteer, phones

STAR = "*"
HIDDEN = STAR * 4

# Resident ID numbers: 18 characters (last may be X) with a plausible birth date, or the old 15 digits.
_ID18_RE = re.compile(
    r"(?<![\dA-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])"
)
_ID15_RE = re.compile(r"(?<![\dA-Za-z])\d{6}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])")

_PROVINCE_RE = re.compile(r"云南省|云南|[\u4e00-\u9fa5]{2,3}省|[\u4e00-\u9fa5]{2,8}?自治区")
_CITY_RE = re.compile(r"[\u4e00-\u9fa5]{2,8}?(?:市|自治州|州|地区|盟)")
_COUNTY_RE = re.compile(r"[\u4e00-\u9fa5]{1,8}?(?:区|县|旗|市)")
# Endings that look like a district but name a neighbourhood, campus or park.
_NOT_A_DISTRICT = ("小区", "社区", "园区", "校区", "景区", "街区", "厂区", "营区")

_SIGNER_ROLES = "本人|他人|门卫|前台|收发室|单位收发室|物业|保安|驿站|快递柜|智能快递柜|信报箱|家人|同事|邻居|朋友"
_SIGNER_RE = re.compile(rf"^(?P<role>{_SIGNER_ROLES})?(?P<name>.*?)(?P<suffix>代收|签收|代签)?$")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Star everything but the first `head` and last `tail` characters (all of it if too short)."""
    if len(value) <= head + tail:
        return STAR * len(value)
    return value[:head] + STAR * (len(value) - head - tail) + value[len(value) - tail:]


def _area_code_length(digits: str) -> int:
    # 010 and 02x are the only three-digit area codes; all others have four digits.
    return 3 if digits.startswith(("010", "02")) else 4


def mask_phone(phone: str) -> str:
    """Mask a mobile or landline number.

    Args:
        phone: the number as typed, e.g. "13812345678", "+86 138 1234 5678", "0871-63019518".

    Returns:
        "138****5678" for a mobile, "0871-****9518" for a landline; for anything else
        every digit but the last four is starred.
    """
    digits = _digits(phone)
    if re.fullmatch(r"(?:0{0,2}86)?1[3-9]\d{9}", digits):
        mobile = digits[-11:]
        return f"{mobile[:3]}****{mobile[7:]}"
    if re.fullmatch(r"0\d{9,11}", digits):
        cut = _area_code_length(digits)
        area, local = digits[:cut], digits[cut:]
        if 7 <= len(local) <= 8:
            return f"{area}-{_keep_ends(local, 0, 4)}"
    return _keep_ends(digits, 0, 4) if digits else _keep_ends(phone, 0, 4)


def mask_id(id_number: str) -> str:
    """Mask a resident ID number: "530102199001011234" -> "5301**********1234"."""
    value = re.sub(r"\s", "", id_number)
    return _keep_ends(value, 4, 4)


def mask_name(name: str) -> str:
    """Keep the first character of a name and star the rest: "张三丰" -> "张**"."""
    value = name.strip()
    if len(value) <= 1:
        return STAR * len(value)
    return value[0] + STAR * (len(value) - 1)


def mask_signer(signed_by: str) -> str:
    """Mask the name in a signature line but keep who signed in what role.

    "门卫代收" and "本人签收" stay as they are; "张三丰" -> "张**"; "同事李明代收" -> "同事李*代收".
    """
    match = _SIGNER_RE.match(signed_by.strip())
    if match is None:  # pragma: no cover - the pattern matches any single-line string
        return mask_name(signed_by)
    name = match.group("name")
    if not name:
        return signed_by.strip()
    return (match.group("role") or "") + mask_name(name) + (match.group("suffix") or "")


def _known_place_at(address: str, pos: int) -> gazetteer.Place | None:
    """The gazetteer place whose longest surface form starts at `pos`, if any."""
    table = gazetteer.aliases()
    for end in range(min(len(address), pos + max(map(len, table))), pos, -1):
        place = table.get(address[pos:end])
        if place is not None:
            return gazetteer.Place(address[pos:end], place.prefecture, place.level)
    return None


def _admin_prefix(address: str) -> int:
    """Length of the leading province / prefecture / county part of an address."""
    match = _PROVINCE_RE.match(address)
    pos = match.end() if match else 0
    city_done = False
    while pos < len(address):
        known = _known_place_at(address, pos)
        if known is not None:
            pos += len(known.name)
            if known.level == "county":
                return pos
            city_done = True
            continue
        # Outside the gazetteer: take the shortest plausible city or county name.
        patterns = (_COUNTY_RE,) if city_done else (_CITY_RE, _COUNTY_RE)
        found = [m for m in (p.match(address, pos) for p in patterns)
                 if m and not m.group(0).endswith(_NOT_A_DISTRICT)]
        if not found:
            return pos
        best = min(found, key=lambda m: m.end())
        pos = best.end()
        if best.re is _COUNTY_RE:
            return pos
        city_done = True
    return pos


def mask_address(address: str) -> str:
    """Keep the administrative part of an address down to the county/district and hide the rest.

    "蒙自市天马路12号3栋" -> "蒙自市****"; "云南省红河州蒙自市天马路12号" -> "云南省红河州蒙自市****".
    """
    value = address.strip()
    keep = _admin_prefix(value)
    return value[:keep] + (HIDDEN if keep < len(value) else "")


def mask_text(text: str) -> str:
    """Mask every phone and ID number found in free text (for logs and trainer views).

    Tracking numbers are left alone: a 13-digit mail number is neither a phone nor an ID.
    """
    text = _ID18_RE.sub(lambda m: mask_id(m.group(0)), text)
    text = _ID15_RE.sub(lambda m: mask_id(m.group(0)), text)
    return phones.PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
