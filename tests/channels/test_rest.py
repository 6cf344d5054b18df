"""Request validation of the REST channel (the live wire protocol is in tests/test_server.py)."""
import pytest

from bot.channels.rest import action_server_reachable, validate_body


def test_a_good_body_passes_and_is_cleaned():
    body, error = validate_body({"sender": " u1 ", "message": "到哪了", "metadata": {"a": 1}})
    assert error is None
    assert body == {"sender": "u1", "message": "到哪了", "metadata": {"a": 1}}


@pytest.mark.parametrize("raw,reason", [
    (None, "JSON object"),
    ([], "JSON object"),
    ({"message": "hi"}, "'sender'"),
    ({"sender": "", "message": "hi"}, "'sender'"),
    ({"sender": "u", "message": ""}, "'message'"),
    ({"sender": "u", "message": 12}, "'message'"),
    ({"sender": "u", "message": "x" * 2001}, "longer than"),
    ({"sender": "u" * 200, "message": "hi"}, "'sender'"),
    ({"sender": "u", "message": "hi", "metadata": "x"}, "'metadata'"),
])
def test_bad_bodies_are_refused_with_a_reason(raw, reason):
    body, error = validate_body(raw)
    assert body is None and reason in error


@pytest.mark.asyncio
async def test_unreachable_action_server_is_detected():
    # Port 9 (discard) on loopback has nothing listening here.
    assert await action_server_reachable("http://127.0.0.1:9/webhook", timeout=0.5) is False
