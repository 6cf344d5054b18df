"""bot.dialogue.past_states: a tracker's states remembered per point of the conversation are
exactly those Rasa computes, each caller gets its own copy, and a new event is seen at once."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dialogue.past_states import copy_states, remember_past_states
from tests.support.model import ROOT

ARGUMENTS = [
    {},
    {"omit_unset_slots": True},
    {"ignore_rule_only_turns": True,
     "rule_only_data": {"rule_only_slots": ["requested_slot"],
                       "rule_only_loops": ["mail_query_form"]}},
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def original() -> Any:
    remember_past_states()
    return DialogueStateTracker._postdesk_original_past_states


def prefixes(domain: Domain) -> Iterator[DialogueStateTracker]:
    """Every prefix of the project's stories and rules that ends before a bot action."""
    from rasa.core.training import load_data

    for folder in ("stories", "rules"):
        for full in load_data(str(ROOT / "data" / folder), domain, augmentation_factor=0):
            tracker = DialogueStateTracker(full.sender_id, domain.slots)
            for event in full.events:
                if isinstance(event, ActionExecuted) and len(tracker.events) > 1:
                    yield tracker.copy()
                tracker.update(event)


def leaves_are_immutable(states: list[dict[str, Any]]) -> bool:
    return all(isinstance(leaf, (str, int, float, tuple, type(None)))
               for state in states for sub in state.values() for leaf in sub.values())


def test_remembered_states_are_rasas_own(domain: Domain, original: Any) -> None:
    remember_past_states()  # idempotent
    checked = 0
    for tracker in prefixes(domain):
        for arguments in ARGUMENTS:
            expected = original(tracker, domain, **arguments)
            first = tracker.past_states(domain, **arguments)
            again = tracker.past_states(domain, **arguments)
            assert first == again == expected
            assert leaves_are_immutable(expected)
            checked += 1
    assert checked > 300


def test_each_caller_gets_its_own_copy_with_rasas_sharing(domain: Domain) -> None:
    tracker = next(t for t in prefixes(domain) if len(t.events) > 6)
    arguments = ARGUMENTS[2]
    first = tracker.past_states(domain, **arguments)
    first[-1].clear()
    first[0]["prev_action"] = {"action_name": "changed"}
    again = tracker.past_states(domain, **arguments)
    assert again[-1] and again[0].get("prev_action") != {"action_name": "changed"}

    shared = {"intent": "track_mail"}
    states = [{"user": shared}, {"user": shared, "prev_action": {"action_name": "x"}}]
    copied = copy_states(states)
    assert copied == states and copied[0]["user"] is copied[1]["user"]
    assert copied[0]["user"] is not shared


def test_a_new_event_is_seen_at_once(domain: Domain, original: Any) -> None:
    tracker = next(t for t in prefixes(domain) if len(t.events) > 6)
    before = tracker.past_states(domain)
    tracker.update(SlotSet("tracking_number", "EA123456785CN"))
    tracker.update(ActionExecuted("action_query_mail"))
    after = tracker.past_states(domain)
    assert after == original(tracker, domain) and after != before


@pytest.mark.model
def test_the_model_predicts_alike_with_and_without(trained_model: Path, domain: Domain,
                                                   original: Any) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(str(trained_model))
    remembered = DialogueStateTracker.past_states
    trackers = list(prefixes(agent.domain))[:80]
    ours = [agent.processor._predict_next_with_tracker(t) for t in trackers]
    DialogueStateTracker.past_states = original
    try:
        theirs = [agent.processor._predict_next_with_tracker(t.copy()) for t in trackers]
    finally:
        DialogueStateTracker.past_states = remembered
    for a, b in zip(ours, theirs):
        assert (a.policy_name, a.max_confidence_index) == (b.policy_name, b.max_confidence_index)
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-6)
