"""A client of the WeCom (企业微信) group robot: post the daily report to a work group.

The protocol: ``POST {"msgtype": "text", "text": {"content": ...}}`` as JSON to the robot's
webhook ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``; the answer is
``{"errcode": 0, "errmsg": "ok"}`` or another errcode. A text message holds at most 2048
bytes of UTF-8, so a longer report goes out as several messages, in order, each headed
（1/3）, （2/3）, ... and cut at line ends. A robot takes 20 messages a minute; beyond that it
answers errcode 45009, and the message is retried after a pause, a bounded number of times.

The webhook comes from the environment variable ``WECOM_ROBOT_WEBHOOK`` (the full URL). Its
key is a secret: error messages and logs show it masked.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

from bot.config import load_settings

WEBHOOK_ENV = "WECOM_ROBOT_WEBHOOK"
TEXT_LIMIT_BYTES = 2048
RATE_LIMITED = 45009
# Seconds to wait before each retry of a rate-limited message (then give up).
RETRY_DELAYS: tuple[float, ...] = (5.0, 20.0, 60.0)
TIMEOUT_S = 10.0
_PART_HEADER = "（{i}/{n}）\n"
_HEADER_RESERVE = len(_PART_HEADER.format(i=999, n=999).encode("utf-8"))
_KEY = re.compile(r"(key=)([^&#\s]+)")


class WeComError(RuntimeError):
    """The robot refused a message, or could not be reached.

    Attributes:
        errcode: the robot's errcode (None for HTTP or network errors).
        sent: messages delivered before the failure.
        total: messages the report was split into.
    """

    def __init__(self, message: str, errcode: int | None = None, sent: int = 0,
                 total: int = 0) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.sent = sent
        self.total = total


@dataclass(frozen=True)
class SendResult:
    """A report delivered: how many messages, and how many rate-limit retries it took."""

    messages: int
    retries: int


def webhook_from_env(environ: Mapping[str, str] | None = None,
                     env_file: Path | None = None) -> str | None:
    """The configured webhook URL (``WECOM_ROBOT_WEBHOOK`` in the environment or ``.env``),
    or None when not set."""
    return load_settings(None if environ is None else dict(environ),
                         env_file).wecom_robot_webhook or None


def mask_webhook(url: str) -> str:
    """The webhook with its key hidden but for the last 4 characters."""
    return _KEY.sub(lambda m: m.group(1) + "****" + m.group(2)[-4:], url)


def _cut(line: str, budget: int) -> list[str]:
    """Cut one line into pieces of at most `budget` UTF-8 bytes, at character boundaries."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > budget and current:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    pieces.append("".join(current))
    return pieces


def _pack(lines: Sequence[str], budget: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for piece in _cut(line, budget):
            n = len(piece.encode("utf-8")) + (1 if current else 0)
            if current and size + n > budget:
                chunks.append("\n".join(current))
                current, size = [], 0
                n = len(piece.encode("utf-8"))
            current.append(piece)
            size += n
    if current:
        chunks.append("\n".join(current))
    return chunks


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Split `text` into messages of at most `limit` UTF-8 bytes, at line ends where possible.

    One message is returned as it is; several are headed （i/n）.
    """
    text = text.strip("\n")
    if len(text.encode("utf-8")) <= limit:
        return [text]
    chunks = _pack(text.split("\n"), limit - _HEADER_RESERVE)
    n = len(chunks)
    return [_PART_HEADER.format(i=i, n=n) + chunk for i, chunk in enumerate(chunks, 1)]


Sleep = Callable[[float], Awaitable[Any]]


class WeComRobot:
    """Posts text messages to one group robot.

    Args:
        webhook: the robot's full webhook URL.
        session: an aiohttp session to use (one is opened per report when None).
        retry_delays: pauses before each retry of a rate-limited (45009) message.
        sleep: how to pause (tests pass a fake).
        timeout: seconds per request.
    """

    def __init__(self, webhook: str, *, session: Any = None,
                 retry_delays: Sequence[float] = RETRY_DELAYS, sleep: Sleep = asyncio.sleep,
                 timeout: float = TIMEOUT_S) -> None:
        if not webhook.startswith(("https://", "http://")):
            raise ValueError("WECOM_ROBOT_WEBHOOK must be the robot's full webhook URL")
        self.webhook = webhook
        self.session = session
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.timeout = timeout

    async def _post(self, session: Any, content: str) -> dict[str, Any]:
        import aiohttp

        payload = {"msgtype": "text", "text": {"content": content}}
        try:
            async with session.post(self.webhook, json=payload,
                                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status != 200:
                    raise WeComError(f"企业微信机器人返回 HTTP {resp.status}")
                try:
                    answer = await resp.json(content_type=None)
                except ValueError:
                    raise WeComError("企业微信机器人的应答不是 JSON") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise WeComError(f"无法连接企业微信机器人（{mask_webhook(self.webhook)}）："
                             f"{type(exc).__name__}") from None
        if not isinstance(answer, dict) or "errcode" not in answer:
            raise WeComError("企业微信机器人的应答缺少 errcode")
        return answer

    async def _send_one(self, session: Any, content: str) -> int:
        """Send one message; returns the retries it took."""
        for retry in range(len(self.retry_delays) + 1):
            answer = await self._post(session, content)
            code = int(answer.get("errcode", -1))
            if code == 0:
                return retry
            if code != RATE_LIMITED:
                raise WeComError(f"企业微信机器人拒收：errcode {code} {answer.get('errmsg', '')}",
                                 errcode=code)
            if retry < len(self.retry_delays):
                await self.sleep(self.retry_delays[retry])
        raise WeComError(f"企业微信机器人限流（errcode {RATE_LIMITED}），重试 "
                         f"{len(self.retry_delays)} 次后仍未发出", errcode=RATE_LIMITED)

    async def send_report(self, text: str) -> SendResult:
        """Send `text`, split into as many messages as needed, in order.

        Raises:
            WeComError: a message was refused or could not be sent; ``sent`` says how many
                went out before it (the rest were not attempted).
        """
        if not text.strip():
            raise ValueError("nothing to send")
        messages = split_text(text)
        retries = 0
        own = self.session is None
        if own:
            import aiohttp

            session = aiohttp.ClientSession()
        else:
            session = self.session
        try:
            for sent, content in enumerate(messages):
                try:
                    retries += await self._send_one(session, content)
                except WeComError as exc:
                    raise WeComError(str(exc), exc.errcode, sent, len(messages)) from None
        finally:
            if own:
                await session.close()
        return SendResult(len(messages), retries)


async def send_report(webhook: str, text: str, **options: Any) -> SendResult:
    """`WeComRobot(webhook, **options).send_report(text)`."""
    return await WeComRobot(webhook, **options).send_report(text)
