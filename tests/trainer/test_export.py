"""Export of annotations into data/nlu/reviewed_<topic>.yml, read back with Rasa's own reader.

Every test works on a scratch copy of data/nlu and tests/nlu (`data_dirs`).
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from bot.text import tracking
from bot.text.masking import ID15_RE, ID18_RE
from bot.trainer import export as exporter
from bot.trainer.export import (
    HEADER,
    MOBILE_PLACEHOLDERS,
    NAME_GIVEN,
    NAME_SURNAMES,
    export,
    id_check_digit,
    main_export,
    pseudonymise,
)
from bot.trainer.candidates import Span
from bot.trainer.inbox import annotate, discard, get_candidate, record_correction
from tests.trainer.conftest import DataDirs

T0 = datetime(2025, 6, 10, 9, 0)
NOW = datetime(2025, 6, 11, 9, 0)
_minutes = itertools.count()


def annotated(uows: UowFactory, text: str, intent: str,
              entities: list[tuple[str, str]] | None = None) -> int:
    """A candidate for `text`, annotated with `intent` and entities given as (substring, type)."""
    at = T0 + timedelta(minutes=10 * next(_minutes))
    cid = record_correction(uows, "wx-1", "wechat", text, at, None, None, intent, "agent1").id
    spans = []
    for part, entity in entities or []:
        start = text.index(part)
        spans.append({"start": start, "end": start + len(part), "entity": entity})
    annotate(uows, cid, intent, spans, "trainer1", at)
    return cid


def read_with_rasa(path: Path) -> dict[str, Any]:
    """text -> Rasa's Message, as `rasa train` reads the file."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(path)
    return {m.get("text"): m for m in data.intent_examples}


def run(uows: UowFactory, dirs: DataDirs, **kwargs: Any) -> exporter.ExportResult:
    return export(uows, dirs.data, dirs.heldout, NOW, **kwargs)


def test_an_annotation_lands_in_its_topic_file_and_survives_rasa_reader(
        uows: UowFactory, data_dirs: DataDirs) -> None:
    text = "我家娃的录取通知书寄到会泽没有，单号1151238971060，电话13812345678"
    cid = annotated(uows, text, "track_mail", [
        ("录取通知书", "mail_category"), ("会泽", "location"),
        ("1151238971060", "tracking_number"), ("13812345678", "phone_number")])
    annotated(uows, "箱子到了压扁了，里面的普洱茶碎了", "damaged_item", [("普洱茶", "item")])

    result = run(uows, data_dirs)

    assert result.files == {"reviewed_complaints.yml": 1, "reviewed_tracking.yml": 1}
    assert sorted(result.changed) == ["reviewed_complaints.yml", "reviewed_tracking.yml"]
    assert (result.written, result.newly_exported, result.conflicts) == (2, 2, [])
    path = data_dirs.data / "reviewed_tracking.yml"
    content = path.read_text(encoding="utf-8")
    assert content.startswith(HEADER) and "python -m bot.trainer export" in content
    assert "1151238971060" not in content and "13812345678" not in content
    [(written, message)] = read_with_rasa(path).items()
    assert message.get("intent") == "track_mail"
    assert len(written) == len(text)
    assert written.startswith("我家娃的录取通知书寄到会泽没有，单号") and "电话" in written
    entities = sorted(message.get("entities"), key=lambda e: e["start"])
    assert [(e["entity"], e["start"], e["end"]) for e in entities] == [
        ("mail_category", 4, 9), ("location", 11, 13), ("tracking_number", 18, 31),
        ("phone_number", 34, 45)]
    assert [written[e["start"]:e["end"]] for e in entities] == [e["value"] for e in entities]
    number = tracking.parse(entities[2]["value"])
    assert number is not None and number.kind is tracking.Kind.EMS13 and number.check_ok
    assert entities[3]["value"] in MOBILE_PLACEHOLDERS
    complaints = read_with_rasa(data_dirs.data / "reviewed_complaints.yml")
    item = complaints["箱子到了压扁了，里面的普洱茶碎了"]
    assert item.get("intent") == "damaged_item"
    assert [(e["entity"], e["value"]) for e in item.get("entities")] == [("item", "普洱茶")]
    view = get_candidate(uows, cid)
    assert (view.status, view.exported_at, view.note) == ("exported", NOW, None)


