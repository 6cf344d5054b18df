"""The REST channel's security over real HTTP (tests/channels/rest_app.py: the channel in a
real Sanic server, answering ``<conversation id>|<text NLU sees>`` instead of running Rasa).

Each test is a finding of the security review (issue 13) that the old channel failed.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.channels.senders import conversation_id
from bot.launcher import free_port, wait_http
from tests.channels.rest_app import OFFERED

ROOT = Path(__file__).resolve().parents[2]
REST_TOKEN = "rest-token-for-tests-7c1d"


class RestApp:
    def __init__(self, port: int, proc: subprocess.Popen, log: Path) -> None:
        self.port, self.proc, self.log = port, proc, log

    def call(self, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/webhooks/rest{path}",
                                         data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.loads(r.read()), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def say(self, sender: str, message: str, **kwargs: Any) -> tuple[int, Any]:
        status, answer, _ = self.call("/webhook", {"sender": sender, "message": message},
                                      **kwargs)
        return status, answer


def _start(tmp: Path, **env: str) -> RestApp:
    port = free_port()
    log = tmp / f"rest_app_{port}.log"
    environ = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp / 'store.db'}",
                   REST_TOKEN=REST_TOKEN, **env)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.channels.rest_app", str(port)],
                                cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    if not wait_http(f"http://127.0.0.1:{port}/webhooks/rest/", proc, 90):
        proc.kill()
        raise RuntimeError(f"rest_app did not start: {log.read_text()[-2000:]}")
    return RestApp(port, proc, log)


@contextlib.contextmanager
def running(tmp: Path, **env: str) -> Iterator[RestApp]:
    app = _start(tmp, **env)
    try:
        yield app
    finally:
        app.proc.terminate()
        app.proc.wait(15)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    """The `make run` default: Rasa on loopback, the webhook open, the outbox token-only."""
    with running(tmp_path_factory.mktemp("rest_local"), SENDER_RATE_PER_MINUTE="5",
                 ADDRESS_RATE_PER_MINUTE="400") as app:
        yield app


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    """Rasa configured to listen on every interface: every REST call needs the token."""
    with running(tmp_path_factory.mktemp("rest_exposed"), RASA_INTERFACE="0.0.0.0",
                 ADDRESS_RATE_PER_MINUTE="30") as app:
        yield app


def test_a_rest_caller_gets_a_conversation_of_its_own_channel(local: RestApp) -> None:
    # A WeChat openid given as a REST sender is a different conversation from the WeChat one.
    status, answer = local.say("oWx_customer_1", "我的投诉怎么样了")
    assert status == 200
    assert answer[0]["text"].startswith("rest:oWx_customer_1|")
    assert answer[0]["recipient_id"] == "oWx_customer_1"


@pytest.mark.parametrize("sender", ["张三", "a b", "100%", "a/b", "<x>", "wechat:oWx"])
def test_any_sender_id_maps_to_one_url_safe_conversation(local: RestApp, sender: str) -> None:
    status, answer = local.say(sender, "你好")
    assert status == 200
    conversation = answer[0]["text"].split("|", 1)[0]
    assert conversation == conversation_id("rest", sender)
    assert all(c.isalnum() or c in "_.:~-" for c in conversation), conversation
    assert answer[0]["recipient_id"] == sender


def test_intent_commands_are_stripped_unless_offered(local: RestApp) -> None:
    assert local.say("cmd-1", "/request_human")[1][0]["text"] == "rest:cmd-1|request_human"
    forged = '/inform{"phone_number": "13800000000"}'
    assert local.say("cmd-1", forged)[1][0]["text"] == f"rest:cmd-1|{forged[1:]}"
    # The button the bot offered in its last message goes through as a command ...
    local.say("cmd-2", "选项")
    assert local.say("cmd-2", OFFERED)[1][0]["text"] == f"rest:cmd-2|{OFFERED}"
    # ... once: after the customer's pick the bot's offer is no longer the last message.
    assert local.say("cmd-2", OFFERED)[1][0]["text"] == f"rest:cmd-2|{OFFERED[1:]}"
    # and only for the conversation it was offered in.
    assert local.say("cmd-3", OFFERED)[1][0]["text"] == f"rest:cmd-3|{OFFERED[1:]}"


def test_text_is_normalised_before_nlu(local: RestApp) -> None:
    status, answer, _ = local.call(
        "/webhook", raw=b'{"sender": "norm-1", "message": "\\uff25\\uff21\\uff10\\uff10\\uff15'
                        b'\\uff23\\uff2e \\ud800\\u5230\\u54ea\\u4e86"}')
    assert status == 200
    assert answer[0]["text"] == "rest:norm-1|EA005CN \ufffd到哪了"
    assert "Traceback" not in local.log.read_text()


@pytest.mark.parametrize("body,status,reason", [
    ({"sender": "m", "message": "hi", "metadata": {"blob": "x" * 500_000}}, 413, "larger"),
    ({"sender": "m", "message": "hi", "metadata": {"blob": "x" * 5_000}}, 400, "'metadata'"),
    ({"sender": "m", "message": "hi", "metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, 400,
     "nested"),
])
def test_metadata_is_bounded(local: RestApp, body: Any, status: int, reason: str) -> None:
    code, answer, _ = local.call("/webhook", body)
    assert code == status and reason in answer["error"]


def test_deeply_nested_json_is_a_clear_400(local: RestApp) -> None:
    code, answer, _ = local.call("/webhook", raw=b"[" * 3000 + b"]" * 3000)
    assert code == 400 and "JSON object" in answer["error"]


def test_one_sender_is_asked_to_slow_down_and_others_are_not(local: RestApp) -> None:
    answers = [local.say("flood-1", f"第{i}条")[1][0]["text"] for i in range(6)]
    assert all(a.startswith("rest:flood-1|") for a in answers[:5])
    assert "稍等一分钟" in answers[5]
    assert local.say("flood-2", "你好")[1][0]["text"] == "rest:flood-2|你好"


def test_the_outbox_needs_the_token_even_on_loopback(local: RestApp) -> None:
    code, answer, _ = local.call("/outbox?sender=web-1")
    assert code == 401 and "X-PostDesk-Rest-Token" in answer["error"]
    code, _, _ = local.call("/outbox?sender=web-1", headers={"X-PostDesk-Rest-Token": "wrong"})
    assert code == 401
    code, answer, _ = local.call("/outbox?sender=web-1",
                                 headers={"X-PostDesk-Rest-Token": REST_TOKEN})
    assert code == 200 and answer == []


def test_when_exposed_every_call_needs_the_token(exposed: RestApp) -> None:
    assert exposed.say("x-1", "你好")[0] == 401
    status, answer = exposed.say("x-1", "你好", headers={"X-PostDesk-Rest-Token": REST_TOKEN})
    assert status == 200 and answer[0]["text"] == "rest:x-1|你好"


def test_one_address_is_limited_with_429(exposed: RestApp) -> None:
    codes = [exposed.call("/webhook", {})[0] for _ in range(40)]
    assert 429 in codes and codes.count(429) >= 40 - 30
    code, _, headers = exposed.call("/webhook", {})
    assert code == 429 and headers.get("Retry-After") == "60"


def test_rest_can_be_switched_off(tmp_path: Path) -> None:
    with running(tmp_path, REST_ENABLED="false") as app:
        assert app.say("off-1", "你好")[0] == 404
        assert app.call("/outbox?sender=off-1",
                        headers={"X-PostDesk-Rest-Token": REST_TOKEN})[0] == 404
