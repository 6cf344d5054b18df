"""The REST channel at ``/webhooks/rest/webhook``, hardened.

Rasa's own REST connector answers a malformed body with a 500 and, when a custom action
fails (the action server is down), with an empty list: the customer hears nothing. This
connector keeps Rasa's wire format but refuses malformed requests with a clear 400, and
when a turn produces no reply at all it tells the customer so and logs it for the operator.

Security (README "Security"):

* The conversation is ``rest:<sender>`` (bot/channels/senders.py), so a REST caller can never
  reach a WeChat customer's conversation, whatever id it claims.
* The webhook is open for trying the bot while Rasa listens on loopback (the ``make run``
  default). When Rasa listens on any other interface, every call needs the deployment's REST
  token (header ``X-PostDesk-Rest-Token``); ``REST_ENABLED=false`` switches the channel off.
  The outbox (agents' replies) is read only with that token, always.
* Customer text is normalised (bot/text/normalize.py); ``/intent{...}`` commands are stripped
  like WeChat does, except a payload of a button the bot offered in its last message.
* Bounded input: the body, the sender, the message and the metadata (size and depth); rate
  limits per sender (a polite reply) and per client address (429).

A body may carry a client ``message_id``: a retry of the same id (the first request died with
its Rasa replica, or timed out) is answered once, with the first answer, across replicas
(bot/channels/claims.py, in Redis when REDIS_URL is set).

Each message handed to Rasa is counted and timed (``postdesk_turns_total``,
``postdesk_turn_seconds``; bot/metrics.py).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import limits, senders
from bot.channels.claims import MessageClaims, redis_claims, replies_after
from bot.channels.customer_text import neutralise_command
from bot.channels.store import channel_uows, count_message, held_by_agent, note_for_agent
from bot.config import PROJECT_ROOT, Settings, load_settings, on_loopback
from bot.config import REST_TOKEN_HEADER as TOKEN_HEADER
from bot.metrics import Metrics, process_metrics
from bot.text.masking import mask_text
from bot.text.normalize import clean_text

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
MAX_BODY_BYTES = 16 * 1024
MAX_METADATA_BYTES = 4 * 1024
MAX_METADATA_DEPTH = 4
RETRY_WAIT_S = 10.0  # a retry of a message still being handled waits this long for its answer

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
    if metadata is not None:
        if _depth(metadata) > MAX_METADATA_DEPTH:
            return None, f"'metadata' is nested deeper than {MAX_METADATA_DEPTH} levels"
        if len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) > MAX_METADATA_BYTES:
            return None, f"'metadata' is larger than {MAX_METADATA_BYTES} bytes"
    message_id = body.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or not message_id.strip()
                                   or len(message_id) > MAX_SENDER_CHARS):
        return None, (f"'message_id' must be a non-empty string of at most {MAX_SENDER_CHARS} "
                      "characters")
    cleaned = {"sender": clean_text(sender.strip()), "message": clean_text(message),
               "metadata": metadata}
    if message_id is not None:
        cleaned["message_id"] = message_id.strip()
    return cleaned, None


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0, ``{}`` is 1)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def offered_payloads(tracker: Any) -> set[str]:
    """The button payloads of the bot's messages since the customer last wrote."""
    payloads: set[str] = set()
    for event in reversed(list(getattr(tracker, "events", []) or [])):
        kind = getattr(event, "type_name", "")
        if kind == "user":
            break
        if kind == "bot":
            for button in (getattr(event, "data", None) or {}).get("buttons") or []:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    payloads.add(button["payload"].strip())
    return payloads