def test_a_synonym_value_is_written_with_rasa_s_entity_dictionary(
        uows: UowFactory, data_dirs: DataDirs) -> None:
    cid = annotated(uows, "寄到曲靖要几天", "ask_delivery_time")
    annotate(uows, cid, "ask_delivery_time",
             [{"start": 2, "end": 4, "entity": "location", "value": "曲靖市"}], "trainer1", T0)
    run(uows, data_dirs)
    path = data_dirs.data / "reviewed_info.yml"
    assert '- 寄到[曲靖]{"entity": "location", "value": "曲靖市"}要几天' in path.read_text("utf-8")
    [message] = read_with_rasa(path).values()
    assert [(e["entity"], e["value"], e["start"], e["end"]) for e in message.get("entities")] == [
        ("location", "曲靖市", 2, 4)]


def test_text_that_looks_like_markup_or_breaks_lines_is_written_safely(
        uows: UowFactory, data_dirs: DataDirs) -> None:
    annotated(uows, "  到付[好像](多收了)钱\n{问下} 是不是  ", "fee_dispute", [("钱", "item")])
    run(uows, data_dirs)
    [(text, message)] = read_with_rasa(data_dirs.data / "reviewed_complaints.yml").items()
    assert text == "到付［好像］(多收了)钱 {问下} 是不是"
    assert [(e["entity"], text[e["start"]:e["end"]]) for e in message.get("entities")] == [
        ("item", "钱")]


# --- placeholders -------------------------------------------------------------------------


def test_phones_become_placeholder_mobiles_of_the_same_layout() -> None:
    for text in ("电话13812345678", "电话 138 1234 5678 谢谢", "+86 138-1234-5678", "8613812345678"):
        out = pseudonymise(text)
        assert len(out) == len(text) and out != text
        assert re.sub(r"\d", "0", out) == re.sub(r"\d", "0", text)  # same layout
        assert re.sub(r"\D", "", out)[-11:] in MOBILE_PLACEHOLDERS
    landline = pseudonymise("座机0871-63019518")
    assert landline.startswith("座机0871-") and len(landline) == len("座机0871-63019518")
    assert "63019518" not in landline
    # The same number always gets the same placeholder.
    assert pseudonymise("13812345678") == pseudonymise("打13812345678")[1:]


def test_id_numbers_become_synthetic_ids_with_a_valid_check_digit() -> None:
    for original in ("530102199001011234", "53010219900101123X", "530102900101123"):
        out = pseudonymise(f"身份证{original}")[3:]
        assert len(out) == len(original) and out != original
        pattern = ID18_RE if len(original) == 18 else ID15_RE
        assert pattern.fullmatch(out)
        if len(out) == 18:
            assert out[-1] == id_check_digit(out[:17])
        assert out == pseudonymise(original)


@pytest.mark.parametrize("original, kind", [
    ("EA123456785CN", tracking.Kind.S10), ("RR123456785CN", tracking.Kind.S10),
    ("1151238971060", tracking.Kind.EMS13), ("5161488419703", tracking.Kind.EMS13),
    ("9812345678901", tracking.Kind.PARCEL13),
])
def test_tracking_numbers_become_valid_numbers_of_the_same_family(
        original: str, kind: tracking.Kind) -> None:
    out = pseudonymise(f"单号{original}到哪了")[2:-3]
    number = tracking.parse(out)
    assert out != original and number is not None and number.kind is kind
    assert number.check_ok in (True, None)
    assert out[:2] == original[:2] and out[-2:].isalpha() == original[-2:].isalpha()


def test_a_spaced_lower_case_s10_keeps_its_layout() -> None:
    out = pseudonymise("单号 ea 1234 5678 5cn")
    assert re.fullmatch(r"单号 ea \d{4} \d{4} \dcn", out)
    number = tracking.parse(out[3:])
    assert number is not None and number.check_ok and number.value != "EA123456785CN"


def test_numbers_read_out_on_the_phone_are_replaced_in_their_own_script() -> None:
    from bot.text import spoken

    text = "嗯我电话是幺三六 幺二五八 零零四七 单号幺幺五幺二三八九七幺零六零"
    out = pseudonymise(text)
    assert len(out) == len(text) and out != text
    phone = out[5:19]
    assert phone[3] == " " and phone[8] == " " and all(spoken.is_unit(c) for c in phone[:3])
    assert spoken.to_ascii(phone.replace(" ", "")) in MOBILE_PLACEHOLDERS
    assert "幺三六 幺二五八 零零四七" not in out and "幺幺五幺二三八九七幺零六零" not in out
    mail = tracking.parse(spoken.to_ascii(out[-13:]))
    assert mail is not None and mail.check_ok and mail.kind is tracking.Kind.EMS13


