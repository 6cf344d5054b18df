"""Rasa's fallback rule, except that a weak "this is not for the post office" reading stands.

FallbackClassifier replaces any intent below ``threshold`` with ``nlu_fallback``, and the bot
then asks "您是想……还是……？" with the two likeliest *requests*. When the best reading is
``out_of_scope`` (the colour of a cup, phone top-up, the weather), those two requests are ones
the classifier itself ranked lower, and the question makes no sense to the customer. Out of
scope is a wide class that rarely gets a confident score, so here it stands from
``out_of_scope_floor`` upwards: the customer hears what the post office can do for them
instead. A close second (``ambiguity_threshold``) still falls back, as does a flat ranking
below the floor, where the bot honestly asks to rephrase. Every other intent follows Rasa's
rule unchanged. The trainers' inbox still collects such messages as ``low_confidence``.

A message of punctuation alone ("。", "？？", "……") falls back whatever the classifier says:
it has nothing to read a request in, yet the classifier, which must rank some intent first,
gave "。" to ``delivery_delay`` and "…" to ``inform``. `actions.clarify` then asks to rephrase.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.text.normalize import punctuation_only

OUT_OF_SCOPE = "out_of_scope"
# The least confidence a weak out-of-scope reading needs to stand (config: out_of_scope_floor).
OUT_OF_SCOPE_FLOOR = 0.15


def falls_back(first: str, first_confidence: float, second_confidence: Optional[float],
               threshold: float, ambiguity: float, floor: float = OUT_OF_SCOPE_FLOOR,
               text: Optional[str] = None) -> bool:
    """The rule: a message of punctuation alone, a close second, or a best reading below
    `threshold` unless it is ``out_of_scope`` from `floor` up. The component and
    `bot.nlu.calibrate` both apply it."""
    if text is not None and punctuation_only(text):
        return True
    if second_confidence is not None and first_confidence - second_confidence < ambiguity:
        return True
    return first_confidence < threshold and not (first == OUT_OF_SCOPE
                                                 and first_confidence >= floor)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ScopedFallbackClassifier(FallbackClassifier):
    """FallbackClassifier that lets a weak but clear ``out_of_scope`` stand (place it last)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's thresholds, plus the least confidence an out-of-scope reading needs."""
        return {**FallbackClassifier.get_default_config(),
                "out_of_scope_floor": OUT_OF_SCOPE_FLOOR}

    def _should_fallback(self, message: Message) -> bool:
        intent = message.data.get(INTENT) or {}
        ranking = message.data.get(INTENT_RANKING_KEY) or []
        second = (float(ranking[1].get(PREDICTED_CONFIDENCE_KEY, 1.0))
                  if len(ranking) >= 2 else None)
        config = self.component_config
        return falls_back(intent.get(INTENT_NAME_KEY) or "",
                          float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0), second,
                          config["threshold"], config["ambiguity_threshold"],
                          config.get("out_of_scope_floor", OUT_OF_SCOPE_FLOOR),
                          message.get(TEXT) or "")
