"""to_pinyin: what the linear intent model hears in a message."""
from __future__ import annotations

import pytest

from bot.text.pinyin import split_latin, syllables, to_pinyin


def test_characters_become_toneless_syllables_and_spaces_go() -> None:
    assert to_pinyin("快递 到了吗") == "kuai di dao le ma"


@pytest.mark.parametrize("typed, meant", [
    ("快第到了吗", "快递到了吗"),      # a speech recognizer's homophone
    ("邮正的包裹", "邮政的包裹"),
    ("我的kuaidi到了吗", "我的快递到了吗"),  # pinyin typed in the middle
    ("wo de baoguo", "我的包裹"),
    ("KUAIDI", "快递"),
])
def test_what_sounds_the_same_reads_the_same(typed: str, meant: str) -> None:
    assert to_pinyin(typed) == to_pinyin(meant)


def test_a_character_is_read_alone_so_a_typo_does_not_change_its_neighbours() -> None:
    # 没 read alone is "mei"; read as the phrase 没收 ("confiscate") it would be "mo"
    assert to_pinyin("没收到") == "mei shou dao"
    assert to_pinyin("美收到") == "mei shou dao"


def test_latin_that_is_no_pinyin_stays_whole() -> None:
    assert split_latin("ems") == ["ems"]
    assert to_pinyin("EMS ok 顺丰") == "ems ok shun feng"
    assert split_latin("a") == ["a"]  # one letter is a letter, not the syllable "a"


def test_pinyin_splits_into_the_fewest_syllables() -> None:
    assert split_latin("xian") == ["xian"]  # not xi an
    assert split_latin("zhuangxiang") == ["zhuang", "xiang"]
    assert {"zhuang", "shuang", "lü", "a", "er"} - syllables() == {"lü"}  # ü is not ascii


def test_digits_symbols_and_emoji_pass_through() -> None:
    assert to_pinyin("Ⓝ 3天了😡") == "Ⓝ 3 tian le 😡"
