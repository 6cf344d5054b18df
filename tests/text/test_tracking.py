"""Tracking-number checks against the examples of the NLU contract."""
import pytest

from bot.text import tracking
from bot.text.tracking import Kind


@pytest.mark.parametrize("number", ["RR123456785CN", "EA000000005CN", "LX473124829CN"])
def test_valid_s10_numbers_pass_their_check(number):
    parsed = tracking.parse(number)
    assert parsed.kind is Kind.S10
    assert parsed.check_ok is True


def test_wrong_s10_check_digit_is_flagged_but_still_recognised():
    parsed = tracking.parse("RR123456789CN")
    assert parsed is not None and parsed.kind is Kind.S10
    assert parsed.check_ok is False and parsed.looks_mistyped


@pytest.mark.parametrize("number", ["1151238971060", "1085160751132", "5161488419703"])
def test_valid_13_digit_ems_numbers(number):
    parsed = tracking.parse(number)
    assert parsed.kind is Kind.EMS13 and parsed.check_ok is True


def test_13_digit_ems_with_a_wrong_digit_fails():
    assert tracking.parse("1151238971160").check_ok is False


def test_parcel_numbers_have_no_check_digit():
    parsed = tracking.parse("9812345678901")
    assert parsed.kind is Kind.PARCEL13 and parsed.check_ok is None
    assert not parsed.looks_mistyped


@pytest.mark.parametrize("serial,digit", [("12345678", 5), ("00000000", 5), ("47312482", 9)])
def test_check_digit_rules_including_10_and_11(serial, digit):
    assert tracking.s10_check_digit(serial) == digit


def test_check_digit_maps_10_to_0():
    serial = "00000008"  # 8*7 = 56, 56 mod 11 = 1, 11 - 1 = 10 -> 0
    assert tracking.s10_check_digit(serial) == 0


def test_normalises_case_and_spaces():
    assert tracking.parse("ea 0000 0000 5cn").value == "EA000000005CN"


@pytest.mark.parametrize("text", ["EA00000005CN", "12345", "1234567890123", "E1000000005CN", ""])
def test_rejects_what_is_not_a_number_we_issue(text):
    assert tracking.parse(text) is None


def test_find_all_gives_spans_in_chinese_text():
    text = "我的EA000000005CN还有1151238971060都没到，电话13812345678"
    found = tracking.find_all(text)
    assert [f.number.value for f in found] == ["EA000000005CN", "1151238971060"]
    for f in found:
        assert text[f.start:f.end] == f.text


def test_find_all_ignores_phone_numbers_and_longer_digit_runs():
    assert tracking.find_all("电话13812345678，订单号11512389710601") == []


def test_makers_build_valid_numbers():
    assert tracking.parse(tracking.make_s10("EA", "31415926")).check_ok
    assert tracking.parse(tracking.make_ems13("11", "27182818", "03")).check_ok
