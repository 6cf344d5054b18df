"""Client for WeChat's customer-service message API (客服消息), on aiohttp.

Used when a reply is not ready within WeChat's passive-reply window: the bot answers `success`
to the webhook and delivers the reply later through `message/custom/send`.

- The access token comes from `cgi-bin/stable_token`, is cached until shortly before it expires
  and is fetched single-flight: any number of concurrent senders cause one HTTP request.
- With `redis_url` (REDIS_URL, several replicas) the token is shared: it lives in Redis with its
  remaining lifetime, one process at a time renews it under a short Redis lock (SET NX PX) while
  the others wait for the stored token, and a token refused by WeChat is only replaced if Redis
  still holds that very token (another replica may have renewed it already). While Redis cannot
  be reached each process fetches its own, with a log line at most once a minute.
- 40001/42001/40014 (token invalid or expired): the token is renewed and the send retried once.
- 45015/45047 (48-hour reply window closed, or quota used up): `WindowClosed` at once, no retry;
  the caller flags the conversation for an agent.
- -1 (system busy), HTTP 5xx, timeouts and connection errors: retried with bounded exponential
  backoff, at most `max_attempts` sends in all, then `SendFailed`. When one of the failed
  attempts may have reached WeChat (HTTP 5xx, a timeout or a connection lost after the request
  was written, an unreadable answer) it is `SendUncertain`, a `SendFailed`: the message may have
  been delivered. `send_text(..., retry_uncertain=False)` raises it at the first such attempt
  instead of retrying, for callers that must never send twice (the proactive notices).

Log lines never contain the access token or the app secret, and show openids shortened. Every
failed call is counted in ``postdesk_wechat_api_errors_total`` by kind (bot/metrics.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import OrderedDict
from typing import Any, Callable, Sequence

import aiohttp

from bot.metrics import Metrics, process_metrics
from bot.text.masking import HIDDEN

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.weixin.qq.com"

# Token invalid ("invalid credential" / "not latest"), expired, or the wrong kind.
TOKEN_ERRORS = frozenset({40001, 42001, 40014})
# 45015: the user has not written within 48 hours; 45047: the customer-service quota is used up.
WINDOW_ERRORS = frozenset({45015, 45047})
SYSTEM_BUSY = -1

# The stable token is renewed before it runs out: WeChat itself hands out the next one five
# minutes early, and a token that dies in flight would cost a round trip.
_TOKEN_MARGIN_S = 300.0
_MAX_BACKOFF_S = 5.0
# The token shared by the processes of one app (REDIS_URL), and the lock of its renewal.
_SHARED_TOKEN_KEY = "postdesk:wechat:{app_id}:access_token"
_SHARED_LOCK_KEY = "postdesk:wechat:{app_id}:access_token:renewing"
_SHARED_POLL_S = 0.05
# Delete the lock only if this process still holds it (it may have expired and been retaken).
_RELEASE_LOCK = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                 "return redis.call('del', KEYS[1]) end return 0")


def mask_openid(openid: str) -> str:
    """Shorten an openid for log lines: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" -> "oUpF****eS6o"."""
    return openid[:4] + HIDDEN + openid[-4:] if len(openid) > 12 else HIDDEN


class WeChatApiError(Exception):
    """WeChat answered with an error code that is not retried.

    Attributes:
        errcode: WeChat's error code; -1 also stands for transport failures (timeout, refused).
        errmsg: WeChat's message or a short description; never contains the token or secret.
    """

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WindowClosed(WeChatApiError):
    """45015 or 45047: the message cannot be delivered now; not retried, hand over to an agent."""


class SendFailed(WeChatApiError):
    """Gave up after the bounded retries (busy, timeouts, or a token that stays invalid)."""


class SendUncertain(SendFailed):
    """Gave up, and an attempt may have reached WeChat: the message may have been delivered.

    Raised after a timeout or a connection lost once the request was written, an HTTP 5xx or an
    unreadable answer. A plain `SendFailed` means nothing was delivered (connection never made,
    -1 busy answers, a token refused).
    """


