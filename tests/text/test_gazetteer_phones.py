"""Gazetteer aliases and collisions; phone numbers in free text."""
from pathlib import Path

from bot.text import gazetteer, phones
from bot.text.gazetteer import BANNA, BAOSHAN, HONGHE

ROOT = Path(__file__).resolve().parents[2]


def test_aliases_map_to_official_names_and_prefectures():
    assert gazetteer.lookup("版纳").name == BANNA
    assert gazetteer.lookup("腾冲").name == "腾冲市"
    assert gazetteer.lookup("腾冲县").prefecture == BAOSHAN
    assert gazetteer.lookup("沾益县").name == "沾益区"
    assert gazetteer.lookup("蒙自").prefecture == HONGHE


def test_collisions_are_kept_apart():
    assert gazetteer.lookup("红河县").level == "county"
    assert gazetteer.lookup("红河州").level == "prefecture"
    assert gazetteer.lookup("宝山") is None and gazetteer.lookup("宝山区") is None


def test_every_surface_form_is_in_the_jieba_dictionary():
    words = {line.split()[0] for line in (ROOT / "data/jieba/postal.txt").read_text().splitlines()}
    assert set(gazetteer.aliases()) <= words


def test_phones_mobile_and_landline_with_separators():
    found = phones.find_all("手机138 1234 5678，座机0871-63019518，还有+8613912345678")
    assert [f.digits for f in found] == ["13812345678", "087163019518", "13912345678"]
    assert [f.is_mobile for f in found] == [True, False, True]


def test_phones_are_not_found_inside_tracking_numbers():
    assert phones.find_all("1151238971060 EA000000005CN") == []


def test_normalise_accepts_one_number_only():
    assert phones.normalise(" 13812345678 ") == "13812345678"
    assert phones.normalise("13812345678 和 13912345678") is None
    assert phones.normalise("12345") is None

def test_the_one_phone_in_a_sentence() -> None:
    from bot.text.phones import the_one_in

    assert the_one_in("我的电话 138 1234 5678 谢谢") == "13812345678"
    assert the_one_in("座机0873-3712345") == "08733712345"
    assert the_one_in("没有电话") is None
    assert the_one_in("13812345678 或者 13987654321") is None
