from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from bot.text.masking import (
    find_personal,
    mask_address,
    mask_id,
    mask_in_place,
    mask_name,
    mask_phone,
    mask_signer,
    mask_text,
)


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


# --- e-mail addresses, street addresses and names in free text -----------------------------


@pytest.mark.parametrize("raw,masked", [
    ("zhang.san@qq.com", "z***@qq.com"),
    ("邮箱是abc123@163.com谢谢", "邮箱是a***@163.com谢谢"),
    ("发到 Li.Ming-88@yunnan.chinapost.com.cn 就行", "发到 L***@yunnan.chinapost.com.cn 就行"),
    ("邮箱abc＠163.com", "邮箱a***＠163.com"),  # full-width ＠
    ("邮箱：ｌｉｍｉｎｇ＠１２６．ｃｏｍ。", "邮箱：ｌ***＠１２６．ｃｏｍ。"),  # all full-width
    ("QQ邮箱12345678@qq.com", "QQ邮箱1***@qq.com"),
    ("13812345678@139.com", "1***@139.com"),  # an e-mail address, not a phone
])
def test_mask_text_masks_email_addresses(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("寄到曲靖市麒麟区南宁西路88号阳光花园3栋2单元502室", "寄到曲靖市麒麟区****"),
    ("麻烦改派到昆明市盘龙区北京路1079号金尚俊园5栋，谢谢", "麻烦改派到昆明市盘龙区****，谢谢"),
    ("地址是天马路12号 3栋", "地址是****"),
    ("我家在腾冲和顺镇水碓村大石巷6号", "我家在腾冲和顺镇****"),
    ("住景洪市勐泐大道18号", "住景洪市****"),
    ("送到阳光小区5栋1201，放门口就行", "送到****，放门口就行"),
    ("我在3栋2单元502等快递", "我在****等快递"),
    ("老家是马龙区旧县街道水井村3组", "老家是马龙区旧县街道****"),
    ("快递员说放东风东路3号院2栋门卫了", "快递员说放****门卫了"),
])
def test_mask_text_masks_street_addresses_inside_sentences(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize("text", [
    "EA123456785CN 3号到的，怎么还没送",
    "12月3号寄的，星期3号也没到",
    "去1号窗口取件",
    "送到3楼就行",
    "2楼3号窗口排队",
    "坐地铁2号线到",
    "小区门口的快递柜",
    "阳光小区门口的驿站",  # an estate without a building or house number
    "快递在路上3天了",
    "重2.5公斤，寄了3件，运费24元",
    "我住开远凤凰路那个小区",  # a street without a number
])
def test_mask_text_leaves_numbers_and_places_that_are_not_addresses(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize("raw,masked", [
    ("我叫李明，要查件", "我叫李*，要查件"),
    ("我是张三丰", "我是张**"),
    ("本人王芳，身份证530102199001011234", "本人王*，身份证5301**********1234"),
    ("收件人：杨建伟 电话13812345678", "收件人：杨** 电话138****5678"),
    ("收件人是刀玉香", "收件人是刀**"),
    ("寄件人赵志刚 昆明发的", "寄件人赵** 昆明发的"),
    ("联系人:欧阳娜娜", "联系人:欧***"),
    ("姓名：张三", "姓名：张*"),
    ("我的名字叫马丽娟", "我的名字叫马**"),
    ("签收人：王建国，可我没收到", "签收人：王**，可我没收到"),
    ("快递员李明态度很差", "快递员李*态度很差"),
    ("投递员张三丰说放驿站了", "投递员张**说放驿站了"),
])
def test_mask_text_masks_names_after_labels(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("收件人：岩温", "收件人：岩*"),
    ("收件人玉罕，勐海的", "收件人玉*，勐海的"),
    ("我叫岩温扁", "我叫岩**"),
    ("收件人是依香", "收件人是依*"),
    ("姓名：者黑", "姓名：者*"),  # after an explicit label, whatever the first character
])
def test_mask_text_masks_yunnan_names_without_a_han_surname(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize("raw,masked", [
    ("找王建国师傅", "找王**师傅"),
    ("谢谢张三先生", "谢谢张*先生"),
    ("欧阳娜娜女士您好", "欧***女士您好"),
    ("客户王芳女士反映", "客户王*女士反映"),
    # A surname and a title name no one: left as they are.
    ("张先生您好", "张先生您好"),
    ("谢谢张先生", "谢谢张先生"),
    ("和王师傅说过了", "和王师傅说过了"),
    ("收件人张先生", "收件人张先生"),
])
def test_mask_text_masks_given_names_before_a_title(raw: str, masked: str) -> None:
    assert mask_text(raw) == masked


@pytest.mark.parametrize("text", [
    "我是来投诉的", "我是第一次寄", "我是江苏的", "我是普洱的", "我是高中生", "我是马上要寄",
    "我是包裹的收件人", "本人签收", "签收人：门卫", "收件人写错了", "收件人那边付多少",
    "寄件人付和收件人付价格一样吗", "帮我叫一下人工客服", "麻烦帮我叫上门取件", "姓名和电话都对",
    "我是寄件人", "收件人是我", "寄件人都懵了",
])
def test_mask_text_leaves_words_that_are_not_names(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_masks_everything_in_one_message() -> None:
    text = ("单号EA123456785CN，收件人：张三丰，电话13812345678，邮箱zhang.san@qq.com，"
            "地址曲靖市麒麟区南宁西路88号阳光花园3栋2单元502室，12月3号寄的")
    assert mask_text(text) == ("单号EA123456785CN，收件人：张**，电话138****5678，邮箱z***@qq.com，"
                               "地址曲靖市麒麟区****，12月3号寄的")


def test_mask_in_place_stars_without_moving_anything() -> None:
    text = "收件人：张三丰，邮箱zhang.san@qq.com，寄到麒麟区南宁西路88号 3栋，电话13812345678"
    shown = mask_in_place(text)
    assert len(shown) == len(text)
    assert shown == ("收件人：张**，邮箱z********@qq.com，寄到麒麟区******* **，电话13812345678")
    assert [f.kind for f in find_personal(text)] == ["name", "email", "address", "phone"]


def test_a_customer_message_is_logged_with_its_personal_data_masked(
        caplog: pytest.LogCaptureFixture) -> None:
    """The REST channel logs a turn that produced no reply with the customer's message."""
    import asyncio

    from bot.channels import rest

    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace()))  # no action server set
    message = "我叫李明，邮箱liming88@163.com，寄到昆明市盘龙区北京路1079号金尚俊园5栋"
    with caplog.at_level(logging.ERROR, logger=rest.logger.name):
        asyncio.run(rest.explain_silence(request, "web-13812345678",  # type: ignore[arg-type]
                                         message))

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "我叫李*，邮箱l***@163.com，寄到昆明市盘龙区****" in logged
    for secret in ("李明", "liming88", "北京路", "1079", "金尚俊园", "13812345678"):
        assert secret not in logged
