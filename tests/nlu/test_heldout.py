"""The trained model on the held-out split (never trained on), and the data contract."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.nlu.evaluate import evaluate, load_examples

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "postdesk.tar.gz"
TAXONOMY_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "inform",
    "track_mail", "delivery_delay", "not_received", "delivery_service", "lost_item",
    "damaged_item", "staff_attitude", "fee_dispute", "complaint_progress", "escalate_complaint",
    "change_delivery", "return_intercept", "schedule_pickup", "urge_pickup", "ask_fee",
    "ask_delivery_time", "claim_compensation", "ask_prohibited_items", "ask_outlet",
    "collect_parcel", "satisfied", "unsatisfied", "out_of_scope",
}
AT_LEAST_60 = {
    "track_mail", "delivery_delay", "not_received", "delivery_service", "lost_item",
    "damaged_item", "staff_attitude", "fee_dispute", "escalate_complaint",
}


def plain(text: str) -> str:
    """Text without entity markup, punctuation or spaces, for duplicate checks."""
    text = re.sub(r"\[([^\]]+)\](\([^)]+\)|\{[^}]+\})", r"\1", text)
    return re.sub(r"[\s，。！？,.!?~～、]", "", text).lower()


def examples_in(folder: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block:
                lines = [l.strip()[2:] for l in block["examples"].splitlines() if l.strip()]
                out.setdefault(block["intent"], []).extend(lines)
    return out


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
def result():
    assert MODEL.exists(), "no trained model: run 'make train'"
    return evaluate(MODEL, load_examples(ROOT / "tests/nlu"))


def test_intent_macro_f1_on_held_out(result):
    assert result.intent_macro_f1 >= 0.90, result.intent_report["macro avg"]


@pytest.mark.parametrize("entity", ["tracking_number", "phone_number"])
def test_number_entities_on_held_out(result, entity):
    assert result.entity_f1(entity) >= 0.98, result.entity_report.get(entity)
