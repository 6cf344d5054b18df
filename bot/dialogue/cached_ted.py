"""TED with a memory of the dialogue states it has already scored.

Rasa runs every policy on every prediction of a turn; a tracking question predicts four actions
(the form, its validation, the answer, listening), and TED's share was a quarter of the Rasa
server's time under load, most of it TensorFlow looking up its compiled function for the input.
TED (without end-to-end text, which this model does not train on) sees nothing of a tracker but
the states its featurizer cuts from it: the last ``max_history`` turns of intent, entity names,
slot features, active loop and previous action. Equal states give equal inputs and so the same
prediction; customers walk the same few paths, so most predictions are a dictionary lookup.

Trackers whose states carry text (end-to-end training, bot utterances given as text) are scored
by TED itself every time. The memory is per loaded model and bounded (least recently used out).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Dict, Optional, Text

from rasa.core.featurizers.precomputation import MessageContainerForCoreFeaturization
from rasa.core.policies.policy import PolicyPrediction, SupportedData
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT

CACHE_SIZE = 20_000  # dialogue states remembered per model (a few MiB)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class CachedTEDPolicy(TEDPolicy):
    """:class:`TEDPolicy` that scores each distinct dialogue state once (trained identically)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the policy as TED does, with an empty memory."""
        super().__init__(*args, **kwargs)
        self._scored: "OrderedDict[str, PolicyPrediction]" = OrderedDict()
        self.hits = self.misses = 0

    def state_key(self, tracker: DialogueStateTracker, domain: Domain,
                  rule_only_data: Optional[Dict[Text, Any]]) -> Optional[str]:
        """The states TED would featurize for `tracker`, as text; None when they carry text."""
        if self.model is None or TEXT in self.fake_features:
            return None  # end-to-end: the user's words are part of the input
        ml_only = self.supported_data() == SupportedData.ML_DATA
        states = self.featurizer.prediction_states(
            [tracker], domain, use_text_for_last_user_input=self.only_e2e,
            ignore_rule_only_turns=ml_only, rule_only_data=rule_only_data,
            ignore_action_unlikely_intent=ml_only)
        if any(TEXT in sub or ACTION_TEXT in sub
               for turns in states for state in turns for sub in state.values()):
            return None
        return json.dumps(states, sort_keys=True, ensure_ascii=False, default=list)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        precomputations: Optional[MessageContainerForCoreFeaturization] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """TED's prediction for the tracker's states, from memory when they were seen before."""
        key = self.state_key(tracker, domain, rule_only_data)
        if key is not None:
            known = self._scored.get(key)
            if known is not None:
                self._scored.move_to_end(key)
                self.hits += 1
                return self._copy(known)
        prediction = super().predict_action_probabilities(
            tracker, domain, rule_only_data=rule_only_data, precomputations=precomputations,
            **kwargs)
        if key is not None and not prediction.optional_events:
            self.misses += 1
            self._scored[key] = self._copy(prediction)
            if len(self._scored) > CACHE_SIZE:
                self._scored.popitem(last=False)
        return prediction

    def _copy(self, prediction: PolicyPrediction) -> PolicyPrediction:
        """A prediction of its own for the caller (the ensemble may change its lists)."""
        return self._prediction(
            list(prediction.probabilities),
            is_end_to_end_prediction=prediction.is_end_to_end_prediction,
            diagnostic_data=prediction.diagnostic_data)
