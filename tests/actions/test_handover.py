"""Hand-over requests are recorded for the workbench, once per waiting customer."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.handover import ActionRequestHuman, handover_reason
from bot.store import services
from tests.actions.conftest import make_tracker


@pytest.mark.asyncio
async def test_request_human_queues_the_conversation_once(uows, domain):
    action = ActionRequestHuman()
    responses = []
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, make_tracker("转人工", intent="request_human"), domain)
        responses += [m["response"] for m in dispatcher.messages]
    assert responses == ["utter_handover_created", "utter_handover_waiting"]
    waiting = services.list_waiting_handovers(uows)
    assert len(waiting) == 1 and waiting[0].last_message == "转人工"


@pytest.mark.asyncio
async def test_queue_position_counts_customers_ahead(uows, domain):
    for sender in ("a", "b"):
        await ActionRequestHuman().run(
            CollectingDispatcher(), make_tracker("人工", intent="request_human", sender_id=sender),
            domain)
    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(
        dispatcher, make_tracker("我的件丢了", intent="lost_item", sender_id="c"), domain)
    assert dispatcher.messages[0]["ahead"] == 2
    reasons = {w.sender_id: w.reason for w in services.list_waiting_handovers(uows)}
    assert reasons == {"a": "request_human", "b": "request_human", "c": "lost_item"}


def test_reason_names_the_complaint():
    assert handover_reason("damaged_item") == "damaged_item"
    assert handover_reason("request_human") == "request_human"
    assert handover_reason("affirm") == "fallback"


@pytest.mark.asyncio
async def test_a_second_miss_is_queued_as_a_fallback(uows, domain):
    tracker = make_tracker("那个包裹", intent="nlu_fallback")
    tracker.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.25},
                                                {"name": "track_mail", "confidence": 0.17}]
    await ActionRequestHuman().run(CollectingDispatcher(), tracker, domain)
    [waiting] = services.list_waiting_handovers(uows)
    assert (waiting.reason, waiting.last_message) == ("fallback", "那个包裹")
