"""The channels' metrics over real HTTP: WeChat API errors counted by kind against the fake API
(tests/channels/fake_wechat.py); the REST and WeChat channels' turns and their latency, scraped
from ``/metrics`` of each channel alone in a real Sanic server (tests/channels/rest_app.py,
tests/channels/wechat_stub.py); the action server's fallback turns, scraped from
``python -m bot.actions_server``.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from bot.channels.wechat_api import SendFailed, WeChatApiError, WeChatClient, WindowClosed
from bot.channels.wechat_sim import WeChatSimulator
from bot.config import ACTION_TOKEN_HEADER
from bot.launcher import free_port, wait_http
from bot.metrics import WECHAT_API_ERROR_KINDS, Metrics, exposition
from tests.channels.conftest import APP_ID, TOKEN, start_stub, stop, wait_until
from tests.channels.fake_wechat import FakeWeChat
from tests.support.metrics import scrape, value

ROOT = Path(__file__).resolve().parents[2]
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
METRICS_TOKEN = "metrics-token-for-tests-1f0c"
ACTION_TOKEN = "action-token-for-tests-77aa"


# ---- WeChat API errors ----------------------------------------------------------------------

@pytest_asyncio.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


def errors(metrics: Metrics) -> dict[str, float]:
    """The nonzero error counts by kind, as a scrape shows them."""
    text = exposition(metrics.registry).decode("utf-8")
    counts = {kind: value(text, "postdesk_wechat_api_errors_total", kind=kind)
              for kind in WECHAT_API_ERROR_KINDS}
    return {kind: count for kind, count in counts.items() if count}


@contextlib.asynccontextmanager
async def client(base_url: str, app_id: str, secret: str, **options: Any
                 ) -> AsyncIterator[tuple[WeChatClient, Metrics]]:
    metrics = Metrics(CollectorRegistry())
    api = WeChatClient(app_id, secret, base_url=base_url, backoff_s=0.01,
                       metrics=metrics, **{"timeout_s": 2.0, **options})
    try:
        yield api, metrics
    finally:
        await api.close()


@pytest.mark.asyncio
async def test_a_closed_window_is_counted(wechat: FakeWeChat) -> None:
    wechat.fail_next(45015)
    async with client(wechat.base_url, wechat.app_id, wechat.app_secret) as (api, metrics):
        with pytest.raises(WindowClosed):
            await api.send_text(OPENID, "您好", "m1")
    assert errors(metrics) == {"window_closed": 1}


@pytest.mark.asyncio
async def test_each_busy_answer_and_an_expired_token_are_counted(wechat: FakeWeChat) -> None:
    async with client(wechat.base_url, wechat.app_id, wechat.app_secret) as (api, metrics):
        wechat.fail_next(-1, times=2)
        await api.send_text(OPENID, "您好", "m1")  # delivered on the third attempt
        wechat.expire_token()
        await api.send_text(OPENID, "再见", "m2")  # 42001, renewed, delivered
    assert errors(metrics) == {"busy": 2, "token_invalid": 1}
    assert len(wechat.sent) == 2


@pytest.mark.asyncio
async def test_a_refused_secret_and_a_timeout_are_counted(wechat: FakeWeChat) -> None:
    async with client(wechat.base_url, wechat.app_id, "wrong-secret") as (api, metrics):
        with pytest.raises(WeChatApiError):
            await api.send_text(OPENID, "您好", "m1")
    assert errors(metrics) == {"refused": 1}
    async with client(wechat.base_url, wechat.app_id, wechat.app_secret, timeout_s=0.3,
                      max_attempts=1) as (api, metrics):
        await api.access_token()
        wechat.delay_next(1.0)
        with pytest.raises(SendFailed):
            await api.send_text(OPENID, "您好", "m2")
    assert errors(metrics) == {"timeout": 1}


@pytest.mark.asyncio
async def test_an_unreachable_api_is_counted() -> None:
    async with client(f"http://127.0.0.1:{free_port()}", "wx1234567890abcdef", "secret",
                      max_attempts=2) as (api, metrics):
        with pytest.raises(SendFailed):
            await api.send_text(OPENID, "您好", "m1")
    assert errors(metrics) == {"connection": 2}


# ---- the REST channel's turns -----------------------------------------------------------------

@contextlib.contextmanager
def rest_app(tmp: Path, **env: str) -> Iterator[str]:
    """tests/channels/rest_app.py on a free port; its base URL."""
    port = free_port()
    log = tmp / f"rest_app_{port}.log"
    environ = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp / 'store.db'}",
                   REST_TOKEN="rest-token-for-tests", **env)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.channels.rest_app", str(port)],
                                cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_http(f"http://127.0.0.1:{port}/webhooks/rest/", proc, 90):
            raise RuntimeError(f"rest_app did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(15)


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def test_the_rest_channel_counts_and_times_its_turns(tmp_path: Path) -> None:
    with rest_app(tmp_path, METRICS_TOKEN=METRICS_TOKEN) as base:
        status, before = scrape(f"{base}/metrics")
        assert status == 200
        assert value(before, "postdesk_turns_total", channel="rest") is None
        for text in ("你好", "我的快递到哪了"):
            assert post(f"{base}/webhooks/rest/webhook", {"sender": "alice", "message": text}) \
                == 200
        status, after = scrape(f"{base}/metrics/")
        assert status == 200
        assert value(after, "postdesk_turns_total", channel="rest") == 2
        assert value(after, "postdesk_turn_seconds_count", channel="rest") == 2
        assert value(after, "postdesk_turn_seconds_bucket", channel="rest", le="+Inf") == 2
        assert "alice" not in after
        # Relayed by a proxy: only with the token.
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        assert scrape(f"{base}/metrics", relayed)[0] == 401
        assert scrape(f"{base}/metrics",
                      {**relayed, "Authorization": f"Bearer {METRICS_TOKEN}"})[0] == 200


def test_the_wechat_channel_counts_its_turns_and_a_closed_window(
        fake_wechat: FakeWeChat, tmp_path: Path) -> None:
    proc, urls = start_stub(fake_wechat, tmp_path)
    try:
        customer = WeChatSimulator(urls.webhook, TOKEN, APP_ID)
        assert customer.say("o_metrics", "你好").text == "收到：你好"
        fake_wechat.fail_next(45015)
        customer.say("o_metrics", "慢1.2")  # misses the passive window; the API refuses it

        def window_closed() -> float | None:
            return value(scrape(f"{urls.base}/metrics")[1], "postdesk_wechat_api_errors_total",
                         kind="window_closed")

        assert wait_until(window_closed) == 1
        text = scrape(f"{urls.base}/metrics")[1]
        assert value(text, "postdesk_turns_total", channel="wechat") == 2
        assert value(text, "postdesk_turn_seconds_bucket", channel="wechat", le="1.0") == 1
        assert value(text, "postdesk_turn_seconds_count", channel="wechat") == 2
        assert "o_metrics" not in text
    finally:
        stop(proc)


# ---- the action server's fallback turns ---------------------------------------------------------

def action_call(action: str, intent: str, sender: str) -> dict[str, Any]:
    """A webhook call as Rasa makes it, for a turn the NLU read as `intent` (no entities)."""
    latest = {"text": "嗯嗯那个", "intent": {"name": intent, "confidence": 0.9},
              "intent_ranking": [{"name": intent, "confidence": 0.9}], "entities": []}
    return {"next_action": action, "sender_id": sender, "version": "3.6.2", "domain": {},
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": latest,
                        "events": [], "paused": False, "followup_action": None,
                        "active_loop": {}, "latest_action_name": "action_listen"}}


def test_the_action_server_counts_fallback_turns(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "actions.log"
    environ = dict(os.environ, ACTION_TOKEN=ACTION_TOKEN, ACTION_INTERFACE="127.0.0.1",
                   DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", METRICS_TOKEN="")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot.actions_server", "--port", str(port)],
                                cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_http(f"{base}/health", proc, 90), log.read_text()[-2000:]
        webhook, token = f"{base}/webhook", {ACTION_TOKEN_HEADER: ACTION_TOKEN}
        assert post(webhook, action_call("action_clarify", "nlu_fallback", f"wechat:{OPENID}"),
                    token) == 200
        assert post(webhook, action_call("action_clarify", "nlu_fallback", "rest:alice"),
                    token) == 200
        # A clarification after some other reading is not a fallback turn.
        assert post(webhook, action_call("action_clarify", "track_mail", "rest:alice"),
                    token) == 200
        status, text = scrape(f"{base}/metrics")
        assert status == 200
        assert value(text, "postdesk_fallback_turns_total", channel="wechat",
                     outcome="clarify") == 1
        assert value(text, "postdesk_fallback_turns_total", channel="rest",
                     outcome="clarify") == 1
        assert OPENID not in text and "alice" not in text
        # No token configured: a relayed scrape is refused outright.
        assert scrape(f"{base}/metrics", {"X-Forwarded-For": "203.0.113.9"})[0] == 403
    finally:
        proc.terminate()
        proc.wait(15)
