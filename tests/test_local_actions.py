"""bot.local_actions: the mail form's validator run inside the Rasa server answers exactly as
the action server does, and its errors reach Rasa as the action server's would."""
from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot import local_actions
from bot.config import ACTION_TOKEN_HEADER
from bot.local_actions import run_local, runs_locally
from tests.support.model import ROOT

# (what the customer wrote, the number the form got, earlier re-asks)
CASES = [
    ("EA000000005CN到哪了", "EA000000005CN", 0),     # well formed
    ("ea000000005cn", "ea000000005cn", 0),             # lower case: normalised
    ("EA000000006CN到哪了", "EA000000006CN", 0),     # check digit fails: asked again
    ("EA000000006CN", "EA000000006CN", 2),             # third mistyped number: accepted
    ("我的快递", "我的快递", 0),                        # no number at all
    ("1234567890123", "1234567890123", 1),             # 13 digits
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def action_call(domain: Domain, text: str, value: str, attempts: int) -> dict[str, Any]:
    """The body Rasa posts for ``validate_mail_query_form`` in this situation."""
    events = [ActionExecuted("action_listen"),
              UserUttered(text, {"name": "track_mail", "confidence": 0.9}, [], message_id="m1"),
              ActionExecuted("mail_query_form"), ActiveLoop("mail_query_form")]
    if attempts:
        events.insert(0, SlotSet("tracking_attempts", float(attempts)))
    events.append(SlotSet("tracking_number", value))
    tracker = DialogueStateTracker.from_events("rest:local-test", events, domain.slots)
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")
    return RemoteAction("validate_mail_query_form", endpoint)._action_call_format(tracker,
                                                                                   domain)


def test_only_the_listed_validators_run_here(domain: Domain) -> None:
    assert runs_locally(action_call(domain, *CASES[0]))
    assert not runs_locally({"next_action": "action_query_mail"})
    assert not runs_locally({"next_action": "validate_complaint_form"})
    assert not runs_locally(None) and not runs_locally("validate_mail_query_form")


def test_the_answers_are_those_of_the_validator(domain: Domain) -> None:
    good = asyncio.run(run_local(action_call(domain, *CASES[0])))
    assert {"event": "slot", "name": "tracking_number", "value": "EA000000005CN",
            "timestamp": None} in good["events"]
    assert good["responses"] == []
    lower = asyncio.run(run_local(action_call(domain, *CASES[1])))
    assert [e["value"] for e in lower["events"] if e["name"] == "tracking_number"] == [
        "EA000000005CN"]
    mistyped = asyncio.run(run_local(action_call(domain, *CASES[2])))
    assert [r["response"] for r in mistyped["responses"]] == ["utter_tracking_mistyped"]
    assert [e["value"] for e in mistyped["events"] if e["name"] == "tracking_number"] == [None]


def test_a_failing_validator_is_the_action_server_s_500(domain: Domain, monkeypatch) -> None:
    class Broken:
        async def run(self, call: Any) -> Any:
            raise RuntimeError("bug")

    monkeypatch.setattr(local_actions, "_executor", Broken())
    with pytest.raises(ClientResponseError) as error:
        asyncio.run(run_local(action_call(domain, *CASES[0])))
    assert error.value.status == 500


def test_a_rejection_is_the_action_server_s_400(domain: Domain, monkeypatch) -> None:
    from rasa_sdk.interfaces import ActionExecutionRejection

    class Rejecting:
        async def run(self, call: Any) -> Any:
            raise ActionExecutionRejection("validate_mail_query_form", "no")

    monkeypatch.setattr(local_actions, "_executor", Rejecting())
    with pytest.raises(ClientResponseError) as error:
        asyncio.run(run_local(action_call(domain, *CASES[0])))
    assert error.value.status == 400
    assert json.loads(error.value.text)["action_name"] == "validate_mail_query_form"


def test_every_case_is_answered_as_the_running_action_server_answers(stack: Any,
                                                                    domain: Domain) -> None:
    for case in CASES:
        body = action_call(domain, *case)
        request = urllib.request.Request(
            f"http://127.0.0.1:{stack.action_port}/webhook", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     ACTION_TOKEN_HEADER: stack.action_token})
        with urllib.request.urlopen(request, timeout=30) as answer:
            remote = json.loads(answer.read())
        assert asyncio.run(run_local(body)) == remote, case
