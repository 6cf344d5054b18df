"""Where the tests find the trained model (`make train` writes it)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "postdesk.tar.gz"


@functools.lru_cache(maxsize=1)
def _baseline() -> Any:
    """The plain TF-IDF baseline trained on data/nlu, once per test session."""
    from bot.nlu.evaluate import Baseline

    return Baseline.trained_on(ROOT / "data" / "nlu")


def baseline_accuracy(examples: list) -> float:
    """Accuracy of the plain TF-IDF baseline, trained on data/nlu, on `examples`."""
    from bot.nlu.evaluate import accuracy

    return accuracy([e.intent for e in examples], _baseline().predict([e.text for e in examples]))
