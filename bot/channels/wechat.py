"""The WeChat Official Account channel (name ``wechat``): ``/webhooks/wechat/webhook``.

Speaks WeChat's server protocol: URL verification and signatures (``wechat_signing``), plain and
safe mode (``wechat_xml``, ``wechat_crypto``), replay checks (``wechat_replay``), all before
anything reaches Rasa; replies are split to WeChat's byte limit (``wechat_splitting``). Each
message is handled in a task of its own, so a webhook request that WeChat gives up on (it waits
5 s, then retries) does not cancel the turn. The reply goes back passively when it is ready within
``PASSIVE_WAIT_S``; otherwise the request answers ``success`` and the reply is delivered through
the customer-service API (bot/channels/wechat_api.py). A message (``MsgId``; events:
``FromUserName`` + ``CreateTime``) is handled once across retries and processes (Redis when
configured), and one customer's messages are handled in order.

Security (what is refused, and how):

- **Safe mode is enforced.** With an EncodingAESKey configured, only encrypted messages
  (``encrypt_type=aes``, ``msg_signature`` checked, appid checked) are accepted. The URL
  ``signature`` does not cover the body, so a plain POST under a valid (e.g. replayed) URL
  signature would be a downgrade: it is refused with 403 and a log line for the operator; the
  customer is not a party to such a request, and a 403 also makes a console still set to plain
  mode visible at once. Only with ``WECHAT_COMPAT_MODE`` (WeChat's "compatible mode", where
  plain and encrypted messages both arrive) is a plain message accepted as well; even then only
  the encrypted part of an encrypted message is trusted. Without an AES key, plain mode.
- **Namespaced conversations.** Rasa, the store and the agents' queue see the customer as
  ``wechat:<openid>`` (bot/channels/senders.py), so no other channel can write into a WeChat
  conversation; only WeChat's API (``touser``) gets the raw openid. Bot output for a
  conversation that is not a WeChat one is refused.
- **Rate limits.** Each customer (openid) may send ``SENDER_RATE_PER_MINUTE`` messages a minute
  (retries of one message count once). Over it, the customer gets one polite reply
  (``limits.SLOW_DOWN_TEXT``) and the operator one log line; further messages in that window
  get ``success`` and no turn. Genuine traffic all comes from WeChat's servers, so a limit per
  client address would throttle every customer at once: ``ADDRESS_RATE_PER_MINUTE`` is applied
  to requests that *fail* authentication (bad signature, bad ``msg_signature``/decryption,
  stale or reused nonce, a plain POST in safe mode, an oversize body). Under it they get
  403/413; over it 429, with one log line a window instead of one per request. A request that
  authenticates is never refused for its address. Behind a reverse proxy, configure Sanic's
  ``PROXIES_COUNT``/``REAL_IP_HEADER`` so the address is the client's, not the proxy's.
- **Bounds and text.** The body is read up to ``wechat_xml.MAX_BODY`` and refused (413)
  beyond, without reading more into memory; fields are bounded by ``wechat_xml``; a text
  over ``MAX_TEXT_CHARS`` gets a request to split it. Every text and voice recognition goes
  through ``bot.text.normalize.clean_text`` (full-width folded, lone surrogates replaced,
  controls dropped) and then ``neutralise_command`` (so a full-width "／intent" is caught too)
  before Rasa sees it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import senders
from bot.channels.claims import MessageClaims, redis_claims, replies_after
from bot.channels.customer_text import neutralise_command, numbered_choices, pick_choice
from bot.channels.limits import SLOW_DOWN_TEXT, RateLimiter, client_address, read_bounded
from bot.channels.rest import NO_REPLY_TEXT, explain_silence
from bot.channels.store import (
    OPT_OUT_WORDS,
    OPTED_OUT_TEXT,
    channel_uows,
    count_message,
    held_by_agent,
    note_for_agent,
    opt_out_of_notices,
)
from bot.channels.wechat_api import WeChatClient, WindowClosed, mask_openid
from bot.channels.wechat_crypto import Crypto
from bot.channels.wechat_errors import Forbidden, ProtocolError
from bot.channels.wechat_replay import MemoryNonceStore, NonceStore, RedisNonceStore, ReplayGuard
from bot.channels.wechat_signing import check_signature, verify_url
from bot.channels.wechat_splitting import split_for_wechat
from bot.channels.wechat_xml import MAX_BODY, InboundMessage, parse_xml, text_reply_xml
from bot.config import Settings, load_settings, local_now
from bot.metrics import Metrics, process_metrics
from bot.text.masking import mask_text
from bot.text.normalize import clean_text

logger = logging.getLogger(__name__)

DEDUP_TTL_S = 600
MAX_API_MESSAGES = 5
MAX_TEXT_CHARS = 2000  # a text message (or voice recognition) the bot handles; longer: TOO_LONG
SUCCESS = "success"

# Menu CLICK keys the account's menu may send, and the intent each stands for (allow-list).
CLICK_INTENTS: Mapping[str, str] = {
    "TRACK_MAIL": "track_mail",
    "SCHEDULE_PICKUP": "schedule_pickup",
    "COMPLAINT_PROGRESS": "complaint_progress",
    "ASK_FEE": "ask_fee",
    "ASK_OUTLET": "ask_outlet",
    "REQUEST_HUMAN": "request_human",
}

WELCOME = (
    "您好，欢迎关注中国邮政云南客服！我可以帮您查邮件、催派送、预约上门揽收、登记投诉，"
    "也可以回答资费、禁寄物品和网点的问题。直接发单号就能查件，比如“EA123456785CN”。"
)
NON_TEXT_REPLIES: Mapping[str, str] = {
    "image": "收到您的图片了，已转给人工客服查看，请稍候。如果是查件，直接发单号给我就行。",
    "location": "收到您的位置了，已转给人工客服。需要预约上门揽收的话，请回复“上门取件”。",
    "link": "收到您分享的链接了，已转给人工客服查看。",
    "video": "收到您的视频了，已转给人工客服查看。",
    "shortvideo": "收到您的视频了，已转给人工客服查看。",
    "file": "收到您的文件了，已转给人工客服查看。",
}
VOICE_UNCLEAR = "抱歉，没听清您的语音，麻烦打字告诉我好吗？"
TOO_LONG = f"您的消息太长了，麻烦分几条发给我，每条不超过 {MAX_TEXT_CHARS} 字。"
WINDOW_CLOSED_NOTE = "wechat_window_closed"


class SharedNonceStore:
    """Redis for nonces and message ids across processes; in-process while Redis is down.

    While Redis cannot be reached, duplicates are still caught within this process and the
    operator gets a log line (at most one a minute); nothing a customer sends is refused.
    """

    def __init__(self, primary: NonceStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.primary, self.fallback = primary, MemoryNonceStore()
        self._clock = clock
        self._last_warning = float("-inf")

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store `key` in Redis, or in this process while Redis is unreachable."""
        import redis  # type: ignore[import-untyped]  # redis 4 ships no type hints

        try:
            return self.primary.add_if_absent(key, ttl_s)
        except redis.RedisError as e:
            if self._clock() - self._last_warning > 60:
                logger.error("redis unavailable (%s): duplicates are caught in this process only",
                             type(e).__name__)
                self._last_warning = self._clock()
            return self.fallback.add_if_absent(key, ttl_s)


