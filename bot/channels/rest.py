"""The REST channel at ``/webhooks/rest/webhook``, hardened.

Rasa's own REST connector answers a malformed body with a 500 and, when a custom action
fails (the action server is down), with an empty list: the customer hears nothing. This
connector keeps Rasa's wire format but refuses malformed requests with a clear 400, and
when a turn produces no reply at all it tells the customer so and logs it for the operator.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.store import channel_uows, count_message, held_by_agent
from bot.text.masking import mask_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128

NO_REPLY_TEXT = "抱歉，系统暂时出了点问题，没能处理您的消息。请稍后再试，或拨打 11183 人工服务。"
ACTIONS_DOWN_TEXT = (
    "抱歉，查询系统暂时连接不上，您的消息已经收到，但现在没法查到结果。"
    "请稍后再试，或拨打 11183 人工服务。"
)


def validate_body(body: Any) -> tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Check a webhook body; return (cleaned body, None) or (None, reason)."""
    if not isinstance(body, dict):
        return None, "body must be a JSON object with 'sender' and 'message'"
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return None, f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters"
    if not isinstance(message, str) or not message.strip():
        return None, "'message' must be a non-empty string"
    if len(message) > MAX_MESSAGE_CHARS:
        return None, f"'message' is longer than {MAX_MESSAGE_CHARS} characters"
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return None, "'metadata' must be an object"
    return {"sender": sender.strip(), "message": message, "metadata": metadata}, None


async def action_server_reachable(url: Optional[str], timeout: float = 1.0) -> bool:
    """True when the action server answers its health route."""
    if not url:
        return True
    health = url.rsplit("/webhook", 1)[0] + "/health"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
            async with s.get(health) as r:
                return r.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return False


class SafeRestInput(RestInput):
    """REST input channel (name ``rest``) that validates input and never answers with silence."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        """Health route and the webhook route."""
        hook = Blueprint("safe_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                raw = request.json
            except Exception:  # sanic raises InvalidUsage on bad JSON
                raw = None
            body, error = validate_body(raw)
            if body is None:
                logger.warning("rest webhook refused a request: %s", error)
                return response.json({"error": error}, status=400)

            await count_message(self._uows(), body["sender"], self.name())
            collector = CollectingOutputChannel()
            message = UserMessage(
                body["message"], collector, body["sender"],
                input_channel=self.name(), metadata=body["metadata"],
            )
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("turn failed for sender %s: %s",
                                 mask_text(body["sender"]), mask_text(body["message"]))
            if collector.messages:
                return response.json(collector.messages)
            if await held_by_agent(request, body["sender"]):
                # An agent holds the conversation: the bot is silent, the agent sees the message.
                await self._note_for_agent(body["sender"], body["message"])
                return response.json([])
            return response.json([{
                "recipient_id": body["sender"],
                "text": await self._no_reply_text(request, body),
            }])

        @hook.route("/outbox", methods=["GET"])
        async def outbox(request: Request) -> HTTPResponse:
            """What agents sent to `sender` since the last call (each reply handed out once)."""
            sender = (request.args.get("sender") or "").strip()
            if not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "'sender' query parameter is required"}, status=400)
            try:
                replies = await asyncio.get_running_loop().run_in_executor(
                    None, self._take_outbox, sender)
            except Exception:
                logger.exception("outbox of %s not read", mask_text(sender))
                return response.json({"error": "outbox temporarily unavailable"}, status=503)
            return response.json([{"recipient_id": sender, "text": r.final_text,
                                   "agent": r.agent} for r in replies])

        return hook

    def _uows(self) -> Any:
        # Read the settings once: this runs for every customer message.
        factory = getattr(self, "_uow_factory", None)
        if factory is None:
            from bot.config import load_settings

            factory = self._uow_factory = channel_uows(load_settings().database_url)
        return factory

    def _take_outbox(self, sender: str) -> list:
        from bot.config import local_now
        from bot.store import desk

        return desk.take_outbox(self._uows(), sender, self.name(), local_now())

    async def _note_for_agent(self, sender: str, text: str) -> None:
        from bot.config import local_now
        from bot.store import desk

        try:
            await asyncio.get_running_loop().run_in_executor(
                None, desk.note_customer_message, self._uows(), sender, text, local_now())
        except Exception:
            logger.exception("message of %s for its agent not noted in the queue",
                             mask_text(sender))

    async def _no_reply_text(self, request: Request, body: Dict[str, Any]) -> str:
        return await explain_silence(request, body["sender"], body["message"])


async def explain_silence(request: Request, sender: str, message: str) -> str:
    """The reply for a turn that produced none (usually: the action server is down), logged."""
    agent = getattr(request.app.ctx, "agent", None)
    endpoint = getattr(agent, "action_endpoint", None)
    url = getattr(endpoint, "url", None)
    if not await action_server_reachable(url):
        logger.error("action server %s unreachable; told sender %s the service is down",
                     url, mask_text(sender))
        return ACTIONS_DOWN_TEXT
    logger.error("no reply produced for sender %s (message: %s)", mask_text(sender),
                 mask_text(message))
    return NO_REPLY_TEXT
