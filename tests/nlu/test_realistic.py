"""The realistic set (tests/nlu/realistic): written by people who never read data/nlu, one file
per register, never trained on; its sealed part is only scored when asked (make evaluate
SEALED=1), never here."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.nlu.evaluate import FALLBACK, Result
from tests.support.model import ROOT, baseline_accuracy
from tests.support.nlu_data import TAXONOMY_INTENTS, examples_in, plain

REALISTIC = ROOT / "tests" / "nlu" / "realistic"
SEALED = REALISTIC / "sealed"
REGISTERS = {"wechat_oneliners", "ecommerce_chat", "reviews", "formal_complaints", "phone_asr",
             "dialect", "typos_pinyin_emoji", "greeting_plus_request", "tagged_numbers",
             "complaint_posts"}


def counts(folder: Path) -> Counter:
    return Counter({intent: len(lines) for intent, lines in examples_in(folder).items()})


def test_a_file_per_register_in_both_parts() -> None:
    assert {p.stem for p in REALISTIC.glob("*.yml")} == REGISTERS
    assert {p.stem for p in SEALED.glob("*.yml")} == REGISTERS


def test_size_and_every_intent_covered() -> None:
    iterating, sealed = counts(REALISTIC), counts(SEALED)
    assert sum(iterating.values()) + sum(sealed.values()) >= 600
    assert sum(sealed.values()) >= 200
    assert set(iterating) == set(sealed) == TAXONOMY_INTENTS
    assert {i: n for i, n in iterating.items() if n < 15} == {}
    assert {i: n for i, n in (iterating + sealed).items() if n < 15} == {}


def test_never_trained_on() -> None:
    train = {plain(t) for lines in examples_in(ROOT / "data/nlu").values() for t in lines}
    for folder in (REALISTIC, SEALED):
        seen = [t for lines in examples_in(folder).values() for t in lines if plain(t) in train]
        # Two- or three-character replies (好的, 转人工) coincide by nature; longer ones must not.
        # Only a count for the sealed part: its text is not for reading while iterating.
        assert len([t for t in seen if len(plain(t)) > 3]) == 0, (
            folder.name, [] if folder == SEALED else seen)


@pytest.fixture(scope="module")
def realistic(model_results: dict[str, Result]) -> Result:
    return model_results["realistic"]


def test_the_model_understands_the_realistic_set(realistic) -> None:
    assert realistic.accuracy >= 0.93, realistic.by_register()
    # No register falls far behind.
    assert {r: f for r, f in realistic.by_register().items() if f["accuracy"] < 0.85} == {}


def test_real_requests_rarely_fall_back(realistic) -> None:
    real = [p for e, p in zip(realistic.examples, realistic.predictions)
            if e.intent != "out_of_scope"]
    assert sum(p.intent == FALLBACK for p in real) / len(real) <= 0.03


def test_the_model_is_no_worse_than_the_plain_baseline(realistic) -> None:
    base_accuracy = baseline_accuracy(realistic.examples)
    assert realistic.accuracy >= base_accuracy - 0.01, (realistic.accuracy, base_accuracy)


@pytest.mark.parametrize("entity", ["tracking_number", "phone_number"])
def test_number_entities_on_the_realistic_set(realistic, entity) -> None:
    assert realistic.entity_f1(entity) >= 0.98, realistic.entity_report.get(entity)


def test_a_number_added_to_a_request_does_not_change_it(model_results) -> None:
    """The realistic requests with a made-up order, tracking or mobile number added: the intent
    holds (before numbers were folded for the linear model, 2.9 points were lost; the plain
    baseline loses about 11) and the number is found."""
    plain_set, numbered = model_results["realistic"], model_results["realistic+numbers"]
    assert len(numbered.examples) > 1000
    assert numbered.accuracy >= plain_set.accuracy - 0.025, numbered.by_register()
    # no register is thrown by numbers
    assert {r: f for r, f in numbered.by_register().items() if f["accuracy"] < 0.9} == {}
    for entity in ("tracking_number", "phone_number"):
        assert numbered.entity_f1(entity) >= 0.98, numbered.entity_report.get(entity)
