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
