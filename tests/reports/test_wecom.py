"""The WeCom group-robot client against a fake robot speaking the real protocol over HTTP."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.reports.wecom import (
    RATE_LIMITED,
    TEXT_LIMIT_BYTES,
    WeComError,
    WeComRobot,
    mask_webhook,
    split_text,
    webhook_from_env,
)

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@dataclass
class FakeRobot:
    """Answers each POST with the next errcode of `answers` (then 0), and keeps what came."""

    answers: list[int] = field(default_factory=list)
    status: int = 200
    received: list[dict] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.keys.append(request.query.get("key", ""))
        self.content_types.append(request.content_type)
        body = json.loads(await request.read())
        self.received.append(body)
        if self.status != 200:
            return web.Response(status=self.status, text="busy")
        code = self.answers.pop(0) if self.answers else 0
        return web.json_response({"errcode": code, "errmsg": "ok" if code == 0 else "refused"})

    @property
    def contents(self) -> list[str]:
        return [m["text"]["content"] for m in self.received]


@pytest_asyncio.fixture
async def robot() -> AsyncIterator[tuple[FakeRobot, str]]:
    fake = FakeRobot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", fake.handle)
    server = TestServer(app)
    await server.start_server()
    yield fake, str(server.make_url(f"/cgi-bin/webhook/send?key={KEY}"))
    await server.close()


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.mark.asyncio
async def test_a_short_report_is_one_text_message(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    result = await WeComRobot(url).send_report("【日报】\n一切正常")
    assert (result.messages, result.retries) == (1, 0)
    assert fake.received == [{"msgtype": "text", "text": {"content": "【日报】\n一切正常"}}]
    assert fake.keys == [KEY] and fake.content_types == ["application/json"]


@pytest.mark.asyncio
async def test_a_long_report_is_split_in_order_within_the_byte_limit(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    lines = [f"{i:03d}. 曲靖市麒麟区邮政分公司城关营业部：超时未更新 {i}、超时未签收 {i}" for i in range(120)]
    text = "\n".join(lines)
    assert len(text.encode()) > 3 * TEXT_LIMIT_BYTES
    result = await WeComRobot(url).send_report(text)
    assert result.messages == len(fake.received) >= 4
    n = result.messages
    rebuilt = []
    for i, content in enumerate(fake.contents, 1):
        assert len(content.encode("utf-8")) <= TEXT_LIMIT_BYTES
        header, _, body = content.partition("\n")
        assert header == f"（{i}/{n}）"
        rebuilt.extend(body.split("\n"))
    assert rebuilt == lines  # every line once, whole, in order


@pytest.mark.asyncio
async def test_rate_limit_is_waited_out_and_retried(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    fake.answers = [RATE_LIMITED, RATE_LIMITED]
    sleeps = Sleeps()
    result = await WeComRobot(url, retry_delays=(1.5, 3.0, 6.0), sleep=sleeps).send_report("日报")
    assert (result.messages, result.retries) == (1, 2)
    assert sleeps.calls == [1.5, 3.0]
    assert fake.contents == ["日报"] * 3


@pytest.mark.asyncio
async def test_rate_limit_retries_are_bounded(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    fake.answers = [RATE_LIMITED] * 10
    sleeps = Sleeps()
    with pytest.raises(WeComError) as exc:
        await WeComRobot(url, retry_delays=(1, 2), sleep=sleeps).send_report("日报")
    assert exc.value.errcode == RATE_LIMITED
    assert len(fake.received) == 3 and sleeps.calls == [1, 2]
    assert (exc.value.sent, exc.value.total) == (0, 1)


@pytest.mark.asyncio
async def test_a_refused_message_is_reported_with_what_was_sent(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    fake.answers = [0, 93000]
    text = "\n".join(["预警：" + "超时未更新" * 30] * 20)
    with pytest.raises(WeComError) as exc:
        await WeComRobot(url).send_report(text)
    assert exc.value.errcode == 93000
    assert exc.value.sent == 1 and exc.value.total >= 3
    assert "93000" in str(exc.value)
    assert len(fake.received) == 2  # nothing after the refused message


@pytest.mark.asyncio
async def test_http_errors_are_reported(robot) -> None:  # type: ignore[no-untyped-def]
    fake, url = robot
    fake.status = 502
    with pytest.raises(WeComError, match="HTTP 502"):
        await WeComRobot(url).send_report("日报")


@pytest.mark.asyncio
async def test_an_unreachable_robot_is_reported_without_its_key() -> None:
    with pytest.raises(WeComError) as exc:
        await WeComRobot(f"http://127.0.0.1:9/cgi-bin/webhook/send?key={KEY}",
                         timeout=2).send_report("日报")
    assert KEY not in str(exc.value) and "****5aaa" in str(exc.value)


def test_split_keeps_short_text_whole_and_cuts_overlong_lines_at_characters() -> None:
    assert split_text("短消息") == ["短消息"]
    parts = split_text("警" * 2000)  # 6000 bytes on one line
    assert len(parts) == 3
    assert all(len(p.encode()) <= TEXT_LIMIT_BYTES for p in parts)
    assert "".join(p.partition("\n")[2] for p in parts) == "警" * 2000


def test_webhook_configuration_and_masking() -> None:
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}"
    assert webhook_from_env({"WECOM_ROBOT_WEBHOOK": f" {url} "}) == url
    assert webhook_from_env({}) is None
    assert mask_webhook(url) == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****5aaa"
    with pytest.raises(ValueError):
        WeComRobot("qyapi.weixin.qq.com")
