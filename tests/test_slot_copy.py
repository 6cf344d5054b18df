"""bot.slot_copy: a slot copied directly equals one copied the generic way, for every slot type."""
from __future__ import annotations

import copy

from rasa.shared.core.domain import Domain
from rasa.shared.core.slots import Slot

from bot.slot_copy import copy_slots_directly
from tests.support.model import ROOT


def generic_copy(slot: Slot) -> Slot:
    """What ``copy.copy`` did before the fix: the pickle protocol's reconstruction."""
    reductor = getattr(slot, "__reduce_ex__")
    rv = reductor(4)
    return copy._reconstruct(slot, None, *rv)  # type: ignore[attr-defined]


def test_every_domain_slot_copies_alike() -> None:
    copy_slots_directly()
    copy_slots_directly()  # idempotent
    assert "__copy__" in Slot.__dict__  # the fix is in place
    slots = Domain.load(str(ROOT / "domain.yml")).slots
    assert len({type(s) for s in slots}) >= 3  # text, float, categorical, any ...
    for slot in slots:
        slot.value = ["a list", 1] if type(slot).__name__ == "ListSlot" else slot.value
        ours, theirs = copy.copy(slot), generic_copy(slot)
        assert type(ours) is type(theirs) is type(slot)
        assert ours is not slot and ours.__dict__ == theirs.__dict__ == slot.__dict__
        ours.value = "changed"  # a copy of its own: the original keeps its value
        assert slot.value != "changed"
