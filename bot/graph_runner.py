"""Rasa's model graph run in order, without dask's scheduler (a runtime fix of bot/server.py).

Rasa 3.6 runs its model graph through ``dask.get`` on every parse and on every action
prediction: three or four graph runs per customer message. Dask's synchronous scheduler
orders the tasks, queues them and wraps each result, about a sixth of the Rasa server's time
under load on a graph of a dozen small nodes. :func:`run_in_order` computes the same targets
depth-first, each node once, with the same arguments (the results of the nodes it needs,
the ``(name, value)`` inputs as given); :func:`run_graphs_in_order` makes Rasa's
``DaskGraphRunner.run`` use it, keeping its signature, its result and its ``GraphRunError``.
The minimal graph for a list of targets is built once per runner instead of once per run.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text


def run_in_order(graph: Dict[str, Any], targets: List[str]) -> Dict[str, Any]:
    """The targets' results of a dask-style graph, each task computed once, depth first.

    A task is a tuple whose first item is callable; its other items are keys of the graph
    (replaced by their results) or literals. Any other value is a literal result.
    Each target's result is a ``(name, value)`` pair, as Rasa's graph nodes return them.
    """
    results: Dict[str, Any] = {}

    def compute(key: str) -> Any:
        if key in results:
            return results[key]
        task = graph[key]
        if isinstance(task, tuple) and task and callable(task[0]):
            args = [compute(a) if isinstance(a, str) and a in graph else a for a in task[1:]]
            value = task[0](*args)
        else:
            value = task
        results[key] = value
        return value

    return dict(compute(target) for target in targets)


def run_graphs_in_order() -> None:
    """Make ``DaskGraphRunner.run`` compute with :func:`run_in_order`. Idempotent."""
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    if getattr(DaskGraphRunner, "_postdesk_original_run", None) is not None:
        return

    def run(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = list(targets if targets else self._graph_schema.target_names)
        graphs = self.__dict__.setdefault("_postdesk_graphs", {})
        key = tuple(run_targets)
        if key not in graphs:
            graphs[key] = self._build_dask_graph(
                self._graph_schema.minimal_graph_schema(run_targets))
        run_graph = dict(graphs[key])
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        try:
            return run_in_order(run_graph, run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner._postdesk_original_run = DaskGraphRunner.run
    DaskGraphRunner.run = run
