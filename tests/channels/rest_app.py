"""The REST channel alone in a real Sanic server, for tests: ``python -m tests.channels.rest_app PORT``.

Settings come from the environment like in the Rasa server. Instead of Rasa's agent, each
message is answered ``<conversation id>|<text as NLU would see it>``, and kept in an
in-memory tracker store; the text ``选项`` makes the bot offer one button (a clarification).
The process's metrics are at ``/metrics`` (bot/channels/metrics.py), mounted as Rasa mounts it.
"""
from __future__ import annotations

import sys
from urllib.parse import urljoin

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

from bot.channels.metrics import MetricsInput
from bot.channels.rest import SafeRestInput

OFFERED = '/track_mail{"tracking_number": "EA000000005CN"}'


class _Agent:
    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.action_endpoint = None


def build() -> Sanic:
    app = Sanic("rest_test_app")
    agent = _Agent()
    app.ctx.agent = agent

    async def on_new_message(message: UserMessage) -> None:
        tracker = await agent.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text))
        if message.text == "选项":
            tracker.update(BotUttered("您是想查件吗？", data={
                "buttons": [{"title": "查件", "payload": OFFERED}]}))
        await agent.tracker_store.save(tracker)
        await message.output_channel.send_text_message(message.sender_id,
                                                       f"{message.sender_id}|{message.text}")

    channel = SafeRestInput.from_credentials(None)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    # rasa.core.channels.channel.register mounts every channel at this prefix.
    metrics = MetricsInput.from_credentials(None)
    app.blueprint(metrics.blueprint(on_new_message),
                  url_prefix=urljoin("/webhooks/", metrics.url_prefix()))
    return app


if __name__ == "__main__":
    build().run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False)
