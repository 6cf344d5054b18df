"""The conversations set (tests/nlu/conversations): customer turns of chats, calls and posts
written as whole conversations by people who never saw the taxonomy or the training data, and
labelled afterwards by two annotators (kept where both agreed). Never trained on; its sealed
part is only scored when asked (make evaluate SEALED=1), never here.

This is the set that behaves like real customer messages (the model that scored 0.986 on the
realistic set scored 0.60 on its first 246 turns, where real messages had given 0.62), so its
floors are low and are there to catch a regression, not to flatter."""
from __future__ import annotations

import pytest

from bot.nlu.evaluate import FALLBACK, Result
from tests.nlu.test_realistic import REGISTERS, counts
from tests.support.model import ROOT, baseline_accuracy
from tests.support.nlu_data import TAXONOMY_INTENTS, examples_in, plain

CONVERSATIONS = ROOT / "tests" / "nlu" / "conversations"
SEALED = CONVERSATIONS / "sealed"


def test_both_parts_are_there_with_the_taxonomy_names() -> None:
    iterating, sealed = counts(CONVERSATIONS), counts(SEALED)
    assert sum(iterating.values()) >= 200 and sum(sealed.values()) >= 200
    assert set(iterating) | set(sealed) <= TAXONOMY_INTENTS
    assert {p.stem for p in CONVERSATIONS.glob("*.yml")} <= REGISTERS
    assert {p.stem for p in SEALED.glob("*.yml")} <= REGISTERS


def test_never_trained_on_nor_shared_with_the_other_sets() -> None:
    train = {plain(t) for lines in examples_in(ROOT / "data/nlu").values() for t in lines}
    other = {plain(t) for folder in ("tests/nlu", "tests/nlu/realistic",
                                     "tests/nlu/realistic/sealed")
             for lines in examples_in(ROOT / folder).values() for t in lines}
    for folder in (CONVERSATIONS, SEALED):
        lines = [t for v in examples_in(folder).values() for t in v]
        # Only counts for the sealed part: its text is not for reading while iterating.
        assert len([t for t in lines if plain(t) in train]) == 0, (
            folder.name, [] if folder == SEALED else [t for t in lines if plain(t) in train])
        assert len([t for t in lines if plain(t) in other]) == 0, folder.name
    a = {plain(t) for v in examples_in(CONVERSATIONS).values() for t in v}
    b = {plain(t) for v in examples_in(SEALED).values() for t in v}
    assert a & b == set()


@pytest.fixture(scope="module")
def conversations(model_results: dict[str, Result]) -> Result:
    return model_results["conversations"]


def test_the_model_holds_its_ground_on_the_conversations(conversations) -> None:
    """Floors a little under what the model measures (0.709 accuracy on 774 turns, 5% of
    the requests sent to the clarifying question): a change that loses fifteen of these
    messages fails."""
    assert conversations.accuracy >= 0.69, conversations.by_register()
    requests = [p for e, p in zip(conversations.examples, conversations.predictions)
                if e.intent != "out_of_scope"]
    assert sum(p.intent == FALLBACK for p in requests) / len(requests) <= 0.12


def test_the_model_is_not_far_behind_the_plain_baseline(conversations) -> None:
    """On text like this the plain baseline is a little ahead (0.716 against 0.709 on the
    iterating part: it never sends a message to the clarifying question, which counts as wrong
    here, and with almost none, at thresholds 0.10 / 0.00, the blend scores 0.725). The blend
    must not fall further behind."""
    base_accuracy = baseline_accuracy(conversations.examples)
    assert conversations.accuracy >= base_accuracy - 0.05, (conversations.accuracy, base_accuracy)


@pytest.mark.parametrize("entity", ["tracking_number", "phone_number"])
def test_number_entities_in_conversations(conversations, entity) -> None:
    assert conversations.entity_f1(entity) >= 0.98, conversations.entity_report.get(entity)
