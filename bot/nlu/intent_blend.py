"""An intent classifier that blends DIET's ranking with a linear model on its own n-grams.

DIET learns the intent and the entities jointly; on a few thousand short Chinese messages its
intent confidences are sharp but brittle on phrasing it has not seen. A logistic regression over
TF-IDF character 1-3-grams, jieba word 1-2-grams and toneless pinyin syllable 1-3-grams
generalises differently, and averaging the two probability distributions is steadier than either
(see `make evaluate`). The blend is the intent the dialogue and FallbackClassifier see; DIET's
own entities are untouched.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.text.pinyin import syllables, to_pinyin
from bot.text.tracking import S10_RE

logger = logging.getLogger(__name__)


# Long numbers say which kind of number a customer gave, not what they want. As raw digits
# they fill a message's n-grams with noise that dilutes its words (a message with an order
# number leaned towards `inform`), so the linear model sees one symbol per kind instead.
_MOBILE_RE = re.compile(r"(?<![0-9*])1[3-9]\d[\d*xX]{4}\d{4}(?![0-9*])")
_DIGITS_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{0,3}\d[\d\- ]{4,}\d[A-Za-z]{0,3}(?![A-Za-z0-9])")
PHONE_SYMBOL, NUMBER_SYMBOL = "\u24c5", "\u24c3"  # circled P, circled N


def fold_numbers(text: str) -> str:
    """`text` with mobile numbers (masked or not) folded to one symbol, and S10 tracking
    numbers and other runs of 6+ digits (tracking, order and landline numbers) to another."""
    text = S10_RE.sub(NUMBER_SYMBOL, text)
    text = _MOBILE_RE.sub(PHONE_SYMBOL, text)
    return _DIGITS_RE.sub(NUMBER_SYMBOL, text)


class TextFeatures:
    """TF-IDF over characters (1-3) of the text, jieba words (1-2) of the tokens and, with
    `pinyin`, toneless syllables (1-3, `bot.text.pinyin`), with long numbers folded to one
    symbol per kind (`fold_numbers`)."""

    def __init__(self, fold: bool = True, pinyin: bool = False) -> None:
        self.fold = fold
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                     lowercase=True)
        self.words = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2),
                                     sublinear_tf=True, lowercase=True)
        self.sounds = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 3),
                                      sublinear_tf=True, lowercase=False) if pinyin else None

    @staticmethod
    def _words(messages: List[Message]) -> List[str]:
        return [" ".join(t.text for t in m.get(TOKENS_NAMES[TEXT]) or []) for m in messages]

    def _matrix(self, messages: List[Message], fit: bool) -> csr_matrix:
        texts = [m.get(TEXT) for m in messages]
        words = self._words(messages)
        # Models trained before folding existed have no `fold`: they keep reading raw digits.
        if getattr(self, "fold", False):
            texts, words = [fold_numbers(t) for t in texts], [fold_numbers(w) for w in words]
        # Models trained before the syllables existed have no `sounds`.
        sounds = getattr(self, "sounds", None)
        parts = [(self.chars, texts), (self.words, words)]
        if sounds is not None:
            parts.append((sounds, [to_pinyin(t) for t in texts]))
        return hstack([v.fit_transform(x) if fit else v.transform(x) for v, x in parts]).tocsr()

    def fit_transform(self, messages: List[Message]) -> csr_matrix:
        """Learn the n-gram vocabularies from `messages` and return their features."""
        return self._matrix(messages, fit=True)

    def transform(self, messages: List[Message]) -> csr_matrix:
        """The features of `messages` over the vocabularies already learnt."""
        return self._matrix(messages, fit=False)


def blend(
    diet_ranking: List[Dict[str, Any]], classes: List[str], probs: np.ndarray, weight: float
) -> List[Dict[str, Any]]:
    """Weighted average of DIET's confidences and the linear model's probabilities, sorted."""
    scores = {c: (1 - weight) * float(p) for c, p in zip(classes, probs)}
    for entry in diet_ranking:
        scores[entry["name"]] = scores.get(entry["name"], 0.0) + weight * float(
            entry.get("confidence") or 0.0)
    return sorted(({"name": n, "confidence": s} for n, s in scores.items()),
                  key=lambda e: -e["confidence"])


def _column_major(clf: LogisticRegression) -> LogisticRegression:
    """`clf` with its weights stored column-major, so that scoring a message reads them in place.

    scikit-learn scores a sparse row against ``coef_.T``; with the row-major ``coef_`` that
    fitting (and loading) gives, scipy copies the whole matrix (31 intents x ~140,000 n-grams,
    34 MB) on every call, which was most of a parse's time (5-10 ms of 15-20).
    """
    clf.coef_ = np.asfortranarray(clf.coef_)
    return clf


def fit_linear(examples: List[Message],
               config: Dict[Text, Any]) -> Tuple[TextFeatures, LogisticRegression]:
    """The blend's linear model fitted on tokenized, labelled `examples` with the component's
    `config` (``fold_numbers``, ``pinyin``, ``C``, ``max_iter``, ``tol``)."""
    features = TextFeatures(fold=config["fold_numbers"], pinyin=config["pinyin"])
    clf = LogisticRegression(C=config["C"], max_iter=config["max_iter"], tol=config["tol"],
                             class_weight="balanced", solver="saga", random_state=7)
    clf.fit(features.fit_transform(examples), [e.get(INTENT) for e in examples])
    return features, _column_major(clf)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class BlendedIntentClassifier(GraphComponent, IntentClassifier):
    """Blends DIET's intent ranking with a logistic regression (place it right after DIET)."""

    @classmethod
    def required_components(cls) -> List[Type]:
        """A tokenizer must run first (jieba's words are one of the two feature sets)."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """diet_weight: share of DIET in the blend; C: inverse regularisation of the LR;
        tol: the LR's stopping tolerance; fold_numbers: whether the LR sees long numbers as one
        symbol per kind; pinyin: whether it also reads the text's syllables (homophone typos,
        speech-to-text errors and typed pinyin sound as the words they stand for).

        At 17,300 examples (conversation rounds 1-6) saga at scikit-learn's tolerance of 1e-4
        had not converged after 10 minutes; at 1e-3 it stops after 44 epochs (19 s) with the
        same predictions as lbfgs run to convergence (266 s) on the held-out split, the
        realistic set and the conversations set. At 19,200 (round 7) the same tolerance took
        172 epochs (70 s): saga's stopping point moves a lot with the data. At 3e-3 it stops
        after 41 epochs (16 s), and 99.6-99.9% of its predictions on those three sets are those
        of 1e-3 (accuracy 0.945 / 0.984 / 0.737 against 0.949 / 0.985 / 0.737). ``max_iter``
        bounds the rest: 100 epochs are about 40 s, which the 5-minute training budget holds."""
        return {"diet_weight": 0.5, "C": 10.0, "max_iter": 100, "tol": 3e-3,
                "ranking_length": 10, "fold_numbers": True, "pinyin": True}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, model: Optional[Dict[str, Any]] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self.features: Optional[TextFeatures] = model["features"] if model else None
        self.clf: Optional[LogisticRegression] = _column_major(model["clf"]) if model else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "BlendedIntentClassifier":
        """An untrained component (Rasa calls this before training)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the linear model on the intent examples' sentence features."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        self.features, self.clf = fit_linear(examples, self.config)
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Write the fitted features and model to the model storage (skops, not pickle)."""
        import skops.io as sio

        with self._storage.write_to(self._resource) as model_dir:
            sio.dump({"features": self.features, "clf": self.clf},
                     model_dir / "intent_lr.skops")

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "BlendedIntentClassifier":
        """Load the fitted linear model; without one the component passes DIET through."""
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / "intent_lr.skops"
                model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        except (ValueError, FileNotFoundError):
            logger.warning("no trained intent blend found; using DIET's intents alone")
            model = None
        if model and getattr(model["features"], "sounds", None) is not None:
            # The syllable table (about 0.2 s) is built here, not on the first message with
            # letters in it.
            syllables()
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        """Replace DIET's intent and ranking with the blend."""
        todo = [m for m in messages if m.get(TEXT) and m.get(INTENT_RANKING_KEY)]
        if self.clf is None or self.features is None or not todo:
            return messages
        probs = self.clf.predict_proba(self.features.transform(todo))
        for message, p in zip(todo, probs):
            ranking = blend(message.get(INTENT_RANKING_KEY), list(self.clf.classes_), p,
                            self.config["diet_weight"])
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[: self.config["ranking_length"]],
                        add_to_output=True)
        return messages