def test_digits_in_number_entities_and_long_digit_runs_are_replaced() -> None:
    text = "电话138-12-345-678，QQ 123456789，邮编 650000"
    start = text.index("138")
    out = pseudonymise(text, [Span(start, start + 14, "phone_number")])
    assert len(out) == len(text)
    assert "138-12-345-678" not in out and "123456789" not in out
    assert out.endswith("邮编 650000")  # a postcode is not personal


def test_names_become_common_names_of_the_same_length() -> None:
    for text, name in (("收件人：张三丰，电话", "张三丰"), ("我叫岩温", "岩温"),
                       ("寄件人欧阳娜娜", "欧阳娜娜"), ("找王建国师傅", "王建国")):
        out = pseudonymise(text)
        start = text.index(name)
        placeholder = out[start:start + len(name)]
        assert len(out) == len(text) and name not in out
        assert out[:start] == text[:start] and out[start + len(name):] == text[start + len(name):]
        assert placeholder[0] in NAME_SURNAMES and set(placeholder[1:]) <= set(NAME_GIVEN)
        assert out == pseudonymise(text)  # the same name always gets the same placeholder
    assert pseudonymise("我是来投诉的，张先生态度差") == "我是来投诉的，张先生态度差"


def test_emails_keep_their_domain_and_get_another_user_name() -> None:
    text = "邮箱是Zhang.San88@qq.com谢谢，或者li＠163.com"
    out = pseudonymise(text)
    assert len(out) == len(text) and "Zhang.San88" not in out and "li＠" not in out
    assert re.fullmatch(r"邮箱是[A-Z][a-z]{4}\.[A-Z][a-z]{2}\d\d@qq\.com谢谢，或者[a-z]{2}＠163\.com", out)


def test_street_addresses_keep_their_keywords_with_other_names_and_numbers() -> None:
    text = "寄到曲靖市麒麟区南宁西路88号阳光花园3栋2单元502室，单号EA123456785CN，12月3号寄的"
    out = pseudonymise(text)
    assert len(out) == len(text)
    assert out.startswith("寄到曲靖市麒麟区")  # the district is no one's address
    assert re.fullmatch(r"寄到曲靖市麒麟区\w{3}路\d\d号\w{2}花园\d栋\d单元\d{3}室，"
                        r"单号EA\d{9}CN，12月3号寄的", out)
    for secret in ("南宁西", "88号", "阳光", "502"):
        assert secret not in out
    number = tracking.parse(out[out.index("EA"):out.index("EA") + 13])
    assert number is not None and number.check_ok  # tracking numbers stay usable


def test_a_name_inside_an_annotated_entity_is_left_alone() -> None:
    text = "寄件人：金银花"  # reads like a name, but the trainer marked it as an item
    start = text.index("金银花")
    assert pseudonymise(text, [Span(start, start + 3, "item")]) == text
    assert pseudonymise(text) != text


def test_the_exported_example_has_no_name_email_or_address(uows: UowFactory,
                                                           data_dirs: DataDirs) -> None:
    text = "我叫李明华，邮箱liming88@163.com，寄到蒙自市天马路12号3栋的件到哪了 EA123456785CN"
    annotated(uows, text, "track_mail", [("蒙自市", "location"), ("EA123456785CN", "tracking_number")])

    run(uows, data_dirs)

    content = (data_dirs.data / "reviewed_tracking.yml").read_text(encoding="utf-8")
    for secret in ("李明华", "liming88", "天马路12号", "EA123456785CN"):
        assert secret not in content
    (example,) = read_with_rasa(data_dirs.data / "reviewed_tracking.yml").values()
    written = example.get("text")
    assert len(written) == len(text) and "@163.com" in written and "蒙自市" in written
    assert [(e["entity"], written[e["start"]:e["end"]]) for e in example.get("entities")][0] == (
        "location", "蒙自市")


# --- duplicates and conflicts -------------------------------------------------------------


def test_duplicates_are_not_written_again(uows: UowFactory, data_dirs: DataDirs) -> None:
    known = annotated(uows, "我的件到哪了？", "track_mail")  # tracking.yml has 我的件到哪了
    first = annotated(uows, "寄到大理的件到了没有啊", "track_mail")
    second = annotated(uows, "寄到大理的件 到了没有啊！", "track_mail")
    result = run(uows, data_dirs)
    assert (result.written, result.duplicates, result.conflicts) == (1, 2, [])
    messages = read_with_rasa(data_dirs.data / "reviewed_tracking.yml")
    assert list(messages) == ["寄到大理的件到了没有啊"]
    views = {cid: get_candidate(uows, cid) for cid in (known, first, second)}
    assert {v.status for v in views.values()} == {"exported"}
    assert "tracking.yml" in views[known].note and "未重复写入" in views[known].note
    assert f"#{first}" in views[second].note and views[first].note is None


