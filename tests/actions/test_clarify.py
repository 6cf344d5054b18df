"""Clarifying instead of a dead end: the two likeliest requests as choices, and what a pick
carries on (actions/clarify.py, and the complaint form's use of the clarified message)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.clarify import CHOICE_LABELS, ActionClarify, choices, customer_text
from actions.complaints import ValidateComplaintForm, other_problems, strongest_complaint
from tests.actions.conftest import run, slots_of

NUMBER = {"entity": "tracking_number", "value": "EA000000014CN", "start": 0, "end": 13}


def unsure(text: str, ranking: list[tuple[str, float]], entities: list[dict] | None = None,
           slots: dict[str, Any] | None = None) -> Tracker:
    """A tracker whose latest message the classifier was unsure about."""
    latest = {"text": text, "intent": {"name": ranking[0][0], "confidence": ranking[0][1]},
              "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
              "entities": entities or []}
    return Tracker(sender_id="c-1", slots={"clarify_text": None, **(slots or {})},
                   latest_message=latest,
                   events=[{"event": "user", "text": text, "parse_data": latest}],
                   paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


def test_choices_skip_chit_chat_and_the_fallback_itself() -> None:
    parse = {"intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.3}, {"name": "greet", "confidence": 0.29},
        {"name": "delivery_delay", "confidence": 0.28}, {"name": "thank", "confidence": 0.2},
        {"name": "track_mail", "confidence": 0.12}, {"name": "lost_item", "confidence": 0.1}]}
    assert choices(parse) == [("delivery_delay", 0.28), ("track_mail", 0.12)]


def test_a_bare_number_reading_counts_towards_the_mail_query() -> None:
    parse = {"intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.25}, {"name": "inform", "confidence": 0.25},
        {"name": "delivery_delay", "confidence": 0.2}, {"name": "track_mail", "confidence": 0.1}]}
    assert choices(parse) == [("track_mail", pytest.approx(0.35)), ("delivery_delay", 0.2)]


def test_a_request_with_almost_no_support_is_not_offered() -> None:
    parse = {"intent_ranking": [{"name": "track_mail", "confidence": 0.4},
                                {"name": "out_of_scope", "confidence": 0.3},
                                {"name": "ask_fee", "confidence": 0.01}]}
    assert choices(parse) == [("track_mail", 0.4)]


@pytest.mark.asyncio
async def test_the_bot_asks_which_of_the_two_was_meant(domain: dict[str, Any]) -> None:
    tracker = unsure("EA000000014CN 怎么还没到", [("nlu_fallback", 0.3), ("delivery_delay", 0.43),
                                                  ("greet", 0.40), ("track_mail", 0.1)],
                     entities=[NUMBER])
    messages, events = await run(ActionClarify(), tracker, domain)

    [message] = messages
    assert message["response"] == "utter_clarify"
    assert (message["first"], message["second"]) == (CHOICE_LABELS["delivery_delay"],
                                                     CHOICE_LABELS["track_mail"])
    payloads = [b["payload"] for b in message["buttons"]]
    assert [p.split("{")[0] for p in payloads] == ["/delivery_delay", "/track_mail"]
    # The pick carries the message's number into the flow it starts.
    assert json.loads(payloads[0][len("/delivery_delay"):]) == {"tracking_number": "EA000000014CN"}
    assert slots_of(events) == {"clarify_text": "EA000000014CN 怎么还没到"}


@pytest.mark.asyncio
async def test_with_nothing_plausible_to_offer_it_asks_to_rephrase(domain: dict[str, Any]) -> None:
    tracker = unsure("asdfgh", [("nlu_fallback", 0.3), ("out_of_scope", 0.2), ("greet", 0.1),
                                ("ask_fee", 0.03)])
    messages, events = await run(ActionClarify(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_ask_rephrase"]
    assert slots_of(events) == {"clarify_text": None}


@pytest.mark.asyncio
async def test_punctuation_alone_is_asked_to_rephrase_not_offered_guesses(
        domain: dict[str, Any]) -> None:
    tracker = unsure("。", [("nlu_fallback", 0.2), ("delivery_delay", 0.24), ("inform", 0.2),
                           ("track_mail", 0.15)])
    messages, events = await run(ActionClarify(), tracker, domain)
    assert [m["response"] for m in messages] == ["utter_ask_rephrase"]
    assert slots_of(events) == {"clarify_text": None}


def test_after_a_pick_the_customers_words_are_the_clarified_message() -> None:
    picked = unsure('/damaged_item{"tracking_number": "EA000000014CN"}',
                    [("damaged_item", 1.0)], slots={"clarify_text": "箱子烂了 东西也少了"})
    typed = unsure("箱子烂了", [("damaged_item", 0.9)], slots={"clarify_text": "旧的一句"})
    assert customer_text(picked) == "箱子烂了 东西也少了"
    assert customer_text(typed) == "箱子烂了"


@pytest.mark.asyncio
async def test_a_complaint_started_by_a_pick_describes_the_clarified_message(
        domain: dict[str, Any]) -> None:
    tracker = unsure('/damaged_item{"tracking_number": "EA000000014CN"}', [("damaged_item", 1.0)],
                     slots={"clarify_text": "等了十天 到手箱子烂了 鸡蛋碎了一半",
                            "complaint_description": None, "requested_slot": None})
    slots = await ValidateComplaintForm().extract_complaint_description(None, tracker, domain)
    assert slots["complaint_description"] == "等了十天 到手箱子烂了 鸡蛋碎了一半"
    assert slots["complaint_category"] == "damaged"


REVIEW = "差评！！等了快两周才到，箱子压得稀烂，里面的杯子碎了，打电话给快递员还被骂了一顿"
REVIEW_RANKING = [("damaged_item", 0.46), ("staff_attitude", 0.21), ("delivery_delay", 0.14),
                  ("lost_item", 0.05), ("track_mail", 0.04)]


def test_the_strongest_complaint_and_the_other_problems_of_a_long_review() -> None:
    parse = unsure(REVIEW, REVIEW_RANKING).latest_message
    assert strongest_complaint(parse) == "damaged_item"
    assert other_problems(parse, "damaged_item") == ["服务态度", "延误"]
    # The main problem may rank below a non-complaint intent: the strongest complaint still leads.
    mixed = unsure(REVIEW, [("delivery_delay", 0.4), ("staff_attitude", 0.3),
                            ("damaged_item", 0.2)]).latest_message
    assert strongest_complaint(mixed) == "staff_attitude"


@pytest.mark.asyncio
async def test_a_review_with_several_problems_keeps_the_whole_text(domain: dict[str, Any]) -> None:
    tracker = unsure(REVIEW, REVIEW_RANKING, slots={"complaint_description": None,
                                                     "requested_slot": None})
    slots = await ValidateComplaintForm().extract_complaint_description(None, tracker, domain)
    assert slots == {"complaint_category": "damaged",
                     "complaint_description": f"{REVIEW}（同时反映：服务态度、延误）"}