def rest_token(settings: Settings, path: Path = PROJECT_ROOT / "var" / "rest_token") -> str:
    """The deployment's REST token: REST_TOKEN, else the one the launcher generated; "" if none."""
    if settings.rest_token:
        return settings.rest_token
    try:
        return path.read_text().strip()
    except OSError:
        return ""


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
        """The channel name: the webhook is ``/webhooks/rest/webhook``."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SafeRestInput":
        """Configured from the settings (bot.config), not from credentials.yml values."""
        return cls()

    def __init__(self, settings: Optional[Settings] = None,
                 metrics: Optional[Metrics] = None) -> None:
        self.settings = settings or load_settings()
        self.metrics = metrics or process_metrics()
        self.token = rest_token(self.settings)
        self.exposed = not on_loopback(self.settings.rasa_interface)
        self.per_sender = limits.RateLimiter(self.settings.sender_rate_per_minute)
        self.per_address = limits.RateLimiter(self.settings.address_rate_per_minute)
        if self.exposed and self.settings.rest_enabled and not self.token:
            logger.error("Rasa listens on %s but no REST token is set: the REST channel refuses "
                         "every call (set REST_TOKEN, or REST_ENABLED=false)",
                         self.settings.rasa_interface)

    def _authorised(self, request: Request) -> bool:
        sent = request.headers.get(TOKEN_HEADER, "")
        return bool(self.token) and hmac.compare_digest(sent.encode(), self.token.encode())

    def _refusal(self, request: Request, outbox: bool = False) -> Optional[HTTPResponse]:
        """The answer to a call the channel must not serve, or None to serve it."""
        if not self.settings.rest_enabled:
            return response.json({"error": "the REST channel is switched off"}, status=404)
        address = limits.client_address(request)
        if not self.per_address.allow(address):
            logger.warning("rest: address %s over %s requests a minute", address,
                           self.settings.address_rate_per_minute)
            return response.json({"error": "too many requests from this address"}, status=429,
                                 headers={"Retry-After": str(int(limits.WINDOW_S))})
        if (outbox or self.exposed) and not self._authorised(request):
            logger.warning("rest %s refused: missing or wrong %s from %s",
                           "outbox" if outbox else "webhook", TOKEN_HEADER, address)
            return response.json({"error": f"the {TOKEN_HEADER} header is missing or wrong"},
                                 status=401)
        return None

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        """Health route, the webhook route and the outbox."""
        hook = Blueprint("safe_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            refused = self._refusal(request)
            if refused is not None:
                return refused
            data = await limits.read_bounded(request, MAX_BODY_BYTES)
            if data is None:
                return response.json({"error": f"body larger than {MAX_BODY_BYTES} bytes"},
                                     status=413)
            try:
                raw = json.loads(data)
            except (ValueError, RecursionError):  # not JSON (or bad UTF-8); nested too deep
                raw = None
            body, error = validate_body(raw)
            if body is None:
                logger.warning("rest webhook refused a request: %s", error)
                return response.json({"error": error}, status=400)

            sender = body["sender"]
            conversation = senders.conversation_id(self.name(), sender)
            if not self.per_sender.allow(conversation):
                logger.warning("rest: %s over %s messages a minute; asked to slow down",
                               mask_text(conversation), self.settings.sender_rate_per_minute)
                return response.json([{"recipient_id": sender, "text": limits.SLOW_DOWN_TEXT}])
            text = await self._command_checked(request, conversation, body["message"])
            if not text.strip():
                return response.json({"error": "'message' must be a non-empty string"},
                                     status=400)
            if not body.get("message_id"):
                answer, _ = await self._turn(request, sender, conversation, text,
                                             body["metadata"], on_new_message)
                return response.json(answer)
            # A client's retry of one message id is answered once (bot/channels/claims.py).
            key = f"{conversation}:{body['message_id']}"
            claim = self.claims.claim(key)
            if claim.state == "running":
                claim = await self.claims.wait_done(key, RETRY_WAIT_S)
            if claim.state == "done":
                return response.json(claim.answer if claim.answer is not None else [])
            if not claim.mine:
                return response.json({"error": "this message is still being handled; try again"},
                                     status=409, headers={"Retry-After": "1"})
            metadata = dict(body["metadata"] or {}, postdesk_message_id=body["message_id"])
            if claim.taken_over:
                made = await self._answer_already_made(request, sender, conversation,
                                                       body["message_id"])
                if made is not None:  # its turn ran before its process died: not again
                    self.claims.finish(key, made)
                    return response.json(made)
            async with self.claims.held(key):
                answer, failed = await self._turn(request, sender, conversation, text,
                                                  metadata, on_new_message)
                if failed:  # nothing kept (e.g. the database was down): a retry may run it
                    self.claims.release(key)
                else:
                    self.claims.finish(key, answer)
            return response.json(answer)

        @hook.route("/outbox", methods=["GET"])
        async def outbox(request: Request) -> HTTPResponse:
            """What agents sent to `sender` since the last call (each reply handed out once)."""
            refused = self._refusal(request, outbox=True)
            if refused is not None:
                return refused
            sender = clean_text((request.args.get("sender") or "").strip())
            if not sender or len(sender) > MAX_SENDER_CHARS:
                return response.json({"error": "'sender' query parameter is required"}, status=400)
            conversation = senders.conversation_id(self.name(), sender)
            try:
                replies = await asyncio.get_running_loop().run_in_executor(
                    None, self._take_outbox, conversation)
            except Exception:
                logger.exception("outbox of %s not read", mask_text(conversation))
                return response.json({"error": "outbox temporarily unavailable"}, status=503)
            return response.json([{"recipient_id": sender, "text": r.final_text,
                                   "agent": r.agent} for r in replies])

        return hook

    async def _turn(self, request: Request, sender: str, conversation: str, text: str,
                    metadata: Optional[Dict[str, Any]],
                    on_new_message: Callable[[UserMessage], Awaitable[None]]) -> tuple[list, bool]:
        """Hand the message to Rasa; the JSON answer (never empty unless an agent holds it),
        and whether Rasa failed on it."""
        await count_message(self._uows(), conversation, self.name())
        collector = CollectingOutputChannel()
        message = UserMessage(text, collector, conversation, input_channel=self.name(),
                              metadata=metadata)
        failed = False
        with self.metrics.turn(self.name()):
            try:
                await on_new_message(message)
            except Exception:
                failed = True
                logger.exception("turn failed for sender %s: %s",
                                 mask_text(conversation), mask_text(text))
        if collector.messages:
            return [dict(m, recipient_id=sender) for m in collector.messages], failed
        if await held_by_agent(request, conversation):
            # An agent holds the conversation: the bot is silent, the agent sees the message.
            await note_for_agent(self._uows(), conversation, text)
            return [], failed
        return [{"recipient_id": sender,
                 "text": await explain_silence(request, conversation, text)}], failed

    async def _answer_already_made(self, request: Request, sender: str, conversation: str,
                                   message_id: str) -> Optional[list]:
        """The bot's answer to `message_id` if the conversation already holds it, else None."""
        agent = getattr(request.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        tracker = await store.retrieve(conversation) if store is not None else None
        if tracker is None:
            return None
        found = replies_after([e.as_dict() for e in tracker.events],
                              lambda m: m.get("postdesk_message_id") == message_id)
        if found is None:
            return None
        return [dict({k: v for k, v in (b.get("data") or {}).items() if v},
                     text=b.get("text"), recipient_id=sender) for b in found]

    @property
    def claims(self) -> MessageClaims:
        """Message ids already handled (REDIS_URL: across replicas), created on first use."""
        found = getattr(self, "_claims", None)
        if found is None:
            found = self._claims = redis_claims(self.settings.redis_url, "postdesk:rest:msg:")
        return found

    async def _command_checked(self, request: Request, conversation: str, text: str) -> str:
        """`text`, or without its leading "/" unless it is a button the bot just offered."""
        neutral = neutralise_command(text)
        if neutral == text:
            return text
        agent = getattr(request.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        try:
            tracker = await store.retrieve(conversation) if store is not None else None
        except Exception:  # noqa: BLE001 - an unreadable tracker offers nothing
            logger.exception("tracker of %s not read for its buttons", mask_text(conversation))
            tracker = None
        if tracker is not None and text.strip() in offered_payloads(tracker):
            return text
        logger.info("rest: a command from %s was stripped", mask_text(conversation))
        return neutral

    def _uows(self) -> Any:
        # Read the settings once: this runs for every customer message.
        factory = getattr(self, "_uow_factory", None)
        if factory is None:
            factory = self._uow_factory = channel_uows(self.settings.database_url)
        return factory

    def _take_outbox(self, conversation: str) -> list:
        from bot.config import local_now
        from bot.store import desk

        return desk.take_outbox(self._uows(), conversation, self.name(), local_now())


async def explain_silence(request: Request, sender: str, message: str) -> str:
    """The reply for a turn that produced none, logged.

    Usually the action server is down or hung (bot/server.py gives up on an action call after
    ACTION_TIMEOUT_S): its health route, asked for 1 s, does not answer either, and the
    customer is told the message is kept and to try again shortly. Otherwise: an apology.
    """
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
