"""Numbers read out on the phone, as a speech recognizer writes them (bot.text.spoken)."""
import pytest

from bot.text import spoken, tracking
from bot.text.masking import mask_text


def read(text):
    return [(n.kind, text[n.start:n.end], n.value, n.check) for n in spoken.read_numbers(text)]


def test_chinese_digits_become_ascii_one_for_one():
    assert spoken.to_ascii("幺三九零〇两") == "139002"
    assert spoken.to_ascii("１２３ＡＢ") == "123AB"
    assert len(spoken.to_ascii("我的单号幺幺五")) == len("我的单号幺幺五")


def test_a_mobile_said_in_groups():
    text = "嗯 我电话是幺三六 幺二五八 零零四七 你记一下"
    assert read(text) == [("phone_number", "幺三六 幺二五八 零零四七", "13612580047", None)]


def test_a_landline_with_its_area_code_said_aloud():
    text = "座机零八七四 三一二五六七八"
    assert read(text) == [("phone_number", "零八七四 三一二五六七八", "08743125678", None)]


def test_an_s10_number_spelled_letter_by_letter():
    number = tracking.make_s10("EM", "20481736")
    said = " ".join(number[:2]) + " 二零四 八一七 三六" + number[10] + " C N"
    said = said.replace(number[10], "零一二三四五六七八九"[int(number[10])])
    (found,) = spoken.read_numbers(f"那个单号是 {said} 麻烦查一下")
    assert (found.kind, found.value, found.check) == ("tracking_number", number, "valid")


def test_thirteen_digits_one_by_one_and_in_chinese():
    assert read("1 1 5 1 2 3 8 9 7 1 0 6 0 还没到") == [
        ("tracking_number", "1 1 5 1 2 3 8 9 7 1 0 6 0", "1151238971060", "valid")]
    assert read("单号幺幺五幺二三八九七幺零六零") == [
        ("tracking_number", "幺幺五幺二三八九七幺零六零", "1151238971060", "valid")]


def test_a_mistyped_number_is_still_read_and_flagged_not_taken_for_a_phone():
    # RR123456789CN fails its check digit; the digits inside must not become a phone number.
    assert read("R R 幺二三 四五六 七八九 C N") == [
        ("tracking_number", "R R 幺二三 四五六 七八九 C N", "RR123456789CN", "invalid")]
    # 13 digits of no known format: not a number we issue, and no 11-digit phone inside it.
    assert read("1 3 8 1 2 3 4 5 6 7 8 9 0") == []


@pytest.mark.parametrize("text", [
    "一直没到 三天了", "两三个月都没消息", "我买了一二三个", "第一次寄件",
    "12月5号下午3点", "一五一十地说清楚", "二三四五六七八九十",
])
def test_ordinary_words_with_digits_are_no_number(text):
    assert spoken.read_numbers(text) == []


def test_typed_numbers_are_left_to_the_regexes():
    assert spoken.find_runs("13912345678") == []
    assert spoken.find_runs("EA000000005CN到哪了") == []


def test_spans_already_taken_are_skipped():
    text = "幺三六 幺二五八 零零四七"
    assert spoken.read_numbers(text, taken=[(0, 3)]) == []


def test_a_long_run_offers_no_number_and_a_short_one_at_most_four_readings():
    assert spoken.find_runs(" ".join("1" for _ in range(5000))) == []
    runs = spoken.find_runs("一 1 1 5 1 2 3 8 9 7 1 0 6 0 二")
    assert len(runs) == 4 and runs[0].compact == "111512389710602"


def test_a_phone_read_out_is_masked_in_logs():
    assert mask_text("回电话幺三六 幺二五八 零零四七 谢谢") == "回电话136****0047 谢谢"
    assert mask_text("单号幺幺五幺二三八九七幺零六零") == "单号幺幺五幺二三八九七幺零六零"
