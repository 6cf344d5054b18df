"""Issue 15: Rasa's calls to the action server are bounded in time and share one HTTP session.

The first tests drive bot.server.BoundedActionEndpoint against a small aiohttp server in this
process; the last one hangs the real action server of the shared stack (SIGSTOP) and checks
that a customer still gets a polite answer in time and that the message is kept.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.core.actions.action import RemoteAction
from rasa.core.utils import AvailableEndpoints
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot.channels.rest import ACTIONS_DOWN_TEXT
from bot.config import ACTION_TOKEN_HEADER, RASA_TOKEN_HEADER
from bot.launcher import Stack, free_port
from bot.server import (
    ActionServerUnavailable,
    BoundedActionEndpoint,
    action_session,
    apply_runtime_fixes,
    close_action_session,
)

ANSWER = {"events": [{"event": "slot", "name": "mail_state", "value": "normal"}],
          "responses": []}


class FakeActionServer:
    """An action server's /webhook: answers ANSWER, or sleeps `hang_s` first; counts callers."""

    def __init__(self) -> None:
        self.hang_s = 0.0
        self.status = 200
        self.calls: list[dict] = []
        self.peers: set[int] = set()

    async def webhook(self, request: web.Request) -> web.Response:
        self.calls.append({"headers": dict(request.headers), "body": await request.json()})
        self.peers.add(request.transport.get_extra_info("peername")[1])  # client port
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.status != 200:
            return web.json_response({"action_name": "action_query_mail", "error": "no"},
                                     status=self.status)
        return web.json_response(ANSWER)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[tuple[FakeActionServer, str]]:
    server = FakeActionServer()
    app = web.Application()
    app.router.add_post("/webhook", server.webhook)
    test_server = TestServer(app, host="127.0.0.1", port=free_port())
    await test_server.start_server()
    try:
        yield server, f"http://127.0.0.1:{test_server.port}/webhook"
    finally:
        await close_action_session()
        await test_server.close()


def call(action: str = "action_query_mail", message_id: str = "m1") -> dict:
    return {"next_action": action, "sender_id": "rest:t", "version": "3.6",
            "tracker": {"latest_message": {"text": "EA000000005CN到哪了",
                                           "message_id": message_id}}}


@pytest.mark.asyncio
async def test_calls_share_one_session_and_keep_rasa_s_request(fake) -> None:
    server, url = fake
    endpoint = BoundedActionEndpoint(
        EndpointConfig(url, headers={ACTION_TOKEN_HEADER: "secret"}), timeout_s=5)
    assert await endpoint.request(json=call(), method="post", timeout=300) == ANSWER
    assert await endpoint.request(json=call(), method="post", timeout=300) == ANSWER
    assert action_session() is action_session()
    assert len(server.calls) == 2 and len(server.peers) == 1, "the connection is reused"
    headers = server.calls[0]["headers"]
    assert headers[ACTION_TOKEN_HEADER] == "secret"
    assert headers["Content-Type"] == "application/json"
    assert server.calls[0]["body"]["next_action"] == "action_query_mail"
    assert endpoint.copy().timeout_s == 5 and isinstance(endpoint.copy(), BoundedActionEndpoint)


@pytest.mark.asyncio
async def test_a_rejection_is_still_rasa_s_client_response_error(fake) -> None:
    server, url = fake
    server.status = 400
    endpoint = BoundedActionEndpoint(EndpointConfig(url), timeout_s=5)
    with pytest.raises(ClientResponseError) as error:
        await endpoint.request(json=call(), method="post")
    assert error.value.status == 400 and json.loads(error.value.text)["action_name"]


@pytest.mark.asyncio
async def test_a_hung_action_server_is_given_up_after_the_bound(fake, caplog) -> None:
    server, url = fake
    server.hang_s = 30
    endpoint = BoundedActionEndpoint(EndpointConfig(url), timeout_s=0.5)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="postdesk.server"):
        with pytest.raises(ActionServerUnavailable):
            await endpoint.request(json=call(), method="post", timeout=300)
    assert time.monotonic() - started < 5
    [line] = [r.getMessage() for r in caplog.records if r.name == "postdesk.server"]
    assert "action_query_mail" in line and "0.5 s" in line and "ACTION_TIMEOUT_S" in line


@pytest.mark.asyncio
async def test_a_turn_waits_for_a_hung_action_server_once(fake) -> None:
    server, url = fake
    server.hang_s = 30
    endpoint = BoundedActionEndpoint(EndpointConfig(url), timeout_s=0.5)
    with pytest.raises(ActionServerUnavailable):
        await endpoint.request(json=call("validate_complaint_form"), method="post")
    started = time.monotonic()
    with pytest.raises(ActionServerUnavailable):  # the same turn's next action: not called
        await endpoint.request(json=call("action_query_mail"), method="post")
    assert time.monotonic() - started < 0.4 and len(server.calls) == 1
    server.hang_s = 0  # the next message is a new turn: called again
    assert await endpoint.request(json=call(message_id="m2"), method="post") == ANSWER


