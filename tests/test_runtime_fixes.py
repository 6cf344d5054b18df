"""bot.server: the compiled action-result validator behaves exactly like Rasa's own."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.server import apply_runtime_fixes

GOOD = {
    "events": [{"event": "slot", "name": "mail_state", "value": "normal"},
               {"event": "followup", "name": "action_listen"}],
    "responses": [{"response": "utter_mail_status", "number": "EA000000005CN"}],
}
BAD = [
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [{"event": "slot", "value": 1}], "responses": []},  # slot without a name
    {"events": "not a list", "responses": []},
    {"events": [], "responses": ["not an object"]},
]


@pytest.fixture(scope="module")
def both() -> tuple:
    """Rasa's original method and the fixed one, on the same action."""
    action = RemoteAction("action_query_mail", EndpointConfig("http://127.0.0.1:9/webhook"))
    apply_runtime_fixes()
    apply_runtime_fixes()  # idempotent
    fixed = RemoteAction._validate_action_result
    original = RemoteAction._postdesk_original
    assert fixed is not original
    return action, original, fixed


def test_valid_answer_passes_both(both) -> None:
    action, original, fixed = both
    assert original(action, GOOD) is True
    assert fixed(action, GOOD) is True


@pytest.mark.parametrize("body", BAD)
def test_malformed_answer_is_refused_with_the_same_message(both, body) -> None:
    action, original, fixed = both
    with pytest.raises(jsonschema.ValidationError) as rasa_error:
        original(action, body)
    with pytest.raises(jsonschema.ValidationError) as our_error:
        fixed(action, body)
    assert our_error.value.message == rasa_error.value.message
    assert "Failed to validate Action server response" in our_error.value.message


# Answers the quick check must judge exactly as the whole schema does: one of each event kind,
# and events that fail only inside their own branch (or only in the common part).
AGREEMENT = [
    GOOD, *BAD,
    {"events": [{"event": "user", "text": "到哪了", "parse_data": {
        "intent": {"name": "track_mail", "confidence": 0.9},
        "entities": [{"entity": "tracking_number", "value": "EA000000005CN", "start": 0}]}}]},
    {"events": [{"event": "user", "parse_data": {"entities": [{"value": "x"}]}}]},  # no entity
    {"events": [{"event": "action", "name": "action_listen", "confidence": None}]},
    {"events": [{"event": "action", "name": 3}]},
    {"events": [{"event": "bot", "text": "您好", "timestamp": 1.5}]},
    {"events": [{"event": "bot", "timestamp": "yesterday"}]},  # common part: not a number
    {"events": [{"event": "entities", "entities": []}]},
    {"events": [{"event": "entities"}]},
    {"events": [{"event": "active_loop", "name": None}, {"event": "reset_slots"},
                {"event": "session_started", "metadata": {"channel": "rest"}}]},
    {"events": [{"event": "pause", "metadata": "not an object"}]},
    {"events": [{"name": "mail_state", "value": 1}]},  # no event name
    {"events": ["slot"]},
    {"events": None},
    {"responses": [{"text": "只有回复"}]},
    {},
    [],
]


@pytest.mark.parametrize("body", AGREEMENT)
def test_quick_check_agrees_with_the_whole_schema(body) -> None:
    from jsonschema.validators import validator_for

    from bot.server import action_result_check

    spec = RemoteAction.action_response_format_spec()
    whole = validator_for(spec)(spec)
    assert action_result_check(spec)(body) is whole.is_valid(body)


def test_quick_check_accepts_and_refuses() -> None:
    """The agreement above is not vacuous: both outcomes occur."""
    from bot.server import action_result_check

    check = action_result_check(RemoteAction.action_response_format_spec())
    outcomes = {check(body) for body in AGREEMENT}
    assert outcomes == {True, False}
