"""bot.dialogue.cached_ted: TED with a memory of scored states predicts exactly what TED does."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.core.policies.ted_policy import TEDPolicy

from bot.dialogue.cached_ted import CachedTEDPolicy
from tests.support.model import ROOT

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def loaded(trained_model: Path) -> tuple[Any, CachedTEDPolicy]:
    """The trained model's agent and its TED policy."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(trained_model))
    nodes = agent.processor.graph_runner._instantiated_nodes  # Rasa 3.6's DaskGraphRunner
    teds = [n._component for n in nodes.values() if isinstance(n._component, TEDPolicy)]
    assert len(teds) == 1 and isinstance(teds[0], CachedTEDPolicy)
    return agent, teds[0]


def story_states(domain: Any) -> list[Any]:
    """Every prefix of the project's stories that ends before a bot action (what TED scores)."""
    from rasa.core.training import load_data
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    trackers = load_data(str(ROOT / "data" / "stories"), domain, augmentation_factor=0)
    prefixes = []
    for full in trackers:
        tracker = DialogueStateTracker(full.sender_id, domain.slots)
        for event in full.events:
            if isinstance(event, ActionExecuted) and len(tracker.events) > 1:
                prefixes.append(tracker.copy())
            tracker.update(event)
    return prefixes


def test_predicts_what_ted_predicts_and_remembers(loaded: tuple[Any, CachedTEDPolicy]) -> None:
    agent, ted = loaded
    domain = agent.domain
    prefixes = story_states(domain)
    assert len(prefixes) > 30
    first = [ted.predict_action_probabilities(t, domain) for t in prefixes]
    misses = ted.misses
    again = [ted.predict_action_probabilities(t, domain) for t in prefixes]
    plain = [TEDPolicy.predict_action_probabilities(ted, t, domain) for t in prefixes]

    for cached, remembered, own in zip(first, again, plain):
        assert np.allclose(cached.probabilities, own.probabilities, atol=1e-6)
        assert remembered.probabilities == cached.probabilities
        assert remembered.policy_name == own.policy_name == "CachedTEDPolicy"
    assert ted.misses == misses  # the second pass was all remembered ...
    assert ted.hits >= len(prefixes)
    distinct = {ted.state_key(t, domain, None) for t in prefixes}
    assert None not in distinct and 1 < len(distinct) <= misses  # ... each state scored once
    # Different states are told apart: not every prefix got the same answer.
    assert len({tuple(np.round(p.probabilities, 6)) for p in first}) > 5


def test_a_handed_out_prediction_can_be_changed_without_harm(
        loaded: tuple[Any, CachedTEDPolicy]) -> None:
    agent, ted = loaded
    tracker = story_states(agent.domain)[3]
    one = ted.predict_action_probabilities(tracker, agent.domain)
    one.probabilities[:] = [0.0] * len(one.probabilities)
    two = ted.predict_action_probabilities(tracker, agent.domain)
    assert max(two.probabilities) > 0


def test_the_agent_answers_with_the_cached_policy(loaded: tuple[Any, CachedTEDPolicy]) -> None:
    agent, _ = loaded
    replies = asyncio.run(agent.handle_text("你好", sender_id="cached-ted-hello"))
    assert replies and all(r.get("text") for r in replies)
