"""Rule keys parsed once (a runtime fix of bot/server.py).

Rasa's ``RulePolicy`` keeps its learned rules as JSON strings and, for every action it
predicts, narrows them down turn by turn: each candidate rule is parsed again with
``json.loads`` at every turn it is checked against, about 4% of the Rasa server's time under
load. The rules are fixed once a model is loaded, and RulePolicy only reads the parsed states,
so :func:`parse_rule_keys_once` remembers each key's parse (bounded, least recently used
dropped first).
"""
from __future__ import annotations

import functools
from typing import Any

# Far above the few hundred rule keys of our model; a bound, not a working size.
MAX_KEYS = 8192


def parse_rule_keys_once() -> None:
    """Make ``RulePolicy._rule_key_to_state`` remember its results. Idempotent."""
    from rasa.core.policies.rule_policy import RulePolicy

    if getattr(RulePolicy, "_postdesk_original_key_to_state", None) is not None:
        return
    original: Any = RulePolicy.__dict__["_rule_key_to_state"].__func__
    RulePolicy._postdesk_original_key_to_state = original
    RulePolicy._rule_key_to_state = staticmethod(functools.lru_cache(maxsize=MAX_KEYS)(original))
