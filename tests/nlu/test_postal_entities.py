"""The spaCy-based postal entity extractor, alone and inside Rasa's message flow."""
from pathlib import Path

import pytest
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.postal_entities import PostalEntityExtractor, build_spacy_pipeline, extract

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nlp():
    return build_spacy_pipeline(ROOT / "data/jieba/postal.txt")


def by_type(entities, kind):
    return [e for e in entities if e["entity"] == kind]


def test_tracking_number_with_check_flag(nlp):
    text = "帮我查下EA000000005CN和rr123456789cn"
    found = by_type(extract(nlp, text), "tracking_number")
    assert [(e["value"], e["check_digit"]) for e in found] == [
        ("EA000000005CN", "valid"), ("RR123456789CN", "invalid")]
    assert text[found[1]["start"]:found[1]["end"]] == "rr123456789cn"


def test_parcel_number_has_no_check(nlp):
    (e,) = by_type(extract(nlp, "9812345678901还没到"), "tracking_number")
    assert e["check_digit"] == "none"


def test_phone_numbers_and_no_confusion_with_tracking_numbers(nlp):
    ents = extract(nlp, "单号1151238971060，电话0871-63019518或者13812345678")
    assert [e["value"] for e in by_type(ents, "tracking_number")] == ["1151238971060"]
    assert [e["value"] for e in by_type(ents, "phone_number")] == ["087163019518", "13812345678"]


@pytest.mark.parametrize("text,surface,official,prefecture", [
    ("寄到腾冲的快递", "腾冲", "腾冲市", "保山市"),
    ("版纳这边收不到件", "版纳", "西双版纳傣族自治州", "西双版纳傣族自治州"),
    ("我在红河县城", "红河县", "红河县", "红河哈尼族彝族自治州"),
    ("沾益县那个营业部", "沾益县", "沾益区", "曲靖市"),
])
def test_locations_map_to_official_names(nlp, text, surface, official, prefecture):
    (e,) = by_type(extract(nlp, text), "location")
    assert text[e["start"]:e["end"]] == surface
    assert e["value"] == official and e["prefecture"] == prefecture


def test_shanghai_baoshan_is_not_baoshan_yunnan(nlp):
    assert by_type(extract(nlp, "寄到上海宝山区的件"), "location") == []


def test_jieba_segmentation_prevents_false_places(nlp):
    # 个旧 is a city, but here jieba reads 一个/旧/手机.
    assert by_type(extract(nlp, "我寄了一个旧手机"), "location") == []


def test_products_and_mail_categories(nlp):
    ents = extract(nlp, "我的录取通知书是ems寄的，还有一封挂号信")
    assert [e["value"] for e in by_type(ents, "mail_category")] == ["录取通知书"]
    assert [e["value"] for e in by_type(ents, "product")] == ["EMS", "挂号信"]


def test_component_replaces_diet_numbers_and_keeps_its_items():
    component = PostalEntityExtractor({"userdict": str(ROOT / "data/jieba/postal.txt")})
    text = "EA000000005CN里面是普洱茶"
    message = Message({TEXT: text})
    message.set(ENTITIES, [
        {"entity": "tracking_number", "start": 0, "end": 11, "value": "EA000000005",
         "extractor": "DIETClassifier"},
        {"entity": "item", "start": 16, "end": 19, "value": "普洱茶", "extractor": "DIETClassifier"},
    ])
    (out,) = component.process([message])
    ents = out.get(ENTITIES)
    assert [(e["entity"], e["value"], e["extractor"]) for e in ents] == [
        ("tracking_number", "EA000000005CN", "PostalEntityExtractor"),
        ("item", "普洱茶", "DIETClassifier"),
    ]


def test_numbers_read_out_on_the_phone(nlp):
    text = "喂 那个油件单号是幺幺五幺 二三八九 七幺零六零 电话幺三六 幺二五八 零零四七"
    ents = extract(nlp, text)
    (mail,) = by_type(ents, "tracking_number")
    (phone,) = by_type(ents, "phone_number")
    assert (mail["value"], mail["check_digit"]) == ("1151238971060", "valid")
    assert text[mail["start"]:mail["end"]] == "幺幺五幺 二三八九 七幺零六零"
    assert phone["value"] == "13612580047"
    assert text[phone["start"]:phone["end"]] == "幺三六 幺二五八 零零四七"


def test_spoken_and_typed_numbers_do_not_overlap(nlp):
    ents = extract(nlp, "EA000000005CN 一直没到 1 3 6 1 2 5 8 0 0 4 7")
    assert [(e["entity"], e["value"]) for e in ents
            if e["entity"] in ("tracking_number", "phone_number")] == [
        ("tracking_number", "EA000000005CN"), ("phone_number", "13612580047")]
