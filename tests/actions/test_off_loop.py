"""The store is used in worker threads: the action server's event loop never waits for it.

rasa_sdk awaits every action on one event loop; a store call made on it would hold up every
other conversation for as long as the database takes.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import deps
from actions.complaints import (
    ActionComplaintProgress,
    ActionDraftFollowup,
    ActionEscalateComplaint,
    ActionExplainCompensation,
    ActionOpenClaim,
    ActionOpenComplaint,
    ValidateProgressForm,
)
from actions.handover import ActionRequestHuman
from actions.mail import ActionChaseMail, ActionQueryMail
from actions.pickup import ActionBookPickup, ActionUrgePickup
from bot.store.uow import UnitOfWork, UowFactory
from tests.actions.conftest import NOW, make_tracker, run

COMPLAINT = {"complaint_category": "damaged", "complaint_mail": "EA000000005CN",
             "contact_phone": "13812345678", "complaint_description": "包裹破了",
             "complaint_confirmed": True}
BOOKING = {"pickup_address": "蒙自市天马路18号邮政小区3栋", "contact_phone": "13987654321",
           "pickup_window": "明天上午"}


async def _required_slots(tracker: Tracker, domain: dict[str, Any]) -> tuple[list, list]:
    slots = await ValidateProgressForm().required_slots(
        ["progress_key"], CollectingDispatcher(), tracker, domain)
    return [], slots


# Every action (or form method) that reads or writes the store, with a tracker that gets it there.
STORE_USERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "action_query_mail": lambda domain: run(ActionQueryMail(), make_tracker(
        "EA000000005CN", slots={"tracking_number": "EA000000005CN"}), domain),
    "action_chase_mail": lambda domain: run(ActionChaseMail(), make_tracker(
        "好的", intent="affirm", slots={"mail_state": "problem",
                                        "last_tracking_number": "EA000000014CN"}), domain),
    "action_request_human": lambda domain: run(ActionRequestHuman(), make_tracker(
        "转人工", intent="request_human"), domain),
    "action_open_complaint": lambda domain: run(ActionOpenComplaint(), make_tracker(
        "对", intent="affirm", slots=COMPLAINT), domain),
    "action_draft_followup": lambda domain: run(ActionDraftFollowup(), make_tracker(
        "", slots={"last_work_order": "GD2026112500001"}), domain),
    "validate_progress_form.required_slots": lambda domain: _required_slots(make_tracker(
        "我的投诉怎么样了", intent="complaint_progress"), domain),
    "action_complaint_progress": lambda domain: run(ActionComplaintProgress(), make_tracker(
        "我的投诉怎么样了", intent="complaint_progress"), domain),
    "action_escalate_complaint": lambda domain: run(ActionEscalateComplaint(), make_tracker(
        "一直没人处理，我要升级", intent="escalate_complaint"), domain),
    "action_explain_compensation": lambda domain: run(ActionExplainCompensation(), make_tracker(
        "丢了能赔吗", intent="claim_compensation",
        slots={"tracking_number": "EA000000005CN"}), domain),
    "action_open_claim": lambda domain: run(ActionOpenClaim(), make_tracker(
        "好的", intent="affirm", slots={"claim_mail": "EA000000005CN"}), domain),
    "action_book_pickup": lambda domain: run(ActionBookPickup(), make_tracker(
        "明天上午", slots=BOOKING), domain),
    "action_urge_pickup": lambda domain: run(ActionUrgePickup(), make_tracker(
        "取件的怎么还没来", intent="urge_pickup"), domain),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", list(STORE_USERS))
async def test_every_store_call_is_made_off_the_event_loop(
        uows: UowFactory, domain: dict[str, Any], name: str) -> None:
    callers: list[int] = []

    def watched() -> UnitOfWork:
        callers.append(threading.get_ident())
        return uows()

    deps.override(watched, clock=lambda: NOW, stuck=48)
    await STORE_USERS[name](domain)
    assert callers, f"{name} did not use the store"
    assert threading.get_ident() not in callers, f"{name} used the store on the event loop"


@pytest.mark.asyncio
async def test_other_conversations_go_on_while_the_store_is_slow(
        uows: UowFactory, domain: dict[str, Any]) -> None:
    entered, released = threading.Event(), threading.Event()
    waits: list[bool] = []

    def slow() -> UnitOfWork:
        entered.set()
        # Only a coroutine on the event loop releases the store: it must get to run meanwhile.
        waits.append(released.wait(timeout=2))
        return uows()

    async def another_conversation() -> None:
        while not entered.is_set():
            await asyncio.sleep(0.005)
        released.set()

    deps.override(slow, clock=lambda: NOW, stuck=48)
    tracker = make_tracker("EA000000005CN", slots={"tracking_number": "EA000000005CN"})
    (messages, _), _ = await asyncio.wait_for(
        asyncio.gather(run(ActionQueryMail(), tracker, domain), another_conversation()), 10)
    assert waits == [True], "the event loop was blocked while the store was in use"
    assert [m["response"] for m in messages] == ["utter_mail_status"]
