from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from bot.store.status import Category, StatusCode
from bot.workorders.drafts import FollowupDrafts, branch_name, compensation_for, draft_followups
from bot.workorders.responsibility import (
    MailFacts,
    TrailEvent,
    WorkOrderFacts,
    suggest_responsibility,
)

NOW = datetime(2026, 11, 26, 14, 0)
KUNMING = "昆明邮区中心局"
BANNA = "西双版纳州邮区中心局"
CUIHU = "昆明市五华区邮政分公司翠湖营业部"
HONGQIAO = "宣威市邮政分公司虹桥营业部"
RAW_PHONE = "13812345678"
MASKED_PHONE = "138****5678"


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def event(hours: float, status: StatusCode, unit: str, text: str) -> TrailEvent:
    return TrailEvent(ago(hours), unit, unit, status.value, text)


# The demo case: EA000000005CN, Kunming -> Jinghong, last scanned arriving at the Banna centre.
JINGHONG_TRAIL = (
    event(30, StatusCode.POSTED, CUIHU, f"【{CUIHU}】已收寄，揽投员：杨志刚，电话：13708712345"),
    event(27, StatusCode.DEPARTED, CUIHU, f"【{CUIHU}】已发出，下一站【{KUNMING}】"),
    event(24, StatusCode.ARRIVED, KUNMING, f"【{KUNMING}】已到达，正在进行分拣处理"),
    event(21, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【{BANNA}】"),
    event(4, StatusCode.ARRIVED, BANNA, f"【{BANNA}】已到达，正在进行分拣处理"),
)
JINGHONG = MailFacts(
    number="EA000000005CN", product="EMS", status_code=StatusCode.IN_TRANSIT.value,
    sender_area="昆明市", recipient_area="景洪市", posted_at=ago(30), promised_by=ago(30) + timedelta(hours=48),
    insured_value=None, postage=Decimal("24.00"), signed_by=None, trail=JINGHONG_TRAIL,
)

# A delivered parcel, so that every category finds a unit.
XUANWEI = MailFacts(
    number="EA305127681CN", product="EMS", status_code=StatusCode.DELIVERED.value,
    sender_area="五华区", recipient_area="宣威市", posted_at=ago(80), promised_by=ago(8),
    insured_value=None, postage=Decimal("18.00"), signed_by="同事李明代收",
    trail=(
        event(80, StatusCode.POSTED, CUIHU, f"【{CUIHU}】已收寄，揽投员：杨志刚，电话：13708712345"),
        event(76, StatusCode.ARRIVED, KUNMING, f"【{KUNMING}】已到达，正在进行分拣处理"),
        event(70, StatusCode.DEPARTED, KUNMING, f"【{KUNMING}】已发出，下一站【曲靖邮区中心局】"),
        event(30, StatusCode.ARRIVED, HONGQIAO, f"【{HONGQIAO}】已到达"),
        event(28, StatusCode.OUT_FOR_DELIVERY, HONGQIAO, f"【{HONGQIAO}】安排投递，投递员：朱文斌，电话：15887412368"),
        event(26, StatusCode.DELIVERED, HONGQIAO, f"【{HONGQIAO}】已妥投，签收人：同事李明代收"),
    ),
)


def order(category: Category, mail: MailFacts | None = XUANWEI, description: str = "",
          phone: str | None = RAW_PHONE, deadline_hours: float = 20) -> WorkOrderFacts:
    return WorkOrderFacts(
        number="GD20261126-0007", channel="wechat", category=category.value,
        mail_number=mail.number if mail else None, customer_phone=phone, description=description,
        opened_at=ago(1), deadline=NOW + timedelta(hours=deadline_hours), priority="normal",
    )


def drafts_for(wo: WorkOrderFacts, mail: MailFacts | None) -> FollowupDrafts:
    return draft_followups(wo, mail, suggest_responsibility(wo, mail, NOW), NOW)


def texts(drafts: FollowupDrafts) -> tuple[str, str, str]:
    return drafts.feedback, drafts.callback_script, drafts.responsibility_note


# --- the demo case ----------------------------------------------------------------------------

def test_demo_damage_complaint_names_the_mail_the_damage_and_the_unit() -> None:
    wo = order(Category.DAMAGED, JINGHONG, "EA000000005CN 包裹破了我要投诉")
    suggestion = suggest_responsibility(wo, JINGHONG, NOW)
    assert suggestion.unit == BANNA
    drafts = draft_followups(wo, JINGHONG, suggestion, NOW)
    for text in (drafts.feedback, drafts.callback_script):
        assert "EA000000005CN" in text
        assert "破损" in text or "损毁" in text
        assert BANNA in text
    assert "72.00元" in drafts.feedback  # uninsured: 3 x 24.00
    assert "中国邮政西双版纳州分公司" in drafts.callback_script
    assert "GD20261126-0007" in drafts.feedback
    assert "11月27日 10:00" in drafts.feedback  # the deadline


# --- every category has its own wording and names the facts -----------------------------------

@pytest.mark.parametrize("category", list(Category))
def test_each_category_names_the_mail_the_category_and_the_unit(category: Category) -> None:
    wo = order(category)
    suggestion = suggest_responsibility(wo, XUANWEI, NOW)
    assert suggestion.unit is not None
    drafts = draft_followups(wo, XUANWEI, suggestion, NOW)
    for text in (drafts.feedback, drafts.callback_script):
        assert "EA305127681CN" in text
        assert category.label in text
        assert suggestion.unit in text
    assert "EMS" in drafts.feedback
    assert "已妥投" in drafts.feedback  # the current status from the trail
    assert "同事李*代收" in drafts.feedback and "李明" not in "".join(texts(drafts))


def _sentences(text: str) -> set[str]:
    return {part for part in re.split(r"[。！？；\n]", text) if part}


@pytest.mark.parametrize("part", ["feedback", "callback_script"])
def test_categories_are_worded_differently_not_one_template(part: str) -> None:
    # With the category name blanked out, a single template would give identical sentences.
    sentences = {}
    for category in Category:
        text = getattr(drafts_for(order(category), XUANWEI), part)
        sentences[category] = _sentences(text.replace(category.label, ""))
    for (a, x), (b, y) in itertools.combinations(sentences.items(), 2):
        assert len(x - y) >= 2 and len(y - x) >= 2, (a, b)


def test_callback_script_verifies_identity_and_asks_for_satisfaction() -> None:
    script = drafts_for(order(Category.DELAY), XUANWEI).callback_script
    assert script.startswith("回访话术")
    assert "中国邮政曲靖市分公司" in script  # the recipient lives in 宣威, Qujing branch
    assert MASKED_PHONE in script and "后四位" in script and "5678" in script
    assert "满意" in script and "不满意" in script
    assert "其他需要" in script  # anything left
    assert "微信公众号" in script


def test_callback_without_a_phone_verifies_another_way() -> None:
    script = drafts_for(order(Category.DELAY, phone=None), XUANWEI).callback_script
    assert "后四位" not in script and "邮件号" in script


def test_responsibility_note_states_unit_reason_and_timed_evidence() -> None:
    wo = order(Category.DAMAGED, JINGHONG, "包裹破了")
    suggestion = suggest_responsibility(wo, JINGHONG, NOW)
    note = draft_followups(wo, JINGHONG, suggestion, NOW).responsibility_note
    assert f"建议责任单位：{BANNA}（处理中心），可信度：中" in note
    assert suggestion.reason in note
    assert f"2026-11-26 10:00 {BANNA}" in note
    assert "2026年11月27日 10:00" in note and "已超时" not in note


def test_note_flags_an_overdue_order() -> None:
    note = drafts_for(order(Category.DELAY, deadline_hours=-3), XUANWEI).responsibility_note
    assert "已超时3.0小时" in note


def test_no_mail_still_drafts_and_says_the_unit_is_open() -> None:
    wo = replace(order(Category.LOST, None), mail_number="EA999999995CN")
    drafts = drafts_for(wo, None)
    assert "EA999999995CN" in drafts.feedback and "EA999999995CN" in drafts.callback_script
    assert "相关处理单位" in drafts.feedback
    assert "建议责任单位：待定" in drafts.responsibility_note
    assert "无可用的轨迹记录" in drafts.responsibility_note


def test_branch_can_be_given() -> None:
    wo = order(Category.ATTITUDE)
    drafts = draft_followups(wo, XUANWEI, suggest_responsibility(wo, XUANWEI, NOW), NOW, branch="中国邮政红河州分公司")
    assert "中国邮政红河州分公司" in drafts.callback_script


def test_branch_follows_the_customer_end() -> None:
    assert branch_name(order(Category.DELAY, JINGHONG), JINGHONG) == "中国邮政西双版纳州分公司"
    # Pickup complaints come from the sender; Kunming is none of the four branches: fall back.
    assert branch_name(order(Category.PICKUP_SERVICE, JINGHONG), JINGHONG) == "中国邮政西双版纳州分公司"
    sent_from_luoping = replace(JINGHONG, sender_area="罗平县")
    assert branch_name(order(Category.PICKUP_SERVICE, sent_from_luoping), sent_from_luoping) == "中国邮政曲靖市分公司"


# --- compensation -----------------------------------------------------------------------------

def test_uninsured_cap_is_three_times_the_postage() -> None:
    feedback = drafts_for(order(Category.LOST), XUANWEI).feedback
    assert "18.00元×3=54.00元" in feedback and "未保价" in feedback
    assert compensation_for(XUANWEI, Category.LOST).limit == Decimal("54.00")


def test_insured_mail_is_paid_at_the_insured_value() -> None:
    insured = replace(XUANWEI, insured_value=Decimal("2000"))
    lost = drafts_for(order(Category.LOST, insured), insured)
    assert "保价金额2000.00元" in lost.feedback and "54.00" not in lost.feedback
    damaged = drafts_for(order(Category.DAMAGED, insured), insured).feedback
    assert "保价金额2000.00元" in damaged and "比例" in damaged  # pro rata for partial damage
    rule = compensation_for(insured, Category.DAMAGED)
    assert (rule.basis, rule.limit) == ("insured", Decimal("2000.00"))


def test_registered_letter_is_three_times_the_postage() -> None:
    letter = replace(XUANWEI, number="RR258039147CN", product="挂号信", postage=Decimal("4.20"))
    feedback = drafts_for(order(Category.LOST, letter), letter).feedback
    assert "挂号信" in feedback and "4.20元×3=12.60元" in feedback
    assert compensation_for(letter, "damaged").basis == "registered"
    insured_letter = replace(letter, insured_value=Decimal("500.00"))
    assert compensation_for(insured_letter, "lost").basis == "insured"


@pytest.mark.parametrize("category", [Category.CONTENTS_MISSING, Category.DAMAGED])
def test_contents_missing_and_damage_carry_the_rule(category: Category) -> None:
    drafts = drafts_for(order(category), XUANWEI)
    assert "54.00元" in drafts.feedback and "54.00元" in drafts.callback_script
    assert "重大过失" in drafts.responsibility_note


@pytest.mark.parametrize("category", [Category.DELAY, Category.ATTITUDE, Category.DATA_LEAK])
def test_no_compensation_text_where_none_applies(category: Category) -> None:
    assert "三倍" not in "".join(texts(drafts_for(order(category), XUANWEI)))


# --- personal data ----------------------------------------------------------------------------

@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("description", [
    f"包裹破了我要投诉，回电{RAW_PHONE}",
    "联系我 138 1234 5678，身份证530102199001011234",
])
def test_phones_are_masked_everywhere(category: Category, description: str) -> None:
    drafts = drafts_for(order(category, description=description), XUANWEI)
    for text in texts(drafts):
        assert RAW_PHONE not in text
        assert "1234 5678" not in text and "12345678" not in text
        assert "530102199001011234" not in text
        assert MASKED_PHONE in text
        # Phones of the postal staff in scan descriptions are masked too.
        assert "13708712345" not in text and "15887412368" not in text


def test_the_customer_description_is_quoted_masked() -> None:
    drafts = drafts_for(order(Category.DELIVERY_SERVICE, description=f"没打电话{RAW_PHONE}就放驿站了"), XUANWEI)
    assert f"没打电话{MASKED_PHONE}就放驿站了" in drafts.feedback
