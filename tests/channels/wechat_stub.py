"""The WeChat channel in a real Sanic server with a stand-in for Rasa (tests only).

``python -m tests.channels.wechat_stub --port P`` serves ``/webhooks/wechat/webhook`` exactly as
the Rasa server does, but answers from the rules below instead of a model, so the channel's
timing, ordering and delivery can be tested precisely. ``GET /stub/turns`` lists the turns the
stand-in saw. With ``--fake-clock`` the channel's rate limits run on a clock that only
``POST /stub/clock?advance=S`` moves. Log lines go to stderr as ``LEVEL name: message``.
The process's metrics are at ``/metrics`` (bot/channels/metrics.py).
The real Rasa server is covered by the WeChat tests of tests/test_server.py.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any

from rasa.core.channels.channel import UserMessage
from sanic import Sanic, response

from bot.channels.metrics import MetricsInput
from bot.channels.wechat import WeChatInput
from bot.config import load_settings

TURNS: list[dict[str, Any]] = []
LONG = "您的邮件正在运输途中，请耐心等待。" * 120  # about 6 KB of UTF-8


async def on_new_message(message: UserMessage) -> None:
    turn = {"sender": message.sender_id, "text": message.text or "",
            "channel": message.input_channel, "started": time.monotonic(), "finished": None}
    TURNS.append(turn)
    try:
        await _answer(message)
    finally:
        turn["finished"] = time.monotonic()


async def _answer(message: UserMessage) -> None:
    text, out, who = message.text or "", message.output_channel, message.sender_id
    if text.startswith("慢"):
        await asyncio.sleep(float(text[1:] or 2))
        await out.send_text_message(who, "慢回复：" + text)
    elif text == "长":
        await out.send_text_message(who, LONG)
    elif text == "多":
        for k in (1, 2, 3):
            await out.send_text_message(who, f"第{k}条")
    elif text == "按钮":
        await out.send_text_with_buttons(who, "要帮您登记催查吗？", [
            {"title": "要", "payload": "/affirm"}, {"title": "不用", "payload": "/deny"}])
    elif text == "沉默":
        return
    else:
        await out.send_text_message(who, "收到：" + text)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fake-clock", action="store_true")
    args = parser.parse_args()
    port = args.port
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = Sanic("wechat_stub")
    clock = FakeClock()
    channel = WeChatInput(load_settings(), clock=clock if args.fake_clock else time.monotonic)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/wechat")
    metrics = MetricsInput(load_settings())
    app.blueprint(metrics.blueprint(on_new_message), url_prefix=metrics.url_prefix())

    @app.get("/stub/turns")
    async def turns(request: Any) -> Any:
        return response.json(TURNS)

    @app.post("/stub/clock")
    async def advance(request: Any) -> Any:
        clock.now += float(request.args.get("advance", "0"))
        return response.json({"now": clock.now})

    app.run(host="127.0.0.1", port=port, access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