def test_the_same_text_under_two_intents_is_a_conflict(uows: UowFactory,
                                                       data_dirs: DataDirs) -> None:
    a = annotated(uows, "件到了但是盒子破了", "damaged_item")
    b = annotated(uows, "件到了，但是盒子破了", "track_mail")
    result = run(uows, data_dirs)
    assert result.files == {} and result.written == 0
    assert sorted(c.id for c in result.conflicts) == [a, b]
    for cid in (a, b):
        view = get_candidate(uows, cid)
        assert view.status == "conflict"
        assert f"damaged_item（#{a}）" in view.note and f"track_mail（#{b}）" in view.note
    # Resolved by annotating both alike: the next export writes the text once.
    annotate(uows, b, "damaged_item", [], "trainer1", NOW)
    result = run(uows, data_dirs)
    assert (result.written, result.duplicates, result.conflicts) == (1, 1, [])
    assert list(read_with_rasa(data_dirs.data / "reviewed_complaints.yml")) == ["件到了但是盒子破了"]
    assert {get_candidate(uows, c).status for c in (a, b)} == {"exported"}


def test_a_text_the_training_data_has_under_another_intent_is_a_conflict(
        uows: UowFactory, data_dirs: DataDirs) -> None:
    cid = annotated(uows, "我的件到哪了", "delivery_delay")  # track_mail in tracking.yml
    result = run(uows, data_dirs)
    assert [c.id for c in result.conflicts] == [cid] and result.files == {}
    note = get_candidate(uows, cid).note
    assert "tracking.yml 标为 track_mail" in note and "这里标为 delivery_delay" in note
    assert not list(data_dirs.data.glob("reviewed_*.yml"))


def test_a_text_of_the_held_out_split_is_a_conflict(uows: UowFactory,
                                                    data_dirs: DataDirs) -> None:
    held = "您好，麻烦帮我看看我的邮件走到哪一步了"
    assert held in (data_dirs.heldout / "tracking.yml").read_text("utf-8")
    cid = annotated(uows, "您好 麻烦帮我看看我的邮件走到哪一步了", "track_mail")
    result = run(uows, data_dirs)
    assert [c.id for c in result.conflicts] == [cid] and result.files == {}
    view = get_candidate(uows, cid)
    assert view.status == "conflict"
    assert "留出测试集" in view.note and "tracking.yml（track_mail）" in view.note


def test_an_intent_no_longer_in_the_domain_is_a_conflict(uows: UowFactory, data_dirs: DataDirs,
                                                         tmp_path: Path) -> None:
    from bot.config import PROJECT_ROOT

    cid = annotated(uows, "你们是哪个公司的快递", "out_of_scope")
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text("utf-8"))
    domain["intents"].remove("out_of_scope")
    (tmp_path / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), "utf-8")
    result = run(uows, data_dirs, domain_path=tmp_path / "domain.yml")
    assert [c.id for c in result.conflicts] == [cid]
    assert "已不在领域文件中" in get_candidate(uows, cid).note


# --- regeneration -------------------------------------------------------------------------


def _annotate_some(uows: UowFactory, order: list[int]) -> None:
    items = [
        ("帮我查下EA123456785CN到哪点了", "track_mail", [("EA123456785CN", "tracking_number")]),
        ("件放驿站了也不打电话 13987001234", "delivery_service", [("13987001234", "phone_number")]),
        ("身份证530102199001011234寄丢了咋办", "lost_item", [("身份证", "mail_category")]),
        ("寄十斤普洱茶到广州好多钱", "ask_fee", [("普洱茶", "item"), ("广州", "location")]),
        ("快点帮我催一下嘛", "delivery_delay", []),
    ]
    for i in order:
        annotated(uows, *items[i])


