"""The Yunnan gazetteer of the four branches: official names, aliases and prefectures.

Facts from ../shared/domain.md. A name maps to its official form and the prefecture it lies
in. Collisions are deliberate: 红河县 is a county of 红河州, and 红河 alone means the
prefecture; Shanghai's 宝山区 is not 保山 and is not listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

QUJING = "曲靖市"
BAOSHAN = "保山市"
HONGHE = "红河哈尼族彝族自治州"
BANNA = "西双版纳傣族自治州"

# prefecture -> (its aliases, {county official name: extra aliases})
_GAZETTEER: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    QUJING: (("曲靖",), {
        "麒麟区": ("麒麟",),
        "沾益区": ("沾益", "沾益县"),
        "马龙区": ("马龙", "马龙县"),
        "陆良县": ("陆良",),
        "师宗县": ("师宗",),
        "罗平县": ("罗平",),
        "富源县": ("富源",),
        "会泽县": ("会泽",),
        "宣威市": ("宣威",),
    }),
    BAOSHAN: (("保山",), {
        "隆阳区": ("隆阳",),
        "施甸县": ("施甸",),
        "龙陵县": ("龙陵",),
        "昌宁县": ("昌宁",),
        "腾冲市": ("腾冲", "腾冲县"),
    }),
    HONGHE: (("红河州", "红河", "红河哈尼族彝族自治州"), {
        "个旧市": ("个旧",),
        "开远市": ("开远",),
        "蒙自市": ("蒙自", "蒙自县"),
        "弥勒市": ("弥勒", "弥勒县"),
        "屏边苗族自治县": ("屏边", "屏边县"),
        "建水县": ("建水",),
        "石屏县": ("石屏",),
        "泸西县": ("泸西",),
        "元阳县": ("元阳",),
        "红河县": (),
        "金平苗族瑶族傣族自治县": ("金平", "金平县"),
        "绿春县": ("绿春",),
        "河口瑶族自治县": ("河口", "河口县"),
    }),
    BANNA: (("西双版纳", "版纳", "西双版纳州", "西双版纳傣族自治州"), {
        "景洪市": ("景洪",),
        "勐海县": ("勐海",),
        "勐腊县": ("勐腊",),
    }),
}


@dataclass(frozen=True)
class Place:
    """One place of the gazetteer.

    Attributes:
        name: the official name (景洪市).
        prefecture: the official name of its prefecture (西双版纳傣族自治州); itself for a
            prefecture.
        level: "prefecture" or "county".
    """

    name: str
    prefecture: str
    level: str


@lru_cache(maxsize=1)
def aliases() -> dict[str, Place]:
    """Every surface form (official names and aliases) mapped to its place."""
    table: dict[str, Place] = {}
    for pref, (pref_aliases, counties) in _GAZETTEER.items():
        place = Place(pref, pref, "prefecture")
        for form in (pref, *pref_aliases):
            table[form] = place
        for county, extra in counties.items():
            cplace = Place(county, pref, "county")
            for form in (county, *extra):
                table[form] = cplace
    return table


def lookup(text: str) -> Place | None:
    """Return the place a surface form names, or None."""
    return aliases().get(text.strip())


def prefectures() -> list[str]:
    """Official names of the four prefectures."""
    return list(_GAZETTEER)
