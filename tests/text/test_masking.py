from __future__ import annotations

import pytest

from bot.text.masking import mask_address, mask_id, mask_name, mask_phone, mask_signer, mask_text


@pytest.mark.parametrize("raw,masked", [
    ("13812345678", "138****5678"),
    ("138 1234 5678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("+86 13812345678", "138****5678"),
    ("0871-63019518", "0871-****9518"),
    ("087163019518", "0871-****9518"),
    ("0875 5158231", "0875-***8231"),
    ("010-12345678", "010-****5678"),
    ("02012345678", "020-****5678"),
    ("95598", "*5598"),
    ("1234", "****"),
])
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("530102199001011234", "5301**********1234"),
    ("53010219900101123X", "5301**********123X"),
    ("530102900101123", "5301*******1123"),
])
def test_mask_id(raw: str, masked: str) -> None:
    assert mask_id(raw) == masked


@pytest.mark.parametrize("raw,masked", [("张三丰", "张**"), ("王芳", "王*"), ("欧阳娜娜", "欧***"), ("李", "*"), ("", "")])
def test_mask_name(raw: str, masked: str) -> None:
    assert mask_name(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("门卫代收", "门卫代收"),
    ("本人签收", "本人签收"),
    ("快递柜", "快递柜"),
    ("张三丰", "张**"),
    ("同事李明代收", "同事李*代收"),
    ("王建国代收", "王**代收"),
])
def test_mask_signer_keeps_roles_and_hides_names(raw: str, masked: str) -> None:
    assert mask_signer(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("蒙自市天马路12号3栋", "蒙自市****"),
    ("云南省红河州蒙自市天马路12号", "云南省红河州蒙自市****"),
    ("红河哈尼族彝族自治州红河县迤萨镇东门街5号", "红河哈尼族彝族自治州红河县****"),
    ("腾冲和顺镇水碓村大石巷6号", "腾冲****"),
    ("西双版纳州景洪市勐泐大道18号", "西双版纳州景洪市****"),
    ("昆明市盘龙区北京路1079号金尚俊园5栋", "昆明市盘龙区****"),
    ("上海市宝山区友谊路1号", "上海市宝山区****"),
    ("曲靖市阳光小区5栋", "曲靖市****"),
    ("北京路1079号", "****"),
    ("景洪市", "景洪市"),
])
def test_mask_address_keeps_the_district_only(raw: str, masked: str) -> None:
    assert mask_address(raw) == masked


def test_mask_text_masks_phones_and_ids_but_not_tracking_numbers() -> None:
    text = ("单号1151238971060和EA000000005CN，电话13812345678或0871-63019518，"
            "身份证530102199001011234，包裹9812345678901")
    assert mask_text(text) == (
        "单号1151238971060和EA000000005CN，电话138****5678或0871-****9518，"
        "身份证5301**********1234，包裹9812345678901")


def test_mask_text_finds_spaced_and_prefixed_mobiles() -> None:
    assert mask_text("打我电话 138 1234 5678 或 +86 139 0000 1111") == "打我电话 138****5678 或 139****1111"


def test_mask_text_leaves_other_numbers_alone() -> None:
    text = "寄了3件，重2.5公斤，运费24元，邮编661100，订单号20250610"
    assert mask_text(text) == text
