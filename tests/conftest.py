"""What a test needs besides Python, as markers (registered in pytest.ini).

* ``model``: the trained model models/postdesk.tar.gz (`make train`). A test gets the marker
  here when it uses the ``trained_model`` fixture (directly or through another fixture) or is
  a ``server`` test (the servers load the model), so a test needing the model asks for
  ``trained_model`` rather than reading the path itself.
* ``server``: the Rasa and action servers as real processes. A test gets it here when it uses
  the shared ``stack`` below; others carry it themselves (tests/trainer/test_retrain.py).
* ``browser``: Chromium driving the workbench (every test of tests/browser, see its conftest).

`make unit` runs everything else: ``pytest -m "not model and not server and not browser"``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

from bot.nlu.evaluate import Result, evaluate_sets, evaluation_sets
from tests.support.model import MODEL, ROOT

if TYPE_CHECKING:
    from bot.launcher import Stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``server`` the tests that use `stack`, and ``model`` those that use `trained_model`
    and every ``server`` test."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "stack" in fixtures:
            item.add_marker(pytest.mark.server)
        if "trained_model" in fixtures or item.get_closest_marker("server") is not None:
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The trained model's archive; a test without it fails saying how to make one."""
    assert MODEL.exists(), "no trained model: run 'make train'"
    return MODEL


@pytest.fixture(scope="session")
def model_results(trained_model: Path) -> dict[str, Result]:
    """The model's results on ``"held-out"`` and ``"realistic"`` of tests/nlu (never the sealed
    part), as `make evaluate` and the retrain gate score them: loaded and parsed once."""
    return evaluate_sets(trained_model, evaluation_sets(ROOT / "tests" / "nlu"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator["Stack"]:
    """The action server and the Rasa server (REST and WeChat channels) on a seeded store,
    started once for test_server.py and test_security_servers.py (see tests/stack.py)."""
    from tests.stack import shared_stack

    with shared_stack(tmp_path_factory.mktemp("stack"), trained_model) as running:
        yield running
