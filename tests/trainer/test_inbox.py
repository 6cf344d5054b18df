"""The NLU inbox: what reaches it from a real Rasa SQL tracker store, and annotation."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store.uow import UowFactory
from bot.text.masking import mask_text
from bot.trainer import collect as collect_module
from bot.trainer import inbox
from bot.store.models import CollectCursor, NluCandidate
from bot.trainer.collect import main_collect
from bot.trainer.candidates import CandidateNotFound, CandidateView, TrainerError
from bot.trainer.collect import collect
from bot.trainer.inbox import annotate, discard, list_candidates, record_correction
from bot.trainer.pii import review_text
from bot.trainer.tracker import EVENTS
from tests.trainer.conftest import RasaTracker, reject_suggestion
from tests.workbench.trainer_fixtures import (  # noqa: F401  (fixtures)
    Bench,
    accounts_db,
    bench,
    store,
)

T0 = datetime(2025, 6, 10, 9, 0)


def by_text(uows: UowFactory) -> dict[str, CandidateView]:
    return {c.text: c for c in list_candidates(uows, limit=1000)}


def test_each_reason_brings_a_message_into_the_inbox(uows: UowFactory,
                                                     tracker: RasaTracker) -> None:
    tracker.say("wx-1", "我那个东西咋个还不来嘛", "nlu_fallback", 0.3, T0, channel="wechat",
                ranking=[("nlu_fallback", 0.3), ("delivery_delay", 0.28), ("track_mail", 0.2)])
    tracker.say("web-2", "邮政能寄活体螃蟹不", "ask_fee", 0.41, T0 + timedelta(minutes=1))
    tracker.say("web-3", "查件 EA123456785CN", "track_mail", 0.97, T0 + timedelta(minutes=2))
    tracker.say("web-3", "/affirm", "affirm", 0.2, T0 + timedelta(minutes=3))
    # Punctuation alone fell back too, but there is nothing in it to annotate.
    tracker.say("wx-1", "。。。", "nlu_fallback", 0.2, T0 + timedelta(minutes=3, seconds=30),
                channel="wechat", ranking=[("nlu_fallback", 0.2), ("delivery_delay", 0.24)])
    tracker.say("wx-4", "快递员把我的件放门卫了也不说一声", "track_mail", 0.88,
                T0 + timedelta(minutes=4), channel="wechat")
    reject_suggestion(uows, "wx-4", T0 + timedelta(minutes=6))

    result = collect(uows, tracker.url, since=T0 - timedelta(days=1), now=T0 + timedelta(hours=1))
    record_correction(uows, "web-5", "rest", "你们的人态度太差了", T0 + timedelta(minutes=8),
                      "greet", 0.7, "staff_attitude", "agent1")

    assert dict(result.added) == {"fallback": 1, "low_confidence": 1, "rejected_suggestion": 1}
    found = by_text(uows)
    assert set(found) == {"我那个东西咋个还不来嘛", "邮政能寄活体螃蟹不",
                          "快递员把我的件放门卫了也不说一声", "你们的人态度太差了"}
    fallback = found["我那个东西咋个还不来嘛"]
    # For a fallback the inbox shows what the bot would have chosen.
    assert (fallback.reason, fallback.predicted_intent, fallback.confidence, fallback.channel,
            fallback.sender_id) == ("fallback", "delivery_delay", 0.28, "wechat", "wx-1")
    assert fallback.received_at == T0 and fallback.status == "new"
    low = found["邮政能寄活体螃蟹不"]
    assert (low.reason, low.predicted_intent, low.confidence, low.channel) == (
        "low_confidence", "ask_fee", 0.41, "rest")
    rejected = found["快递员把我的件放门卫了也不说一声"]
    assert (rejected.reason, rejected.predicted_intent, rejected.channel) == (
        "rejected_suggestion", "track_mail", "wechat")
    corrected = found["你们的人态度太差了"]
    assert (corrected.reason, corrected.suggested_intent, corrected.reported_by,
            corrected.predicted_intent) == ("corrected", "staff_attitude", "agent1", "greet")


def test_collect_is_idempotent_and_reads_on_from_where_it_stopped(
        uows: UowFactory, tracker: RasaTracker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect_module, "OVERLAP_IDS", 0)
    for i in range(3):
        tracker.say(f"web-{i}", f"第{i}句听不懂的话", "out_of_scope", 0.2, T0 + timedelta(minutes=i))
    first = collect(uows, tracker.url, None, T0 + timedelta(hours=1))
    again = collect(uows, tracker.url, None, T0 + timedelta(hours=1))
    assert (first.total, first.events_read) == (3, 3)
    assert (again.total, again.events_read) == (0, 0)

    tracker.say("web-9", "又一句听不懂的话", "out_of_scope", 0.1, T0 + timedelta(hours=2))
    later = collect(uows, tracker.url, None, T0 + timedelta(hours=3))
    assert (later.total, later.events_read) == (1, 1)  # only the new event was read
    with uows() as uow:
        assert uow.session.execute(select(func.count(NluCandidate.id))).scalar_one() == 4
        cursor = uow.session.get(CollectCursor, "tracker")
        with tracker.store.engine.connect() as connection:
            newest = connection.execute(select(func.max(EVENTS.c.id))).scalar_one()
        assert cursor.position == newest


def test_rereading_overlapping_ids_adds_nothing_twice(uows: UowFactory,
                                                      tracker: RasaTracker) -> None:
    tracker.say("web-1", "啥子意思哦", "out_of_scope", 0.2, T0)
    reject_suggestion(uows, "web-1", T0 + timedelta(minutes=1))
    reject_suggestion(uows, "web-1", T0 + timedelta(minutes=2), key="second")
    for _ in range(3):
        collect(uows, tracker.url, None, T0 + timedelta(hours=1))
    # One message, low confidence and twice rejected: one candidate.
    assert [(c.text, c.reason) for c in list_candidates(uows)] == [("啥子意思哦", "low_confidence")]


def test_since_leaves_older_messages_out(uows: UowFactory, tracker: RasaTracker) -> None:
    tracker.say("web-1", "上个月的怪话", "out_of_scope", 0.2, T0 - timedelta(days=40))
    tracker.say("web-1", "今天的怪话", "out_of_scope", 0.2, T0)
    collect(uows, tracker.url, since=T0 - timedelta(days=30), now=T0)
    assert list(by_text(uows)) == ["今天的怪话"]


def test_the_threshold_decides_what_is_low(uows: UowFactory, tracker: RasaTracker) -> None:
    tracker.say("web-1", "寄到北京多少钱", "ask_fee", 0.55, T0)
    tracker.say("web-2", "寄到上海多少钱", "ask_fee", 0.65, T0)
    collect(uows, tracker.url, None, T0, low_confidence=0.6)
    assert list(by_text(uows)) == ["寄到北京多少钱"]


def test_a_rejection_is_matched_to_the_message_it_answered(uows: UowFactory,
                                                           tracker: RasaTracker) -> None:
    tracker.say("wx-7", "我的件被人冒领了", "not_received", 0.93, T0, channel="wechat")
    reject_suggestion(uows, "wx-7", T0 + timedelta(minutes=2))
    tracker.say("wx-7", "谢谢", "thank", 0.99, T0 + timedelta(minutes=5), channel="wechat")
    collect(uows, tracker.url, None, T0 + timedelta(hours=1))
    [candidate] = list_candidates(uows)
    assert (candidate.text, candidate.reason, candidate.received_at) == (
        "我的件被人冒领了", "rejected_suggestion", T0)


def test_a_rejection_without_a_message_in_the_tracker_is_counted(
        uows: UowFactory, tracker: RasaTracker) -> None:
    tracker.say("web-1", "你好", "greet", 0.99, T0)
    reject_suggestion(uows, "someone-else", T0)
    result = collect(uows, tracker.url, None, T0)
    assert (result.total, result.unmatched_replies) == (0, 1)


def test_a_correction_joins_the_collected_copy_of_the_message(uows: UowFactory,
                                                              tracker: RasaTracker) -> None:
    tracker.say("wx-1", "件都烂了咋个整", "track_mail", 0.45, T0, channel="wechat")
    collect(uows, tracker.url, None, T0)
    record_correction(uows, "wx-1", "wechat", "件都烂了咋个整", T0 + timedelta(seconds=1),
                      "track_mail", 0.45, "damaged_item", "agent2")
    # ... and a message corrected before collect ran is not added a second time.
    tracker.say("wx-2", "箱子压扁了", "track_mail", 0.4, T0 + timedelta(minutes=1),
                channel="wechat")
    record_correction(uows, "wx-2", "wechat", "箱子压扁了", T0 + timedelta(minutes=1),
                      "track_mail", 0.4, "damaged_item", "agent2")
    collect(uows, tracker.url, None, T0 + timedelta(minutes=5))
    assert sorted((c.text, c.reason, c.suggested_intent, c.reported_by)
                  for c in list_candidates(uows)) == [
        ("件都烂了咋个整", "corrected", "damaged_item", "agent2"),
        ("箱子压扁了", "corrected", "damaged_item", "agent2")]


def test_a_correction_must_name_a_domain_intent(uows: UowFactory) -> None:
    with pytest.raises(TrainerError, match="不在领域文件"):
        record_correction(uows, "wx-1", "wechat", "啥", T0, None, None, "no_such_intent", "a1")
    with pytest.raises(TrainerError, match="没有可标注的文字"):
        record_correction(uows, "wx-1", "wechat", "/greet", T0, None, None, "greet", "a1")
    with pytest.raises(TrainerError, match="没有可标注的文字"):
        record_correction(uows, "wx-1", "wechat", "？？", T0, None, None, "greet", "a1")


def test_no_tracker_store_yet_means_nothing_read(uows: UowFactory, tmp_path: Path) -> None:
    result = collect(uows, f"sqlite:///{tmp_path}/absent.db", None, T0)
    assert (result.tracker_found, result.total) == (False, 0)
    assert not (tmp_path / "absent.db").exists()


def _candidate(uows: UowFactory, text: str) -> int:
    return record_correction(uows, "web-1", "rest", text, T0, "track_mail", 0.5,
                             "track_mail", "agent1").id


def test_an_annotation_is_stored_with_its_spans_in_order(uows: UowFactory) -> None:
    text = "帮我查下EA123456785CN到蒙自没有"
    cid = _candidate(uows, text)
    place = text.index("蒙自")
    view = annotate(uows, cid, "track_mail", [
        {"start": place, "end": place + 2, "entity": "location"},
        {"start": 4, "end": 17, "entity": "tracking_number"}], "trainer1", T0)
    assert (view.status, view.intent, view.reviewed_by, view.reviewed_at) == (
        "annotated", "track_mail", "trainer1", T0)
    assert [(text[s.start:s.end], s.entity) for s in view.entities] == [
        ("EA123456785CN", "tracking_number"), ("蒙自", "location")]
    again = annotate(uows, cid, "delivery_delay", [], "trainer2", T0 + timedelta(minutes=1))
    assert (again.intent, again.entities, again.reviewed_by) == ("delivery_delay", [], "trainer2")


@pytest.mark.parametrize("intent, entities, message", [
    ("no_such_intent", [], "意图“no_such_intent”不在领域文件的意图列表中"),
    ("", [], "请选择意图"),
    ("track_mail", [{"start": 0, "end": 2, "entity": "person"}], "类型“person”不在领域文件的实体列表中"),
    ("track_mail", [{"start": 5, "end": 40, "entity": "location"}], "超出了消息范围（消息共 9 个字）"),
    ("track_mail", [{"start": 3, "end": 3, "entity": "location"}], "超出了消息范围"),
    ("track_mail", [{"start": 3, "end": 5, "entity": "location"},
                    {"start": 4, "end": 6, "entity": "item"}], "重叠了"),
    ("track_mail", [{"start": True, "end": 2, "entity": "location"}], "缺少起止位置"),
    ("track_mail", [{"end": 2, "entity": "location"}], "缺少起止位置"),
    ("track_mail", [{"start": 2, "end": 4, "entity": "location"}], "首尾不能是空格"),
    ("track_mail", [{"start": 0, "end": 2, "entity": "location", "value": "{x}"}], "花括号"),
    ("track_mail", {"start": 0}, "实体必须是一个列表"),
])
def test_annotations_are_checked_against_the_domain_and_the_text(
        uows: UowFactory, intent: str, entities: object, message: str) -> None:
    cid = _candidate(uows, "蒙自 寄到昆明多久")
    with pytest.raises(TrainerError) as error:
        annotate(uows, cid, intent, entities, "trainer1", T0)
    assert message in str(error.value)
    assert inbox.get_candidate(uows, cid).status == "new"  # nothing stored


def test_annotating_or_discarding_a_missing_candidate_says_so(uows: UowFactory) -> None:
    with pytest.raises(CandidateNotFound, match="没有编号为 99 的候选消息"):
        annotate(uows, 99, "greet", [], "trainer1", T0)
    with pytest.raises(CandidateNotFound):
        discard(uows, 99, "trainer1", T0)


def test_discard(uows: UowFactory) -> None:
    cid = _candidate(uows, "哈哈哈")
    view = discard(uows, cid, "trainer1", T0)
    assert (view.status, view.reviewed_by) == ("discarded", "trainer1")


def test_filters(uows: UowFactory, tracker: RasaTracker) -> None:
    tracker.say("wx-1", "寄个螃蟹到北京多少钱", "ask_fee", 0.35, T0, channel="wechat")
    tracker.say("web-2", "蒙自的网点几点关门", "ask_outlet", 0.55, T0 + timedelta(days=1))
    tracker.say("web-3", "乱七八糟", "nlu_fallback", 0.3, T0 + timedelta(days=2),
                ranking=[("nlu_fallback", 0.3), ("out_of_scope", 0.2)])
    collect(uows, tracker.url, None, T0 + timedelta(days=3))
    done = by_text(uows)["乱七八糟"].id
    annotate(uows, done, "out_of_scope", [], "trainer1", T0 + timedelta(days=3))

    def texts(**filters: object) -> list[str]:
        return [c.text for c in list_candidates(uows, **filters)]

    assert texts() == ["乱七八糟", "蒙自的网点几点关门", "寄个螃蟹到北京多少钱"]  # newest first
    assert texts(status="new") == ["蒙自的网点几点关门", "寄个螃蟹到北京多少钱"]
    assert texts(status="annotated") == ["乱七八糟"]
    assert texts(reason="fallback") == ["乱七八糟"]
    assert texts(intent="ask_outlet") == ["蒙自的网点几点关门"]
    assert texts(intent="out_of_scope") == ["乱七八糟"]
    assert texts(channel="wechat") == ["寄个螃蟹到北京多少钱"]
    assert texts(min_confidence=0.3, max_confidence=0.4) == ["寄个螃蟹到北京多少钱"]
    assert texts(min_confidence=0.5) == ["蒙自的网点几点关门"]
    assert texts(date_from=date(2025, 6, 11), date_to=date(2025, 6, 11)) == ["蒙自的网点几点关门"]
    assert texts(date_to=date(2025, 6, 10)) == ["寄个螃蟹到北京多少钱"]
    assert texts(limit=1) == ["乱七八糟"]
    assert inbox.count_by(uows, "status") == {"annotated": 1, "new": 2}
    assert inbox.count_by(uows, "reason") == {"fallback": 1, "low_confidence": 2}


@pytest.mark.parametrize("text", [
    "电话13812345678", "电话 138 1234 5678 找我", "+86 138-1234-5678", "座机0871-63019518",
    "座机087163019518", "身份证530102199001011234号", "老身份证530102900101123",
    "EA123456785CN 是单号", "没有号码",
])
def test_review_text_masks_without_moving_anything(text: str) -> None:
    shown = review_text(text)
    assert len(shown) == len(text)
    assert [i for i, (a, b) in enumerate(zip(text, shown)) if a != b and b != "*"] == []
    for digits in ("12345678", "63019518", "199001011234", "900101123"):
        assert digits not in shown or text.startswith("EA")  # tracking numbers stay readable
    if mask_text(text) == text or len(mask_text(text)) == len(text):
        assert shown == mask_text(text)  # the usual masks where lengths allow


def test_main_collect_prints_a_summary(tmp_path: Path, tracker: RasaTracker,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from bot.store.db import make_engine, make_session_factory
    from bot.store.uow import uow_factory

    from bot.config import local_now

    now = local_now().replace(microsecond=0)
    tracker.say("web-1", "听不懂的话", "out_of_scope", 0.2, now - timedelta(hours=1))
    url = f"sqlite:///{tmp_path}/store.db"
    args = ["--database-url", url, "--tracker-store-url", tracker.url,
            "--since", (now - timedelta(days=1)).date().isoformat()]
    assert main_collect(args) == 0
    out = capsys.readouterr().out
    assert "new candidates: 1" in out and "low_confidence       1" in out
    assert "new                  1" in out
    assert main_collect(args) == 0
    assert "new candidates: 0" in capsys.readouterr().out
    engine = make_engine(url)
    assert [c.text for c in list_candidates(uow_factory(make_session_factory(engine)))] == [
        "听不懂的话"]
    engine.dispose()
    assert main_collect(["--low-confidence", "7", "--database-url", url]) == 2


CLARIFY_BUTTONS = [{"title": "催一下迟迟没到的快递", "payload": '/delivery_delay{"tracking_number": "EA000000014CN"}'},
                   {"title": "查快递现在到哪了", "payload": '/track_mail{"tracking_number": "EA000000014CN"}'}]


def ask_to_clarify(tracker: RasaTracker, sender: str, text: str, at: datetime) -> None:
    """The bot falls back on `text` and asks which of two requests was meant."""
    tracker.say(sender, text, "nlu_fallback", 0.3, at, channel="wechat",
                ranking=[("nlu_fallback", 0.3), ("delivery_delay", 0.29), ("track_mail", 0.27)],
                reply="您是想催一下迟迟没到的快递，还是查快递现在到哪了？",
                action="action_clarify", buttons=CLARIFY_BUTTONS)


def test_a_customers_pick_labels_the_clarified_message(uows: UowFactory,
                                                      tracker: RasaTracker) -> None:
    ask_to_clarify(tracker, "wx-7", "EA000000014CN 咋个还不来", T0)
    tracker.say("wx-7", CLARIFY_BUTTONS[0]["payload"], "delivery_delay", 1.0,
                T0 + timedelta(seconds=20), channel="wechat")

    result = collect(uows, tracker.url, None, T0 + timedelta(hours=1))

    assert dict(result.added) == {"fallback": 1, "clarified": 1}
    [candidate] = list_candidates(uows, limit=10)
    assert (candidate.text, candidate.reason, candidate.suggested_intent,
            candidate.predicted_intent, candidate.reported_by) == (
        "EA000000014CN 咋个还不来", "clarified", "delivery_delay", "delivery_delay", None)
    assert candidate.reason_label == "客户在澄清时选择了意图"


def test_a_pick_after_the_fallback_was_collected_updates_it(uows: UowFactory,
                                                           tracker: RasaTracker) -> None:
    ask_to_clarify(tracker, "wx-8", "那个件咋整嘛", T0)
    first = collect(uows, tracker.url, None, T0 + timedelta(minutes=1))
    tracker.say("wx-8", CLARIFY_BUTTONS[1]["payload"], "track_mail", 1.0,
                T0 + timedelta(minutes=2), channel="wechat")
    second = collect(uows, tracker.url, None, T0 + timedelta(minutes=3))
    again = collect(uows, tracker.url, None, T0 + timedelta(minutes=4))

    assert dict(first.added) == {"fallback": 1}
    assert dict(second.added) == {"clarified": 1} and again.total == 0
    [candidate] = list_candidates(uows, limit=10)
    assert (candidate.reason, candidate.suggested_intent) == ("clarified", "track_mail")


def test_a_payload_that_was_not_offered_labels_nothing(uows: UowFactory,
                                                      tracker: RasaTracker) -> None:
    ask_to_clarify(tracker, "wx-9", "那个件咋整嘛", T0)
    # Typed by hand (REST), not one of the two offered requests.
    tracker.say("wx-9", "/lost_item", "lost_item", 1.0, T0 + timedelta(minutes=1))
    # A button answer with no clarifying question before it.
    tracker.say("web-10", "查件", "track_mail", 0.95, T0)
    tracker.say("web-10", "/affirm", "affirm", 1.0, T0 + timedelta(minutes=1))

    result = collect(uows, tracker.url, None, T0 + timedelta(hours=1))

    assert dict(result.added) == {"fallback": 1}
    [candidate] = list_candidates(uows, limit=10)
    assert (candidate.reason, candidate.suggested_intent) == ("fallback", None)


def test_an_agents_correction_wins_over_the_customers_pick(uows: UowFactory,
                                                          tracker: RasaTracker) -> None:
    ask_to_clarify(tracker, "wx-11", "那个件咋整嘛", T0)
    collect(uows, tracker.url, None, T0 + timedelta(minutes=1))
    record_correction(uows, "wx-11", "wechat", "那个件咋整嘛", T0, "delivery_delay", 0.29,
                      "not_received", "agent1")
    tracker.say("wx-11", CLARIFY_BUTTONS[0]["payload"], "delivery_delay", 1.0,
                T0 + timedelta(minutes=2), channel="wechat")

    collect(uows, tracker.url, None, T0 + timedelta(minutes=3))

    [candidate] = list_candidates(uows, limit=10)
    assert (candidate.reason, candidate.suggested_intent, candidate.reported_by) == (
        "corrected", "not_received", "agent1")


def test_review_text_masks_emails_addresses_and_names_in_place() -> None:
    text = ("收件人：张三丰，电话13812345678，邮箱zhang.san@qq.com，"
            "寄到曲靖市麒麟区南宁西路88号阳光花园3栋2单元502室，单号EA123456785CN，12月3号寄的")
    shown = review_text(text)
    assert len(shown) == len(text)
    assert shown == ("收件人：张**，电话138****5678，邮箱z********@qq.com，"
                     "寄到曲靖市麒麟区********************，单号EA123456785CN，12月3号寄的")
    # Whatever is not starred is where it was: offsets marked on the page hold for the text.
    assert [i for i, (a, b) in enumerate(zip(text, shown)) if a != b and b != "*"] == []


@pytest.mark.parametrize("text,shown", [
    ("收件人：岩温 勐海的", "收件人：岩* 勐海的"),
    ("我是张三丰，要投诉", "我是张**，要投诉"),
    ("找王建国师傅", "找王**师傅"),
    ("我是来投诉的，张先生态度差", "我是来投诉的，张先生态度差"),
])
def test_review_text_masks_names_but_not_ordinary_words(text: str, shown: str) -> None:
    assert review_text(text) == shown


# --- the trainer's page over real HTTP ---------------------------------------------------


@pytest.mark.asyncio
async def test_the_trainers_inbox_page_shows_names_emails_and_addresses_masked(
        bench: Bench) -> None:  # noqa: F811
    from bot.config import local_now

    text = "我叫李明华，邮箱liming88@163.com，件寄到昆明市盘龙区北京路1079号金尚俊园5栋了吗"
    await bench.tracker.say_async("wx-1", text, "nlu_fallback", 0.3,
                                  local_now() - timedelta(minutes=5), channel="wechat",
                                  ranking=[("nlu_fallback", 0.3), ("track_mail", 0.25)])
    trainer = await bench.login("trainer1")
    html = await (await trainer.get("/trainer/inbox")).text()

    assert "我叫李**，邮箱l*******@163.com，件寄到昆明市盘龙区**************了吗" in html
    for secret in ("李明华", "liming88", "北京路", "1079", "金尚俊园"):
        assert secret not in html
