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
"""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

OUT_OF_SCOPE = "out_of_scope"
# The least confidence a weak out-of-scope reading needs to stand (config: out_of_scope_floor).
OUT_OF_SCOPE_FLOOR = 0.15


def keeps_out_of_scope(intent: str, confidence: float, ambiguous: bool, floor: float) -> bool:
    """True when a reading below the threshold is a weak but clear out-of-scope one."""
    return intent == OUT_OF_SCOPE and not ambiguous and confidence >= floor


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ScopedFallbackClassifier(FallbackClassifier):
    """FallbackClassifier that lets a weak but clear ``out_of_scope`` stand (place it last)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's thresholds, plus the least confidence an out-of-scope reading needs."""
        return {**FallbackClassifier.get_default_config(), "out_of_scope_floor": OUT_OF_SCOPE_FLOOR}

    def _should_fallback(self, message: Message) -> bool:
        if not super()._should_fallback(message):
            return False
        intent = message.data.get(INTENT) or {}
        ambiguous, _ = self._nlu_prediction_ambiguous(message)
        return not keeps_out_of_scope(
            intent.get(INTENT_NAME_KEY) or "", float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0),
            ambiguous, float(self.component_config.get("out_of_scope_floor", OUT_OF_SCOPE_FLOOR)))
