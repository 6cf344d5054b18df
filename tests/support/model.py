"""Where the tests find the trained model (`make train` writes it)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "postdesk.tar.gz"


def baseline_accuracy(examples: list) -> float:
    """Accuracy of the plain TF-IDF baseline, trained on data/nlu, on `examples`."""
    from bot.nlu.evaluate import Baseline, accuracy

    said = Baseline.trained_on(ROOT / "data" / "nlu").predict([e.text for e in examples])
    return accuracy([e.intent for e in examples], said)
