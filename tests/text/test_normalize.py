"""clean_text: what customer text looks like by the time NLU and the store read it; and
punctuation_only: a message with nothing to read a request in."""
from __future__ import annotations

import pytest

from bot.text.normalize import REPLACEMENT, clean_text, punctuation_only
from bot.text.tracking import find_all


def test_full_width_tracking_numbers_fold_to_ascii() -> None:
    assert clean_text("ＥＡ０００００００１４ＣＮ到哪了") == "EA000000014CN到哪了"


def test_a_full_width_tracking_number_is_found_after_cleaning() -> None:
    text = "我的单号是ＥＡ０００００００１４ＣＮ"
    assert find_all(text) == []  # as typed on a Chinese keyboard, nothing is found
    assert [f.number.value for f in find_all(clean_text(text))] == ["EA000000014CN"]


@pytest.mark.parametrize("raw, clean", [
    ("ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"),      # letters and the ideographic space
    ("＃１３９１２３４５６７８", "#13912345678"),
    ("／restart", "/restart"),                     # folded, so neutralise_command sees "/"
    ("好的，谢谢。真的吗？是！冒号：分号；（括号）", "好的，谢谢。真的吗？是！冒号：分号；（括号）"),
])
def test_full_width_ascii_folds_and_chinese_punctuation_stays(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize("raw, clean", [
    ("a\ud800b", f"a{REPLACEMENT}b"),
    ("\udfff", REPLACEMENT),
    ("\ud83d\ude00", REPLACEMENT * 2),  # a pair in a str is not joined here
])
def test_lone_surrogates_become_the_replacement_character(raw: str, clean: str) -> None:
    cleaned = clean_text(raw)
    assert cleaned == clean
    cleaned.encode("utf-8")  # what the tracker store does; raised before


def test_control_characters_go_but_line_breaks_and_tabs_stay() -> None:
    assert clean_text("第一行\n第二行\t制表\r\x00\x07\x1b[31m\x7f") == "第一行\n第二行\t制表\r[31m"


def test_ordinary_text_and_emoji_are_unchanged() -> None:
    text = "你好😀👨‍👩‍👧🇨🇳 EA123456785CN 到哪了"
    assert clean_text(text) == text
    assert clean_text("") == ""


@pytest.mark.parametrize("text", ["。", "…", "……", "？？", "???", "！！！", "~~~~", "／／／", "。。。。。。",
                                  " ", "", "?\u200b"])
def test_punctuation_and_spaces_alone_carry_no_request(text: str) -> None:
    assert punctuation_only(text)


@pytest.mark.parametrize("text", ["👍", "😡", "🙏🙏", "✔️", "[微笑]", "[图片]", "1", "嗯", "ok", "？在吗",
                                  "EA000000014CN", "，，，到了没"])
def test_emoji_sticker_codes_digits_and_words_carry_something(text: str) -> None:
    assert not punctuation_only(text)