class _Transient(Exception):
    """A failure worth another attempt: -1, HTTP 5xx, an unreadable answer, timeout, connection."""

    def __init__(self, errcode: int, errmsg: str, ambiguous: bool) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg
        # True when WeChat may have acted on the request although we saw no answer.
        self.ambiguous = ambiguous


class WeChatClient:
    """Access token handling and customer-service text messages for one Official Account.

    Args:
        app_id: the Official Account's AppID.
        app_secret: its AppSecret; only ever sent to the token endpoint, never logged.
        base_url: WeChat's API host; tests point it at a fake server.
        session: an aiohttp session to use (the owner closes it); by default the client opens
            one on first use and closes it in `close()`.
        timeout_s: total timeout of one HTTP request.
        max_attempts: sends (or token fetches) tried for transient failures before `SendFailed`.
        backoff_s: first pause between attempts; doubled each time, capped at 5 s.
        clock: monotonic clock in seconds, injectable for tests of the token lifetime.
        remember_keys: how many confirmed idempotency keys are kept (oldest forgotten first).
        metrics: where failed calls are counted (default: this process's metrics).
        redis_url: Redis shared by every process of this app (settings.redis_url): the token
            is kept and renewed there once for all of them; "" keeps it in this process.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 5.0,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        remember_keys: int = 10_000,
        metrics: Metrics | None = None,
        redis_url: str = "",
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        # The connection has a budget of its own within the total, so that a timeout before
        # anything was sent (ServerTimeoutError) can be told from one after the request was sent.
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=timeout_s * 0.8)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._clock = clock
        self._remember_keys = remember_keys
        self._metrics = metrics or process_metrics()
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._redis_url = redis_url
        self._redis: Any = None  # redis.asyncio.Redis, opened on first use
        self._redis_warned_at = float("-inf")
        # How long one renewal may hold the shared lock: two fetches (normal, then forced)
        # with their retries. A holder that dies frees it when it expires.
        self._lock_s = 2 * max_attempts * (timeout_s + backoff_s) + 2.0
        self._confirmed: OrderedDict[str, None] = OrderedDict()
        # Sends in flight per idempotency key: [lock, callers holding or waiting for it].
        self._in_flight: dict[str, list[Any]] = {}

    def __repr__(self) -> str:
        return f"WeChatClient(app_id={self._app_id!r}, base_url={self._base_url!r})"

    async def close(self) -> None:
        """Close the HTTP session if this client opened it, and the Redis connections."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        if self._redis is not None:
            redis, self._redis = self._redis, None
            try:
                await redis.close()
                await redis.connection_pool.disconnect()
            except Exception:  # noqa: BLE001 - closing a connection to a Redis that is gone
                pass

    # ---- access token -------------------------------------------------------------------------

    async def access_token(self, force_refresh: bool = False) -> str:
        """The current access token, fetched from `stable_token` when missing or about to expire.

        Concurrent callers share one fetch; with Redis, so do the callers of every process.
        `force_refresh=True` asks WeChat for a new token, which invalidates the old one for
        every process using this app (WeChat allows it 20 times a day, 30 s apart), so the send
        path only uses it as a last resort; with Redis it replaces the shared token only if no
        other process has replaced it meanwhile.

        Raises:
            WeChatApiError: the token endpoint refused (e.g. 40125 wrong secret, 40164 IP not
                whitelisted).
            SendFailed: the token endpoint stayed busy or unreachable for `max_attempts` tries.
        """
        if not force_refresh and self._token_is_fresh():
            return self._token  # type: ignore[return-value]
        async with self._token_lock:
            if not force_refresh and self._token_is_fresh():
                return self._token  # type: ignore[return-value]
            rejected = self._token if force_refresh else None
            return await self._obtain(rejected, force=force_refresh)

    async def _renew_token(self, rejected: str) -> str:
        """A token other than `rejected`, fetched once however many senders saw it rejected."""
        async with self._token_lock:
            if self._token is not None and self._token != rejected and self._token_is_fresh():
                return self._token  # another sender renewed it while we waited
            self._token = None
            return await self._obtain(rejected, force=False)

    async def _obtain(self, rejected: str | None, force: bool) -> str:
        """A token other than `rejected`: from Redis when configured, else fetched here."""
        if self._redis_url:
            import redis  # type: ignore[import-untyped]  # redis 4 ships no type hints

            try:
                return await self._shared_token(rejected, force)
            except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
                self._redis_unavailable(exc)
        return await self._fetch_new(rejected, force)

    async def _fetch_new(self, rejected: str | None, force: bool) -> str:
        """Fetch a token from WeChat, other than `rejected` if one is given."""
        if force:
            return await self._with_retries("token fetch", lambda: self._fetch_token(True))
        # Normal mode first: it returns the newest token without invalidating it for other
        # processes. Only if WeChat still hands out the rejected one is a refresh forced.
        token = await self._with_retries("token fetch", lambda: self._fetch_token(False))
        if rejected is not None and token == rejected:
            token = await self._with_retries("token fetch", lambda: self._fetch_token(True))
        return token

    async def _shared_token(self, rejected: str | None, force: bool) -> str:
        """The token in Redis unless it is `rejected` (or missing); else renewed by one process.

        The process that gets the lock looks again (the token may have been replaced while it
        asked), fetches, stores the token with its remaining lifetime and releases the lock; the
        others poll for the stored token. A holder that failed or died frees the lock, and a
        waiter then tries to take it; one that waited longer than a renewal may take fetches
        for itself.

        Raises:
            redis.RedisError: Redis cannot be reached (the caller fetches in this process).
        """
        client = self._redis_client()
        token_key = _SHARED_TOKEN_KEY.format(app_id=self._app_id)
        lock_key = _SHARED_LOCK_KEY.format(app_id=self._app_id)
        if force and rejected is None:
            rejected = (await self._read_shared(client, token_key))[0]
        give_up_at = time.monotonic() + self._lock_s
        while True:
            token, ttl_ms = await self._read_shared(client, token_key)
            if token is not None and token != rejected:
                return self._adopt(token, ttl_ms)
            owner = secrets.token_hex(8)
            if await client.set(lock_key, owner, nx=True, px=int(self._lock_s * 1000)):
                return await self._renew_shared(client, token_key, lock_key, owner, rejected,
                                                force)
            while await client.exists(lock_key):  # another process is renewing it
                if time.monotonic() > give_up_at:
                    logger.warning("WeChat token renewal by another process takes too long; "
                                   "fetching here")
                    return await self._fetch_new(rejected, force)
                await asyncio.sleep(_SHARED_POLL_S)
                token, ttl_ms = await self._read_shared(client, token_key)
                if token is not None and token != rejected:
                    return self._adopt(token, ttl_ms)

    async def _renew_shared(self, client: Any, token_key: str, lock_key: str, owner: str,
                            rejected: str | None, force: bool) -> str:
        """Holding the lock: fetch unless the stored token was replaced meanwhile, store it."""
        import redis

        try:
            token, ttl_ms = await self._read_shared(client, token_key)
            if token is not None and token != rejected:
                return self._adopt(token, ttl_ms)
            token = await self._fetch_new(rejected, force)
            ttl_s = self._token_renew_at - self._clock()
            try:
                if ttl_s > 0:
                    await client.set(token_key, token, px=int(ttl_s * 1000))
            except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
                self._redis_unavailable(exc)  # the token is good; the others will fetch theirs
            return token
        finally:
            try:
                await client.eval(_RELEASE_LOCK, 1, lock_key, owner)
            except (redis.RedisError, OSError, asyncio.TimeoutError):
                pass  # it expires on its own

    async def _read_shared(self, client: Any, token_key: str) -> tuple[str | None, int]:
        """The shared token and its remaining lifetime in milliseconds (None, -2 if none)."""
        async with client.pipeline(transaction=True) as pipe:
            raw, ttl_ms = await pipe.get(token_key).pttl(token_key).execute()
        if raw is None:
            return None, -2
        return (raw.decode() if isinstance(raw, bytes) else str(raw)), int(ttl_ms)

    def _adopt(self, token: str, ttl_ms: int) -> str:
        """Use a token another process stored, until its lifetime in Redis runs out."""
        self._token = token
        # The key always has a lifetime; a missing one (-1) is trusted for a minute.
        self._token_renew_at = self._clock() + (ttl_ms / 1000 if ttl_ms > 0 else 60.0)
        return token

    def _redis_client(self) -> Any:
        if self._redis is None:
            import redis.asyncio  # type: ignore[import-untyped]

            self._redis = redis.asyncio.Redis.from_url(
                self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return self._redis

    def _redis_unavailable(self, exc: BaseException) -> None:
        """Log (at most once a minute) that this process fetches its own token for now."""
        now = time.monotonic()
        if now - self._redis_warned_at > 60:
            logger.error("WeChat access token not shared: redis unreachable (%s), this process "
                         "fetches its own", type(exc).__name__)
            self._redis_warned_at = now

    def _token_is_fresh(self) -> bool:
        return self._token is not None and self._clock() < self._token_renew_at

    async def _fetch_token(self, force_refresh: bool) -> str:
        body = {
            "grant_type": "client_credential",
            "appid": self._app_id,
            "secret": self._app_secret,
            "force_refresh": force_refresh,
        }
        answer = await self._post("/cgi-bin/stable_token", body, params=None, ambiguous=False)
        errcode = _errcode(answer)
        token = answer.get("access_token")
        if errcode == SYSTEM_BUSY:
            raise _Transient(errcode, self._redact(str(answer.get("errmsg", ""))), ambiguous=False)
        if errcode != 0 or not isinstance(token, str) or not token:
            errmsg = self._redact(str(answer.get("errmsg", "no access_token in the answer")))
            logger.error("WeChat token fetch refused: errcode=%s errmsg=%s", errcode, errmsg)
            raise WeChatApiError(errcode if errcode != 0 else -1, errmsg)
        try:
            expires_in = float(answer.get("expires_in", 7200))
        except (TypeError, ValueError):
            expires_in = 7200.0
        margin = min(_TOKEN_MARGIN_S, expires_in / 10)
        self._token = token
        self._token_renew_at = self._clock() + expires_in - margin
        logger.info("WeChat access token fetched (force_refresh=%s, expires_in=%.0f s)",
                    force_refresh, expires_in)
        return token

    # ---- sending ------------------------------------------------------------------------------

    async def send_text(self, openid: str, content: str, idempotency_key: str,
                        retry_uncertain: bool = True) -> None:
        """Send a text message to a customer through the customer-service API.

        A send confirmed by WeChat (errcode 0) under `idempotency_key` is remembered, and a later
        call with the same key returns without sending; concurrent calls with the same key wait
        for each other. Limits of that promise:

        - WeChat's API takes no idempotency key. When a request times out or the connection drops
          after WeChat accepted the message, the retry delivers it a second time; nothing on our
          side can tell. Retries are therefore bounded by `max_attempts` (connection failures
          before the request was sent, and -1 answers, do not carry this risk), and a caller
          that must never send twice passes `retry_uncertain=False`: such a failure then ends
          the call at once with `SendUncertain`.
        - Confirmed keys are kept in this process only, the last `remember_keys` of them; they
          are lost on restart and not shared between processes (the webhook's MsgId
          de-duplication is what prevents a message from being answered twice).

        Args:
            openid: the customer's openid (FromUserName of the incoming message).
            content: the text; the caller keeps it within WeChat's length limit.
            idempotency_key: identifies this message, e.g. "<MsgId>:<part>".
            retry_uncertain: retry an attempt that may have reached WeChat (timeout, connection
                lost after sending, HTTP 5xx); False raises `SendUncertain` at the first one.

        Raises:
            ValueError: empty openid or content.
            WindowClosed: 45015 or 45047; not retried.
            SendUncertain: gave up, and the message may have been delivered.
            SendFailed: busy, connections never made or an invalid token after the bounded
                retries: nothing was delivered.
            WeChatApiError: any other error code (not retried).
        """
        if not openid or not content:
            raise ValueError("openid and content must not be empty")
        if idempotency_key in self._confirmed:
            logger.info("WeChat send to %s skipped: key already confirmed", mask_openid(openid))
            return
        gate = self._in_flight.setdefault(idempotency_key, [asyncio.Lock(), 0])
        gate[1] += 1
        try:
            async with gate[0]:
                if idempotency_key in self._confirmed:
                    logger.info("WeChat send to %s skipped: key already confirmed",
                                mask_openid(openid))
                    return
                await self._send_text(openid, content, retry_uncertain)
                self._remember(idempotency_key)
        finally:
            gate[1] -= 1
            if gate[1] == 0:
                del self._in_flight[idempotency_key]

    async def send_texts(self, openid: str, contents: Sequence[str], key_prefix: str) -> None:
        """Send several texts in order, keyed `"{key_prefix}:{index}"`.

        Stops at the first error, which propagates (`WindowClosed` included): the messages before
        it were delivered and their keys confirmed, so calling again with the same prefix sends
        only the rest.
        """
        for index, content in enumerate(contents):
            await self.send_text(openid, content, f"{key_prefix}:{index}")

    async def _send_text(self, openid: str, content: str, retry_uncertain: bool = True) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        who = mask_openid(openid)
        token_renewed = False
        failures = 0
        uncertain = False  # an attempt may have reached WeChat
        while True:
            try:
                token = await self.access_token()
                answer = await self._post("/cgi-bin/message/custom/send", body,
                                          params={"access_token": token}, ambiguous=True)
                errcode = _errcode(answer)
                errmsg = self._redact(str(answer.get("errmsg", "")))
                if errcode == SYSTEM_BUSY:
                    raise _Transient(errcode, errmsg, ambiguous=False)
            except _Transient as exc:
                failures += 1
                uncertain = uncertain or exc.ambiguous
                if exc.ambiguous and not retry_uncertain:
                    logger.error("WeChat send to %s: %s; WeChat may have delivered it, not "
                                 "retried", who, exc.errmsg)
                    raise SendUncertain(exc.errcode, f"may have been delivered: {exc.errmsg}")
                if failures >= self._max_attempts:
                    logger.error("WeChat send to %s failed after %d attempts: %s%s", who,
                                 failures, exc.errmsg,
                                 " (WeChat may have delivered it)" if uncertain else "")
                    error = SendUncertain if uncertain else SendFailed
                    raise error(exc.errcode, f"gave up after {failures} attempts: {exc.errmsg}")
                delay = self._backoff(failures)
                logger.warning("WeChat send to %s: %s%s; retry %d/%d in %.2f s", who, exc.errmsg,
                               " (WeChat may have delivered it)" if exc.ambiguous else "",
                               failures, self._max_attempts - 1, delay)
                await asyncio.sleep(delay)
                continue
            if errcode == 0:
                logger.info("WeChat sent %d characters to %s", len(content), who)
                return
            if errcode in WINDOW_ERRORS:
                logger.warning("WeChat send to %s refused (errcode %s): needs an agent", who,
                               errcode)
                raise WindowClosed(errcode, errmsg)
            if errcode in TOKEN_ERRORS:
                if token_renewed:
                    logger.error("WeChat send to %s: token refused again (errcode %s)", who,
                                 errcode)
                    raise SendFailed(errcode, f"token refused after renewal: {errmsg}")
                token_renewed = True
                logger.warning("WeChat send to %s: token refused (errcode %s), renewing", who,
                               errcode)
                await self._renew_token(token)
                continue
            logger.error("WeChat send to %s refused: errcode=%s errmsg=%s", who, errcode, errmsg)
            raise WeChatApiError(errcode, errmsg)

    async def _with_retries(self, what: str, call: Callable[[], Any]) -> Any:
        """Run `call` up to `max_attempts` times while it fails transiently."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                return await call()
            except _Transient as exc:
                if attempt >= self._max_attempts:
                    logger.error("WeChat %s failed after %d attempts: %s", what, attempt,
                                 exc.errmsg)
                    raise SendFailed(exc.errcode, f"{what} gave up after {attempt} attempts: "
                                                  f"{exc.errmsg}") from None
                delay = self._backoff(attempt)
                logger.warning("WeChat %s: %s; retry in %.2f s", what, exc.errmsg, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, failures: int) -> float:
        return min(self._backoff_s * 2 ** (failures - 1), _MAX_BACKOFF_S)

    def _remember(self, key: str) -> None:
        self._confirmed[key] = None
        self._confirmed.move_to_end(key)
        while len(self._confirmed) > self._remember_keys:
            self._confirmed.popitem(last=False)

    # ---- HTTP ---------------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or (self._owns_session and self._session.closed):
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    async def _post(self, path: str, body: dict[str, Any], params: dict[str, str] | None,
                    ambiguous: bool) -> dict[str, Any]:
        """POST JSON and return WeChat's JSON answer; transient failures raise `_Transient`.

        `ambiguous` says whether WeChat may have acted on a request whose answer never arrived.
        Exception texts from aiohttp are not passed on: they can contain the URL with the token.
        """
        # Raw UTF-8, not \\u escapes: WeChat shows escaped Chinese and emoji literally.
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._http().post(self._base_url + path, data=data, params=params,
                                         headers=headers, timeout=self._timeout) as response:
                if response.status >= 500:
                    self._metrics.wechat_api_error("busy")
                    raise _Transient(SYSTEM_BUSY, f"HTTP {response.status}", ambiguous=ambiguous)
                if response.status != 200:
                    self._metrics.wechat_api_error("http")
                    raise WeChatApiError(-1, f"HTTP {response.status}")
                answer = await response.json(content_type=None)
        except aiohttp.ServerTimeoutError:
            # Only the connect budget raises it here (no socket read timeout is set): nothing
            # was sent.
            self._metrics.wechat_api_error("timeout")
            raise _Transient(SYSTEM_BUSY, f"cannot connect within {self._timeout.connect:.1f} s",
                             ambiguous=False) from None
        except asyncio.TimeoutError:
            self._metrics.wechat_api_error("timeout")
            raise _Transient(SYSTEM_BUSY, f"timed out after {self._timeout.total} s",
                             ambiguous=ambiguous) from None
        except aiohttp.ClientConnectorError as exc:
            # The connection was never made, so nothing reached WeChat.
            self._metrics.wechat_api_error("connection")
            raise _Transient(SYSTEM_BUSY, f"cannot connect ({type(exc).__name__})",
                             ambiguous=False) from None
        except (aiohttp.ClientError, ValueError) as exc:
            self._metrics.wechat_api_error("bad_answer")
            raise _Transient(SYSTEM_BUSY, f"no usable answer ({type(exc).__name__})",
                             ambiguous=ambiguous) from None
        if not isinstance(answer, dict):
            self._metrics.wechat_api_error("bad_answer")
            raise _Transient(SYSTEM_BUSY, "answer is not a JSON object", ambiguous=ambiguous)
        errcode = _errcode(answer)
        if errcode != 0:
            self._metrics.wechat_api_error(_error_kind(errcode))
        return answer

    def _redact(self, text: str) -> str:
        """Remove the secret and the current token from text WeChat sent back, just in case."""
        for secret in (self._app_secret, self._token):
            if secret:
                text = text.replace(secret, HIDDEN)
        return text


def _error_kind(errcode: int) -> str:
    """The kind `bot.metrics` counts a nonzero errcode under."""
    if errcode == SYSTEM_BUSY:
        return "busy"
    if errcode in TOKEN_ERRORS:
        return "token_invalid"
    if errcode in WINDOW_ERRORS:
        return "window_closed"
    return "refused"


def _errcode(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode", 0))
    except (TypeError, ValueError):
        return SYSTEM_BUSY
