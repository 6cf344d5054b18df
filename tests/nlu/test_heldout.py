"""The trained model on the held-out split (never trained on), and the data contract."""
from __future__ import annotations

from collections import Counter

import pytest

from bot.nlu.evaluate import HELD_OUT, Result
from tests.support.model import ROOT
from tests.support.nlu_data import TAXONOMY_INTENTS, examples_in, plain

AT_LEAST_60 = {
    "track_mail", "delivery_delay", "not_received", "delivery_service", "lost_item",
    "damaged_item", "staff_attitude", "fee_dispute", "escalate_complaint",
}


def test_training_data_covers_the_taxonomy_with_enough_examples():
    train = examples_in(ROOT / "data/nlu")
    assert set(train) == TAXONOMY_INTENTS
    counts = {intent: len(lines) for intent, lines in train.items()}
    assert {i: n for i, n in counts.items() if n < 40} == {}
    assert {i: counts[i] for i in AT_LEAST_60 if counts[i] < 60} == {}


def test_held_out_split_is_never_trained_on():
    train = {plain(t) for lines in examples_in(ROOT / "data/nlu").values() for t in lines}
    held = examples_in(ROOT / "tests/nlu")
    assert set(held) == TAXONOMY_INTENTS
    leaked = [t for lines in held.values() for t in lines if plain(t) in train]
    # Two-character replies (好的, 不是) can coincide by nature; longer ones must not.
    assert [t for t in leaked if len(plain(t)) > 3] == []


def test_no_example_is_written_twice():
    lines = [plain(t) for v in examples_in(ROOT / "data/nlu").values() for t in v]
    assert [t for t, n in Counter(lines).items() if n > 1] == []


@pytest.fixture(scope="module")
def result(model_results: dict[str, Result]) -> Result:
    return model_results[HELD_OUT]


def test_intent_macro_f1_on_held_out(result):
    assert result.intent_macro_f1 >= 0.90, result.intent_report["macro avg"]


@pytest.mark.parametrize("entity", ["tracking_number", "phone_number"])
def test_number_entities_on_held_out(result, entity):
    assert result.entity_f1(entity) >= 0.98, result.entity_report.get(entity)