@dataclass
class Turn:
    """One customer message being handled, shared by the webhook requests that wait for it."""

    key: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    texts: List[str] = field(default_factory=list)
    waiters: int = 0
    claimed: bool = False

    def claim(self) -> bool:
        """True for exactly one caller: the one that delivers the reply."""
        if self.claimed:
            return False
        self.claimed = True
        return True


class WeChatOutput(OutputChannel):
    """Sends bot messages through the customer-service API (for replies outside a webhook)."""

    def __init__(self, client: WeChatClient) -> None:
        self.client = client

    @classmethod
    def name(cls) -> Text:
        """The channel name Rasa records on bot messages."""
        return "wechat"

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Send to the openid of conversation `recipient_id` (``wechat:<openid>``).

        Raises:
            ValueError: `recipient_id` is not a WeChat conversation (nothing is sent).
        """
        openid = senders.raw_id(recipient_id, "wechat")
        if openid is None:
            logger.error("wechat output refused for %s: not a WeChat conversation",
                         mask_text(recipient_id))
            raise ValueError("not a WeChat conversation")
        for chunk in split_for_wechat([text]):
            await self.client.send_text(openid, chunk, idempotency_key=f"out:{uuid.uuid4()}")


class WeChatInput(InputChannel):
    """Input channel for a WeChat Official Account's server URL."""

    @classmethod
    def name(cls) -> Text:
        """The channel name: the webhook is ``/webhooks/wechat/webhook``."""
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Configured from the environment (bot.config), not from credentials.yml values."""
        return cls(load_settings())

    def __init__(self, settings: Settings, client: Optional[WeChatClient] = None,
                 clock: Callable[[], float] = time.monotonic,
                 metrics: Optional[Metrics] = None) -> None:
        """Create the channel.

        Args:
            settings: credentials, mode and limits.
            client: the customer-service API client (built from `settings` on first use).
            clock: monotonic seconds for the rate limits (tests inject one).
            metrics: where turns are counted and timed (default: this process's metrics).
        """
        self.settings = settings
        self.metrics = metrics or process_metrics()
        self.passive_wait_s = settings.wechat_passive_wait_s
        self._client = client
        self._crypto: Optional[Crypto] = None
        self._store: Optional[NonceStore] = None
        self._replay: Optional[ReplayGuard] = None
        self._turns: Dict[str, Turn] = {}
        self._user_locks: Dict[str, asyncio.Lock] = {}
        self._user_pending: Dict[str, int] = {}
        self._choices: Dict[str, Dict[str, str]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._uow_factory: Any = None
        # Customers: messages a minute, and one "slow down" reply a window.
        self._sender_limit = RateLimiter(settings.sender_rate_per_minute, clock=clock)
        self._slow_down_sent = RateLimiter(1, clock=clock)
        # Client addresses: failed authentications a minute, and one log line a window.
        self._failure_limit = RateLimiter(settings.address_rate_per_minute, clock=clock)
        self._failure_logged = RateLimiter(1, clock=clock)

    # Resources, created on first use (never at import time).
    @property
    def client(self) -> WeChatClient:
        """The customer-service API client (for replies that miss the passive window)."""
        if self._client is None:
            self._client = WeChatClient(self.settings.wechat_app_id,
                                        self.settings.wechat_app_secret,
                                        base_url=self.settings.wechat_api_base_url,
                                        metrics=self.metrics,
                                        redis_url=self.settings.redis_url)
        return self._client

    @property
    def store(self) -> NonceStore:
        """Nonces and message ids: Redis (with an in-process fallback) or in-process only."""
        if self._store is None:
            store: NonceStore
            if self.settings.redis_url:
                import redis

                store = SharedNonceStore(
                    RedisNonceStore(redis.Redis.from_url(self.settings.redis_url,
                                                         socket_timeout=0.5)))
            else:
                store = MemoryNonceStore()
            self._store = store
        return self._store

    @property
    def claims(self) -> MessageClaims:
        """Message ids handled or being handled (Redis when configured): a retry is handled
        once, or again when the process handling it died (bot/channels/claims.py)."""
        found = getattr(self, "_claims", None)
        if found is None:
            found = self._claims = redis_claims(self.settings.redis_url, "postdesk:wechat:msg:")
        return found

    @property
    def replay(self) -> ReplayGuard:
        """The timestamp and nonce check, over :attr:`store`."""
        if self._replay is None:
            self._replay = ReplayGuard(store=self.store)
        return self._replay

    @property
    def crypto(self) -> Optional[Crypto]:
        """Safe mode's cipher; None in plain mode (no EncodingAESKey configured)."""
        if self._crypto is None and self.settings.wechat_encoding_aes_key:
            self._crypto = Crypto(self.settings.wechat_token,
                                     self.settings.wechat_encoding_aes_key,
                                     self.settings.wechat_app_id)
        return self._crypto

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Rasa's channel for messages outside a webhook request: the customer-service API."""
        return WeChatOutput(self.client)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Health, URL verification (GET) and the message webhook (POST)."""
        hook = Blueprint("wechat_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            args = request.args
            try:
                echo = verify_url(self.settings.wechat_token, args.get("signature", ""),
                                     args.get("timestamp", ""), args.get("nonce", ""),
                                     args.get("echostr", ""))
            except ProtocolError as e:
                logger.warning("wechat URL verification refused: %s", e)
                return response.text("forbidden", status=403)
            return response.text(echo)

        # Streamed: the body is read only up to MAX_BODY (Sanic would buffer up to 100 MB).
        @hook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            body = await read_bounded(request, MAX_BODY)
            if body is None:
                return self._refuse(request, 413, "request too large", "body over 64 KB")
            try:
                message = self._authenticate(request, body)
            except Forbidden as e:
                return self._refuse(request, 403, "forbidden", str(e))
            except ProtocolError as e:
                logger.warning("wechat webhook ignored a malformed message: %s", e)
                return response.text(SUCCESS)
            return await self._respond(request, message, on_new_message)

        return hook

    def _refuse(self, request: Request, status: int, body: str, reason: str) -> HTTPResponse:
        """Refuse a request that failed authentication; 429 once its address is over the limit."""
        address = client_address(request)
        if self._failure_limit.allow(address):
            logger.warning("wechat webhook refused a request from %s (%d): %s",
                           address, status, reason)
            return response.text(body, status=status)
        if self._failure_logged.allow(address):
            logger.warning("wechat webhook: %s sent over %d unverifiable requests a minute; "
                           "answering 429 (this line is logged once a minute)",
                           address, self.settings.address_rate_per_minute)
        return response.text("too many requests", status=429)

    def _authenticate(self, request: Request, body: bytes) -> InboundMessage:
        args = request.args
        timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
        check_signature(self.settings.wechat_token, args.get("signature", ""), timestamp, nonce)
        encrypted = args.get("encrypt_type", "raw") == "aes"
        if encrypted and self.crypto is None:
            raise Forbidden("encrypted message but no EncodingAESKey configured")
        if not encrypted and self.crypto is not None and not self.settings.wechat_compat_mode:
            # The URL signature does not cover the body: in safe mode plain is a downgrade.
            raise Forbidden("plain message in safe mode (set WECHAT_COMPAT_MODE to accept)")
        self.replay.check(timestamp, nonce)
        if encrypted:
            assert self.crypto is not None
            body = self.crypto.decrypt(body, args.get("msg_signature", ""), timestamp, nonce)
        return parse_xml(body)

    async def _respond(self, request: Request, message: InboundMessage,
                       on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        turn = self._turns.get(message.dedup_key)
        if turn is None:
            claim = self.claims.claim(message.dedup_key)
            if claim.state == "running":  # in another process: taken over if that one died
                claim = await self.claims.wait_done(message.dedup_key, self.passive_wait_s)
            if not claim.mine:
                logger.info("wechat message %s already handled", message.dedup_key)
                return response.text(SUCCESS)
            if claim.taken_over:
                made = await self._texts_already_made(request, message)
                if made is not None:  # its turn ran before its process died: not again
                    self.claims.finish(message.dedup_key)
                    if not made:
                        return response.text(SUCCESS)
                    chunks = split_for_wechat(made)
                    if len(chunks) > 1:
                        self._spawn(self._send_api(message.from_user, chunks[1:],
                                                   message.dedup_key))
                    return self._passive(request, message, chunks[0])
            throttled = self._throttle(request, message)
            if throttled is not None:
                return throttled
            turn = Turn(message.dedup_key)
            self._turns[turn.key] = turn
            task = asyncio.ensure_future(self._run_turn(turn, message, request, on_new_message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        turn.waiters += 1
        try:
            await asyncio.wait_for(asyncio.shield(turn.done.wait()), self.passive_wait_s)
        except asyncio.TimeoutError:
            return response.text(SUCCESS)
        finally:
            turn.waiters -= 1
        if not turn.texts or not turn.claim():
            return response.text(SUCCESS)
        chunks = split_for_wechat(turn.texts)
        if len(chunks) > 1:
            self._spawn(self._send_api(message.from_user, chunks[1:], turn.key))
        return self._passive(request, message, chunks[0])

    async def _texts_already_made(self, request: Request,
                                  message: InboundMessage) -> Optional[List[str]]:
        """The bot's texts for `message` if its conversation already holds it, else None."""
        agent = getattr(request.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None or not message.msg_id:
            return None
        tracker = await store.retrieve(conversation_of(message.from_user))
        if tracker is None:
            return None
        found = replies_after([e.as_dict() for e in tracker.events], lambda m: str(
            (m.get("wechat") or {}).get("msg_id")) == str(message.msg_id))
        return None if found is None else [b["text"] for b in found if b.get("text")]

    def _passive(self, request: Request, message: InboundMessage, text: str) -> HTTPResponse:
        """`text` as the passive reply to `message` (encrypted when the request was)."""
        reply = text_reply_xml(message.from_user, message.to_user, text, int(time.time()))
        if self.crypto is not None and request.args.get("encrypt_type") == "aes":
            reply = self.crypto.encrypt(reply, request.args.get("nonce", ""), str(int(time.time())))
        return response.text(reply, content_type="application/xml")

    def _throttle(self, request: Request, message: InboundMessage) -> Optional[HTTPResponse]:
        """None while the customer is under the limit; else one polite reply, then silence."""
        openid = message.from_user
        if self._sender_limit.allow(openid):
            return None
        # mask_text leaves an openid whole (it masks phones and ID numbers): shorten it.
        if not self._slow_down_sent.allow(openid):
            logger.debug("wechat message of %s dropped: over the rate limit", mask_openid(openid))
            return response.text(SUCCESS)
        logger.warning("wechat customer %s sent over %d messages a minute: asked to slow down, "
                       "further messages this minute are not answered", mask_openid(openid),
                       self.settings.sender_rate_per_minute)
        return self._passive(request, message, SLOW_DOWN_TEXT)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_turn(self, turn: Turn, message: InboundMessage, request: Request,
                        on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        user = message.from_user
        lock = self._user_locks.setdefault(user, asyncio.Lock())
        self._user_pending[user] = self._user_pending.get(user, 0) + 1
        try:
            async with self.claims.held(turn.key), lock:
                turn.texts = await self._texts_for(message, request, on_new_message)
            self.claims.finish(turn.key)
        except Exception:
            logger.exception("wechat turn failed for %s", mask_text(user))
            turn.texts = [NO_REPLY_TEXT]
        finally:
            turn.done.set()
            self._user_pending[user] -= 1
            if not self._user_pending[user]:  # nobody else queued: forget this customer's lock
                del self._user_pending[user]
                self._user_locks.pop(user, None)
        if turn.waiters:
            await asyncio.sleep(0.5)  # a waiting webhook request replies passively
        try:
            if turn.texts and turn.claim():
                await self._send_api(message.from_user, split_for_wechat(turn.texts), turn.key)
        finally:
            self._turns.pop(turn.key, None)

    async def _send_api(self, openid: str, chunks: List[str], key: str) -> None:
        try:
            await self.client.send_texts(openid, chunks[:MAX_API_MESSAGES], key_prefix=key)
        except WindowClosed as e:
            logger.warning("wechat reply window closed for %s (%s): flagged for an agent",
                           mask_text(openid), e.errcode)
            await self._flag_for_agent(conversation_of(openid), WINDOW_CLOSED_NOTE,
                                       "\n".join(chunks))
        except Exception:
            logger.exception("wechat reply not delivered to %s", mask_text(openid))

    async def _flag_for_agent(self, conversation: str, reason: str, text: str) -> None:
        """Queue `conversation` (``wechat:<openid>``) for an agent (what the bot cannot handle
        or deliver)."""
        from bot.store import desk, services

        def record() -> None:
            ticket = services.record_handover(self._uows(), conversation, "wechat", reason, text,
                                              None, local_now())
            if not ticket.created:  # already queued or with an agent: show what came in
                desk.note_customer_message(self._uows(), conversation, text, local_now())

        try:
            await asyncio.get_running_loop().run_in_executor(None, record)
        except Exception:
            logger.exception("could not flag %s for an agent", mask_text(conversation))

    def _uows(self) -> Any:
        if self._uow_factory is None:
            self._uow_factory = channel_uows(self.settings.database_url)
        return self._uow_factory

    async def _texts_for(self, message: InboundMessage, request: Request,
                         on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> List[str]:
        """Run the message through Rasa (or answer it directly); return the reply texts."""
        kind = message.msg_type
        if kind == "event":
            event = (message.event or "").lower()
            if event == "subscribe":
                return [WELCOME]
            if event == "click" and (message.event_key or "") in CLICK_INTENTS:
                return await self._ask_rasa(f"/{CLICK_INTENTS[message.event_key or '']}",
                                            message, request, on_new_message)
            logger.info("wechat event %r (%r) needs no reply", event, message.event_key)
            return []
        if kind in NON_TEXT_REPLIES:
            details = " ".join(f"{k}={v}" for k, v in message.extra.items())
            await self._flag_for_agent(conversation_of(message.from_user), f"wechat_{kind}",
                                       clean_text(f"[{kind}] {details}"))
            return [NON_TEXT_REPLIES[kind]]
        # Fold full-width first, so a full-width "／intent" is neutralised below as well.
        if kind == "voice":
            text = clean_text(message.recognition or "").strip()
            if not text:
                return [VOICE_UNCLEAR]
        elif kind == "text":
            text = clean_text(message.content or "").strip()
            if not text:
                return []
            if text in OPT_OUT_WORDS and await opt_out_of_notices(self._uows(), message.from_user):
                return [OPTED_OUT_TEXT]
        else:
            logger.info("wechat message type %r not handled", kind)
            return []
        if len(text) > MAX_TEXT_CHARS:
            logger.info("wechat message of %s not handled: %d characters",
                        mask_text(message.from_user), len(text))
            return [TOO_LONG]
        choice = pick_choice(text, self._choices.get(message.from_user, {}))
        if choice is not None:
            return await self._ask_rasa(choice, message, request, on_new_message)
        return await self._ask_rasa(neutralise_command(text), message, request, on_new_message)

    async def _ask_rasa(self, text: str, message: InboundMessage, request: Request,
                        on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> List[str]:
        conversation = conversation_of(message.from_user)
        await count_message(self._uows(), conversation, self.name())
        collector = CollectingOutputChannel()
        with self.metrics.turn(self.name()):
            await on_new_message(UserMessage(
                text, collector, conversation, input_channel=self.name(),
                metadata={"wechat": {"msg_id": message.msg_id, "msg_type": message.msg_type}},
            ))
        texts: List[str] = []
        self._choices.pop(message.from_user, None)
        for sent in collector.messages:
            body = sent.get("text") or ""
            buttons = sent.get("buttons") or []
            if buttons:
                body, choices = numbered_choices(body, buttons)
                self._choices[message.from_user] = choices
            if body:
                texts.append(body)
        if texts:
            return texts
        if await held_by_agent(request, conversation):
            # An agent holds the conversation: the bot is silent, the agent sees the message.
            await note_for_agent(self._uows(), conversation, text)
            return []
        return [await explain_silence(request, conversation, text)]


def conversation_of(openid: str) -> str:
    """The conversation id Rasa and the store know this customer by: ``wechat:<openid>``."""
    return senders.conversation_id("wechat", openid)