@pytest.mark.asyncio
async def test_an_absent_action_server_is_reported_the_same_way(caplog) -> None:
    endpoint = BoundedActionEndpoint(
        EndpointConfig(f"http://127.0.0.1:{free_port()}/webhook"), timeout_s=5)
    try:
        with caplog.at_level(logging.ERROR, logger="postdesk.server"):
            with pytest.raises(ActionServerUnavailable):
                await endpoint.request(json=call("action_greet_back"), method="post")
    finally:
        await close_action_session()
    [line] = [r.getMessage() for r in caplog.records if r.name == "postdesk.server"]
    assert "action_greet_back" in line and "unreachable" in line


def test_endpoints_yml_gives_a_bounded_action_endpoint(tmp_path: Path) -> None:
    from bot.config import load_settings

    settings = load_settings({"ACTION_TIMEOUT_S": "2.5"}, env_file=tmp_path / "none")
    apply_runtime_fixes(settings)
    try:
        endpoints_file = tmp_path / "endpoints.yml"
        endpoints_file.write_text("action_endpoint:\n  url: http://127.0.0.1:9/webhook\n"
                                  f"  headers:\n    {ACTION_TOKEN_HEADER}: t\n")
        action = AvailableEndpoints.read_endpoints(str(endpoints_file)).action
        assert isinstance(action, BoundedActionEndpoint)
        assert action.timeout_s == 2.5 and action.headers == {ACTION_TOKEN_HEADER: "t"}
        assert action.url == "http://127.0.0.1:9/webhook"
    finally:
        apply_runtime_fixes(load_settings({}, env_file=tmp_path / "none"))


def test_rasa_s_traceback_is_dropped_for_a_reported_failure(caplog) -> None:
    """The processor logs a failed action with its traceback; ours already said it all."""
    apply_runtime_fixes()
    processor = logging.getLogger("rasa.core.processor")
    with caplog.at_level(logging.ERROR, logger="rasa.core.processor"):
        for error in (ActionServerUnavailable("timed out"), ValueError("a real bug")):
            try:
                raise error
            except Exception:
                processor.exception("Encountered an exception while running action")
    assert [r.exc_info[1].__class__ for r in caplog.records
            if r.name == "rasa.core.processor" and r.exc_info] == [ValueError]


@pytest.mark.asyncio
async def test_remote_action_fails_like_any_failed_action(fake) -> None:
    """RemoteAction.run lets our error through (Rasa's processor catches every exception)."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    server, url = fake
    server.hang_s = 30
    action = RemoteAction("action_query_mail",
                          BoundedActionEndpoint(EndpointConfig(url), timeout_s=0.3))
    domain = Domain.empty()
    with pytest.raises(ActionServerUnavailable):
        await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                         DialogueStateTracker("rest:t", []), domain)


# --- the real action server, hung ---------------------------------------------------------


def tracker_events(stack: Stack, conversation: str) -> list[dict]:
    from tests.stack import TOKEN

    request = urllib.request.Request(
        f"http://{stack.rasa_host}:{stack.rasa_port}/conversations/{conversation}/tracker",
        headers={RASA_TOKEN_HEADER: TOKEN})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())["events"]


@pytest.mark.server
def test_a_hung_action_server_gets_a_polite_answer_in_time(stack: Stack) -> None:
    from bot.channels.wechat_sim import WeChatSimulator
    from tests.channels.conftest import APP_ID, wait_until
    from tests.channels.conftest import TOKEN as WECHAT_TOKEN

    assert stack.actions is not None
    bound = stack.settings.action_timeout_s
    stack.say("t-hung", "你好")  # the conversation exists; its first turn is not timed
    wechat = WeChatSimulator(f"http://{stack.rasa_host}:{stack.rasa_port}/webhooks/wechat/webhook",
                             WECHAT_TOKEN, APP_ID)
    fake = stack.fake_wechat  # type: ignore[attr-defined]
    os.kill(stack.actions.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        replies = stack.say("t-hung", "EA000000005CN到哪了")
        took = time.monotonic() - started
        # WeChat: the passive wait (4 s) ends first, the answer goes out through the API.
        passive = wechat.say("o_hung", "EA000000005CN到哪了")
        assert passive.status == 200 and passive.text in (None, ACTIONS_DOWN_TEXT), passive
        assert passive.text or wait_until(
            lambda: [t for openid, t, _ in fake.sent if openid == "o_hung"], timeout=bound + 20
        ) == [ACTIONS_DOWN_TEXT], fake.sent
    finally:
        os.kill(stack.actions.pid, signal.SIGCONT)
    print(f"turn with a hung action server: {took:.1f} s (ACTION_TIMEOUT_S={bound:g})")
    # The bound, the health probe of the explanation (1 s), and a margin for a loaded machine.
    assert took < bound + 15, took
    assert replies == [ACTIONS_DOWN_TEXT], replies
    said = [e.get("text") for e in tracker_events(stack, "rest:t-hung") if e["event"] == "user"]
    assert said[-1] == "EA000000005CN到哪了", said
    # Back to normal once the action server runs again.
    deadline = time.monotonic() + 60
    while True:
        text = "\n".join(stack.say("t-hung", "EA000000005CN到哪了"))
        if "运输中" in text or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "EA000000005CN" in text and "运输中" in text, text
