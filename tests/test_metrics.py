"""bot/metrics.py: what is recorded, under which names and labels, and who may scrape it; and
the running Rasa and action servers serving theirs (the shared `stack`: a `server` test)."""
from __future__ import annotations

import json
import urllib.request
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client import CollectorRegistry

from bot.actions_server import fallback_turn
from bot.config import RASA_TOKEN_HEADER
from bot.metrics import (
    TURN_BUCKETS_S,
    WECHAT_API_ERROR_KINDS,
    Metrics,
    exposition,
    may_scrape,
    process_metrics,
    refusal,
)
from tests.support.metrics import samples, scrape, value

if TYPE_CHECKING:
    from bot.launcher import Stack

TOKEN = "metrics-token-for-tests-5b2e"


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def scraped(metrics: Metrics) -> str:
    return exposition(metrics.registry).decode("utf-8")


def test_a_turn_is_counted_and_timed_per_channel(metrics: Metrics) -> None:
    with metrics.turn("rest"):
        pass
    with pytest.raises(RuntimeError), metrics.turn("wechat"):  # a failed turn counts too
        raise RuntimeError("boom")
    text = scraped(metrics)
    assert value(text, "postdesk_turns_total", channel="rest") == 1
    assert value(text, "postdesk_turns_total", channel="wechat") == 1
    assert value(text, "postdesk_turn_seconds_count", channel="wechat") == 1
    assert value(text, "postdesk_turn_seconds_bucket", channel="rest", le="0.01") == 1
    buckets = {dict(labels)["le"] for name, labels in samples(text)
               if name == "postdesk_turn_seconds_bucket" and ("channel", "rest") in labels}
    assert buckets == {str(b) for b in TURN_BUCKETS_S} | {"+Inf"}


def test_every_wechat_error_kind_is_exported_from_the_start(metrics: Metrics) -> None:
    metrics.wechat_api_error("window_closed")
    text = scraped(metrics)
    assert {kind: value(text, "postdesk_wechat_api_errors_total", kind=kind)
            for kind in WECHAT_API_ERROR_KINDS} == {
        kind: (1.0 if kind == "window_closed" else 0.0) for kind in WECHAT_API_ERROR_KINDS}


def test_labels_stay_a_bounded_set(metrics: Metrics) -> None:
    with pytest.raises(ValueError):
        metrics.wechat_api_error("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    with pytest.raises(ValueError):
        metrics.fallback_turn("wechat", "13812345678")


def test_the_process_metrics_are_made_once() -> None:
    assert process_metrics() is process_metrics()


@pytest.mark.parametrize("peer,headers,token,allowed", [
    ("127.0.0.1", {}, "", True),
    ("::1", {}, "", True),
    ("::ffff:127.0.0.1", {}, "", True),
    ("10.0.0.8", {}, "", False),
    (None, {}, "", False),
    # A reverse proxy on this machine relays other people's requests: not local.
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, "", False),
    ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, "", False),
    ("10.0.0.8", {"Authorization": f"Bearer {TOKEN}"}, TOKEN, True),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {TOKEN}"},
     TOKEN, True),
    ("10.0.0.8", {"Authorization": "Bearer wrong"}, TOKEN, False),
    ("10.0.0.8", {"Authorization": TOKEN}, TOKEN, False),
    ("10.0.0.8", {"Authorization": "Bearer "}, "", False),
])
def test_who_may_scrape(peer: str | None, headers: dict[str, str], token: str,
                        allowed: bool) -> None:
    assert may_scrape(peer, headers, token) is allowed


def test_a_refusal_says_whether_a_token_would_help() -> None:
    assert refusal(TOKEN)[0] == 401 and refusal(TOKEN)[2] == {"WWW-Authenticate": "Bearer"}
    assert refusal("")[0] == 403


def _call(action: str, intent: str, sender: str = "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o") -> Any:
    return SimpleNamespace(json={"next_action": action, "sender_id": sender, "tracker": {
        "sender_id": sender, "latest_message": {"intent": {"name": intent}}}})


@pytest.mark.parametrize("request_,expected", [
    (_call("action_clarify", "nlu_fallback"), ("wechat", "clarify")),
    (_call("action_request_human", "nlu_fallback", "rest:alice"), ("rest", "hand_over")),
    (_call("action_clarify", "nlu_fallback", "console-user"), ("other", "clarify")),
    (_call("action_request_human", "request_human"), None),
    (_call("action_query_mail", "nlu_fallback"), None),
    (SimpleNamespace(json=["not", "a", "call"]), None),
    (SimpleNamespace(json={"next_action": "action_clarify", "tracker": None}), None),
])
def test_the_action_server_knows_a_fallback_turn(request_: Any,
                                                 expected: tuple[str, str] | None) -> None:
    assert fallback_turn(request_) == expected


def test_the_running_servers_count_turns_and_fallbacks(stack: Stack) -> None:
    rasa, actions = (f"http://127.0.0.1:{port}" for port in (stack.rasa_port, stack.action_port))
    status, before = scrape(f"{rasa}/metrics")
    assert status == 200
    stack.say("metrics-e2e", "EA000000005CN到哪了")
    after = scrape(f"{rasa}/metrics")[1]
    turns = [value(text, "postdesk_turns_total", channel="rest") or 0 for text in (before, after)]
    assert turns[1] == turns[0] + 1
    assert (value(after, "postdesk_turn_seconds_count", channel="rest") or 0) >= 1

    def fallbacks() -> float:
        text = scrape(f"{actions}/metrics")[1]
        return value(text, "postdesk_fallback_turns_total", channel="rest",
                     outcome="clarify") or 0

    counted = fallbacks()
    # A turn the NLU could not read, as Rasa's API injects it: the rules answer action_clarify.
    request = urllib.request.Request(
        f"{rasa}/conversations/rest:metrics-e2e-fallback/trigger_intent",
        data=json.dumps({"name": "nlu_fallback"}).encode(),
        headers={"Content-Type": "application/json", RASA_TOKEN_HEADER: stack.token})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
    assert fallbacks() == counted + 1
