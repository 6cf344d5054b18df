"""bot.graph_runner: Rasa's model graph run in order gives what dask's scheduler gives."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import dask
import pytest

from bot.graph_runner import run_graphs_in_order, run_in_order


def test_same_results_as_dask_each_task_once() -> None:
    calls: list[str] = []

    def node(name: str) -> Any:
        def call(*inputs: Any) -> tuple[str, Any]:
            calls.append(name)
            return name, [name, *[i[1] if isinstance(i, tuple) else i for i in inputs]]
        return call

    graph = {
        "__message__": ("__message__", "寄到腾冲多少钱"),        # an input: a literal pair
        "tokens": (node("tokens"), "__message__"),
        "features": (node("features"), "tokens", "__message__"),
        "intent": (node("intent"), "features", "tokens"),
        "entities": (node("entities"), "tokens"),
        "unused": (node("unused"), "tokens"),
    }
    ours = run_in_order(graph, ["intent", "entities"])
    assert sorted(calls) == ["entities", "features", "intent", "tokens"]  # once each, no "unused"
    calls.clear()
    theirs = dict(dask.get(graph, ["intent", "entities"]))
    assert ours == theirs
    assert ours["intent"][0] == "intent" and ours["intent"][1][0] == "features"  # fed through


def test_an_error_in_a_node_reaches_the_caller() -> None:
    def broken(*_: Any) -> None:
        raise ValueError("node failed")

    with pytest.raises(ValueError, match="node failed"):
        run_in_order({"a": (broken,), "b": (lambda a: a, "a")}, ["b"])


@pytest.mark.model
def test_the_model_parses_and_predicts_alike(trained_model: Path) -> None:
    from rasa.core.agent import Agent
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    run_graphs_in_order()
    run_graphs_in_order()  # idempotent
    patched, original = DaskGraphRunner.run, DaskGraphRunner._postdesk_original_run
    assert patched is not original
    agent = Agent.load(str(trained_model))
    texts = ["EA000000005CN到哪了", "你好", "快递员态度太差了，我要投诉", "寄到腾冲多少钱",
             "转人工", "今天天气怎么样"]

    def outcomes() -> list[Any]:
        parsed = [asyncio.run(agent.parse_message(t)) for t in texts]
        predicted = []
        for p in parsed:
            tracker = DialogueStateTracker("graph-runner", agent.domain.slots)
            for event in (ActionExecuted("action_session_start"), SessionStarted(),
                          ActionExecuted("action_listen"),
                          UserUttered(p["text"], p["intent"], p["entities"], p)):
                tracker.update(event)
            prediction = agent.processor._predict_next_with_tracker(tracker)
            predicted.append((prediction.max_confidence_index, prediction.policy_name))
        return [(p["intent"]["name"], round(p["intent"]["confidence"], 6),
                 [(e["entity"], e["value"]) for e in p["entities"]]) for p in parsed] + predicted

    ours = outcomes()
    DaskGraphRunner.run = original
    try:
        theirs = outcomes()
    finally:
        DaskGraphRunner.run = patched
    assert ours == theirs
    assert len({o[0] for o in ours[:len(texts)]}) > 3  # the texts were read differently
