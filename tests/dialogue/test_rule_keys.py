"""bot.dialogue.rule_keys: RulePolicy parses each rule key once and predicts exactly as before."""
from __future__ import annotations

import json

from rasa.core.policies.rule_policy import RulePolicy

from bot.dialogue.rule_keys import parse_rule_keys_once


def test_a_key_is_parsed_once_and_reads_the_same() -> None:
    parse_rule_keys_once()
    parse_rule_keys_once()  # idempotent: the cache is not wrapped twice
    original = RulePolicy._postdesk_original_key_to_state
    assert RulePolicy._rule_key_to_state.__wrapped__ is original
    key = json.dumps([{"prev_action": {"action_name": "action_listen"},
                       "user": {"intent": "track_mail"}}])
    first = RulePolicy._rule_key_to_state(key)
    assert first == original(key) == json.loads(key)
    assert RulePolicy._rule_key_to_state(key) is first  # the second call is the remembered parse
    assert RulePolicy._rule_key_to_state.cache_info().hits >= 1
