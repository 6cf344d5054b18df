"""A tracker's dialogue states computed once per point of the conversation (a runtime fix of
bot/server.py).

To predict one action Rasa asks the same tracker for its states four times: RulePolicy twice,
MemoizationPolicy and TED once each, two of them with the same arguments as the others. Each
time, ``Domain.states_for_tracker_history`` replays the whole session into a fresh tracker per
event: about 8% of the Rasa server's time under load. :func:`remember_past_states` makes
``DialogueStateTracker.past_states`` keep its last answer per set of arguments on the tracker
itself, valid while the tracker's events are the same (the same event list, as long, ending
with the same event object); any new event makes the next call compute afresh.

Callers may change the states they get (the featurizer removes the text or the intent of the
last user input), so each call gets its own copy: new state dicts and sub-state dicts, shared
between states where Rasa's own list shares them. The leaves (names, tuples of entities, slot
feature tuples) are immutable.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

_CACHE_ATTRIBUTE = "_postdesk_past_states"


def copy_states(states: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A copy of `states` two levels deep that keeps the sharing of sub-state dicts."""
    copies: Dict[int, Dict[str, Any]] = {}
    result = []
    for state in states:
        new_state = {}
        for key, sub_state in state.items():
            copy = copies.get(id(sub_state))
            if copy is None:
                copy = copies[id(sub_state)] = dict(sub_state)
            new_state[key] = copy
        result.append(new_state)
    return result


# rule_only_data -> its JSON, by the dict's identity: each policy passes the same dict, which
# Rasa fills once when the model loads, at every call (four times a prediction).
_RULE_DATA_KEYS: Dict[int, tuple] = {}


def _rule_data_key(rule_only_data: Optional[Dict[str, Any]]) -> Optional[str]:
    if not rule_only_data:
        return None
    known = _RULE_DATA_KEYS.get(id(rule_only_data))
    if known is not None and known[0] is rule_only_data:
        return known[1]
    data = json.dumps(rule_only_data, sort_keys=True)
    if len(_RULE_DATA_KEYS) >= 16:  # models come and go with deploys: stay small
        _RULE_DATA_KEYS.clear()
    _RULE_DATA_KEYS[id(rule_only_data)] = (rule_only_data, data)
    return data


def _arguments_key(domain: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool,
                   rule_only_data: Optional[Dict[str, Any]]) -> tuple:
    return (id(domain), bool(omit_unset_slots), bool(ignore_rule_only_turns),
            _rule_data_key(rule_only_data))


def remember_past_states() -> None:
    """Make ``DialogueStateTracker.past_states`` compute once per tracker state. Idempotent."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if getattr(DialogueStateTracker, "_postdesk_original_past_states", None) is not None:
        return
    original = DialogueStateTracker.past_states

    def past_states(self: DialogueStateTracker, domain: Any, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False,
                    rule_only_data: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        key = _arguments_key(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        events = self.events
        last = events[-1] if events else None
        remembered = self.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
        entry = remembered.get(key)
        # The entry holds the domain and the event list it was computed from, so their ids
        # in the key and the test below cannot be those of newer objects.
        if (entry is None or entry[0] is not domain or entry[1] is not events
                or entry[2] != len(events) or entry[3] is not last):
            states = original(self, domain, omit_unset_slots=omit_unset_slots,
                              ignore_rule_only_turns=ignore_rule_only_turns,
                              rule_only_data=rule_only_data)
            entry = remembered[key] = (domain, events, len(events), last, copy_states(states))
            return states
        return copy_states(entry[4])

    DialogueStateTracker._postdesk_original_past_states = original
    DialogueStateTracker.past_states = past_states