def test_export_is_stable(uows: UowFactory, data_dirs: DataDirs, tmp_path: Path) -> None:
    _annotate_some(uows, [0, 1, 2, 3, 4])
    run(uows, data_dirs)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
             for p in data_dirs.data.glob("reviewed_*.yml")}
    assert set(files) == {"reviewed_tracking.yml", "reviewed_complaints.yml",
                          "reviewed_info.yml"}
    again = run(uows, data_dirs)
    assert again.changed == [] and again.newly_exported == 0 and again.written == 5
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in data_dirs.data.glob("reviewed_*.yml")} == files
    # Another database with the same annotations made in another order: the same bytes.
    other_dirs = DataDirs(tmp_path / "other", data_dirs.heldout)
    other_dirs.data.mkdir()
    for path in data_dirs.data.glob("*.yml"):
        if not path.name.startswith("reviewed_"):
            (other_dirs.data / path.name).write_bytes(path.read_bytes())
    engine = make_engine("sqlite://")
    create_schema(engine)
    _annotate_some(uow_factory(make_session_factory(engine)), [4, 3, 2, 1, 0])
    run(uow_factory(make_session_factory(engine)), other_dirs)
    engine.dispose()
    assert {p.name: p.read_bytes() for p in other_dirs.data.glob("reviewed_*.yml")} == {
        name: content for name, (content, _) in files.items()}


def test_a_discarded_candidate_leaves_the_data_on_the_next_export(
        uows: UowFactory, data_dirs: DataDirs) -> None:
    keep = annotated(uows, "寄到大理的件到了没有啊", "track_mail")
    drop = annotated(uows, "快点帮我催一下嘛", "delivery_delay")
    annotated(uows, "寄十斤普洱茶到广州好多钱", "ask_fee")
    run(uows, data_dirs)
    discard(uows, drop, "trainer1", NOW)
    annotate(uows, keep, "delivery_delay", [], "trainer1", NOW)  # re-annotated after export
    result = run(uows, data_dirs)
    assert list(read_with_rasa(data_dirs.data / "reviewed_tracking.yml")) == [
        "寄到大理的件到了没有啊"]
    assert "快点帮我催一下嘛" not in (data_dirs.data / "reviewed_tracking.yml").read_text("utf-8")
    assert "delivery_delay" in (data_dirs.data / "reviewed_tracking.yml").read_text("utf-8")
    discard(uows, keep, "trainer1", NOW)
    result = run(uows, data_dirs)
    assert result.removed == ["reviewed_tracking.yml"] and result.files == {
        "reviewed_info.yml": 1}
    assert not (data_dirs.data / "reviewed_tracking.yml").exists()


def test_the_data_contract_holds_with_the_generated_files(uows: UowFactory,
                                                          data_dirs: DataDirs) -> None:
    from tests.support.nlu_data import TAXONOMY_INTENTS, examples_in, plain

    _annotate_some(uows, [0, 1, 2, 3, 4])
    annotated(uows, "我的件到哪了!!", "track_mail")  # duplicate of the training data
    annotated(uows, "您好，麻烦帮我看看我的邮件走到哪一步了", "track_mail")  # held out
    run(uows, data_dirs)
    train = examples_in(data_dirs.data)
    assert set(train) == TAXONOMY_INTENTS
    lines = [plain(t) for v in train.values() for t in v]
    assert [t for t, n in Counter(lines).items() if n > 1] == []
    held = examples_in(data_dirs.heldout)
    leaked = [t for v in held.values() for t in v if plain(t) in set(lines)]
    assert [t for t in leaked if len(plain(t)) > 3] == []


def test_main_export_prints_the_summary(tmp_path: Path, data_dirs: DataDirs,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    engine = make_engine(url)
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    annotated(uows, "寄到大理的件到了没有啊", "track_mail")
    args = ["--database-url", url, "--data-dir", str(data_dirs.data),
            "--heldout-dir", str(data_dirs.heldout)]
    assert main_export(args) == 0
    out = capsys.readouterr().out
    assert "reviewed_tracking.yml: 1 examples (written)" in out
    assert "examples written: 1 (1 newly exported)" in out
    conflict = annotated(uows, "我的件到哪了", "delivery_delay")
    assert main_export(args + ["--strict"]) == 1
    out = capsys.readouterr().out
    assert "reviewed_tracking.yml: 1 examples (unchanged)" in out
    assert f"conflict #{conflict} [delivery_delay] 我的件到哪了" in out
    engine.dispose()
    assert main_export(["--data-dir", str(tmp_path / "nowhere")]) == 2


def test_the_conversation_rounds_name_a_topic_only_for_intents_nothing_else_holds() -> None:
    """track_mail has more turns in conversations_*.yml than in tracking*.yml, yet its
    annotations go to reviewed_tracking.yml; an intent only the rounds hold goes there."""
    data = Path("data/nlu")
    examples = ([("track_mail", f"t{i}", data / "conversations_calls.yml") for i in range(5)]
                + [("track_mail", f"u{i}", data / "tracking_more.yml") for i in range(2)]
                + [("greet", "你好", data / "conversations_openers.yml")])
    assert exporter.topics(examples) == {"track_mail": "tracking", "greet": "conversations"}
