"""Deterministic extraction of postal entities, built on a blank spaCy ``zh`` pipeline.

Tracking numbers, phone numbers, places of the gazetteer, mail kinds and products follow
closed rules, so they are matched, not learned: a spaCy ``EntityRuler`` with phrase
patterns handles the vocabularies (segmented by jieba, like Rasa's tokenizer), and the
number formats are found with the checks of :mod:`bot.text.tracking` and :mod:`bot.text.phones`.
DIET still handles ``item`` and the cases no rule covers; where both found the same thing,
this component's entity wins.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, cast

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.text import gazetteer, lexicon, phones, spoken, tracking

logger = logging.getLogger(__name__)

NUMBER_ENTITIES = ("tracking_number", "phone_number")
PHRASE_ENTITIES = ("location", "mail_category", "product")


def build_spacy_pipeline(userdict: Optional[Path] = None) -> Any:
    """Blank Chinese spaCy pipeline with the jieba segmenter and the postal entity ruler.

    Args:
        userdict: jieba user dictionary to load so place names stay whole tokens.
    """
    import jieba
    import spacy

    jieba.setLogLevel(logging.WARNING)
    if userdict is not None and userdict.exists():
        jieba.load_userdict(str(userdict))
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    from spacy.pipeline import EntityRuler

    ruler = cast(EntityRuler, nlp.add_pipe("entity_ruler",
                                           config={"phrase_matcher_attr": "LOWER"}))
    patterns: list[dict[str, Any]] = []
    for form, place in gazetteer.aliases().items():
        patterns.append({"label": "location", "pattern": form, "id": place.name})
    for form, value in lexicon.PRODUCTS.items():
        patterns.append({"label": "product", "pattern": form, "id": value})
    for form, value in lexicon.MAIL_CATEGORIES.items():
        patterns.append({"label": "mail_category", "pattern": form, "id": value})
    ruler.add_patterns(patterns)
    return nlp


def extract(nlp: Any, text: str) -> list[dict[str, Any]]:
    """Find the postal entities in one message.

    Returns:
        Rasa entity dicts (entity, value, start, end, confidence_entity) plus, for tracking
        numbers, ``check_digit`` ("valid", "invalid" or "none") and, for places, ``prefecture``.
    """
    entities: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for f in tracking.find_all(text):
        entities.append({
            "entity": "tracking_number", "start": f.start, "end": f.end, "value": f.number.value,
            "confidence_entity": 1.0, "check_digit": f.number.check_label,
        })
        taken.append((f.start, f.end))
    for p in phones.find_all(text):
        if any(p.start < e and s < p.end for s, e in taken):
            continue
        entities.append({
            "entity": "phone_number", "start": p.start, "end": p.end, "value": p.digits,
            "confidence_entity": 1.0,
        })
        taken.append((p.start, p.end))
    for said in spoken.read_numbers(text, taken):
        entity = {"entity": said.kind, "start": said.start, "end": said.end, "value": said.value,
                  "confidence_entity": 1.0}
        if said.mail is not None:
            entity["check_digit"] = said.mail.check_label
        entities.append(entity)
        taken.append((said.start, said.end))
    doc = nlp(text)
    for span in doc.ents:
        start, end, value = span.start_char, span.end_char, span.ent_id_ or span.text
        if any(start < e and s < end for s, e in taken):
            continue
        if span.label_ == "location":
            # jieba reads 红河县城 as 红河/县城: the county (红河县) is meant, not the prefecture.
            county = gazetteer.lookup(span.text + text[end:end + 1])
            if text[end:end + 1] == "县" and county:
                end, value = end + 1, county.name
        entity = {
            "entity": span.label_, "start": start, "end": end, "value": value,
            "confidence_entity": 1.0,
        }
        if span.label_ == "location":
            place = gazetteer.lookup(value)
            if place:
                entity["prefecture"] = place.prefecture
        entities.append(entity)
    return sorted(entities, key=lambda e: e["start"])


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class PostalEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Rasa NLU component: rule-based postal entities, merged over DIET's guesses."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Default config: where the jieba user dictionary lives."""
        return {"userdict": "data/jieba/postal.txt"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._config = config
        self._nlp: Any = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PostalEntityExtractor":
        """Creates the component (the spaCy pipeline is built on first use)."""
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        """Packages Rasa checks before it builds the component."""
        return ["spacy", "jieba"]

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline with the postal rules, built on first use."""
        if self._nlp is None:
            self._nlp = build_spacy_pipeline(Path(self._config["userdict"]))
        return self._nlp

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the rule-based entities and drops DIET's duplicates of them."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = self.add_extractor_name(extract(self.nlp, text))
            kept = [
                e for e in message.get(ENTITIES, [])
                if not _superseded(e, found)
            ]
            message.set(ENTITIES, sorted(kept + found, key=lambda e: e.get("start", 0)),
                        add_to_output=True)
        return messages


def _superseded(entity: dict[str, Any], found: list[dict[str, Any]]) -> bool:
    """A learned entity yields to the rules for numbers always, for phrases where they overlap."""
    if entity.get("entity") in NUMBER_ENTITIES:
        return True
    s, e = entity.get("start", -1), entity.get("end", -1)
    return any(s < f["end"] and f["start"] < e for f in found)
