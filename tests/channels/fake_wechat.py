"""A fake of WeChat's API server for tests: stable token and customer-service send, over real HTTP.

    async with FakeWeChat() as wechat:
        client = WeChatClient(wechat.app_id, wechat.app_secret, base_url=wechat.base_url)
        wechat.fail_next(45015)
        ...
        assert wechat.sent == [(openid, "您好", token)]

It behaves like WeChat where the tests depend on it: `stable_token` in normal mode hands out the
current token until it expires and `force_refresh` replaces it; a send is checked for a known,
unexpired token (40001 / 42001) and for its JSON shape (44002 empty body, 47001 bad format).
Errors and delays are injected with `fail_next`, `fail_next_token`, `delay_next`,
`expire_token` and `reject_token`.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-secret-4f1d2c3b5a69788e"

@dataclass
class _Delay:
    seconds: float
    deliver_first: bool


class FakeWeChatState:
    """What the fake server knows and what the tests inspect and steer."""

    def __init__(self, app_id: str, app_secret: str, token_ttl: int) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_ttl = token_ttl
        self.token_fetches = 0
        self.forced_fetches = 0
        self.send_attempts = 0
        self.sent: list[tuple[str, str, str]] = []
        self.token: str | None = None
        self._expires_at = 0.0
        self._rejected: dict[str, int] = {}  # token -> errcode a send with it gets
        self._send_failures: list[int] = []
        self._token_failures: list[int] = []
        self._delays: list[_Delay] = []
        self._held: set[asyncio.Task[Any]] = set()  # handlers sleeping in a delay

    def issue_token(self) -> str:
        if self.token is not None:  # the old token stops working: expired, or "not latest"
            self._rejected.setdefault(self.token, 42001 if self.token_error(self.token) else 40001)
        self.token = "TOKEN_" + secrets.token_urlsafe(24)
        self._expires_at = time.monotonic() + self.token_ttl
        return self.token

    def token_error(self, token: str) -> int:
        """0 if `token` may send, else the errcode WeChat would give."""
        if token in self._rejected:
            return self._rejected[token]
        if token != self.token:
            return 40001
        if time.monotonic() >= self._expires_at:
            return 42001
        return 0


_STATE_KEY = web.AppKey("wechat_state", FakeWeChatState)


class FakeWeChat:
    """Runs the fake API on 127.0.0.1 at a free port for the duration of an `async with`.

    Args:
        app_id: the AppID the token endpoint accepts.
        app_secret: the AppSecret it accepts.
        token_ttl: `expires_in` of issued tokens, in seconds (also enforced).
    """

    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET,
                 token_ttl: int = 7200) -> None:
        self.state = FakeWeChatState(app_id, app_secret, token_ttl)
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeWeChat:
        # No access log: its lines would carry the token in the query string.
        self._runner = web.AppRunner(create_app(self.state), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=1.0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        # A held request whose client gave up is no longer tied to a connection that the
        # runner would wait for; end it here so that no handler outlives the server.
        for task in list(self.state._held):
            task.cancel()
        await asyncio.gather(*self.state._held, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- what happened ------------------------------------------------------------------------

    @property
    def app_id(self) -> str:
        return self.state.app_id

    @property
    def app_secret(self) -> str:
        return self.state.app_secret

    @property
    def token(self) -> str | None:
        """The token the server currently hands out."""
        return self.state.token

    @property
    def token_fetches(self) -> int:
        """Successful and failed calls of `stable_token`."""
        return self.state.token_fetches

    @property
    def forced_fetches(self) -> int:
        """Calls of `stable_token` with `force_refresh: true`."""
        return self.state.forced_fetches

    @property
    def send_attempts(self) -> int:
        """Requests to `message/custom/send`, whatever came of them."""
        return self.state.send_attempts

    @property
    def sent(self) -> list[tuple[str, str, str]]:
        """Delivered messages as (openid, content, token used), in delivery order."""
        return self.state.sent

    @property
    def token_ttl(self) -> int:
        return self.state.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: int) -> None:
        self.state.token_ttl = seconds

    # ---- knobs --------------------------------------------------------------------------------

    def expire_token(self) -> None:
        """The current token expires now: sends with it get 42001; the next fetch issues a new one."""
        self.state._expires_at = 0.0

    def reject_token(self, errcode: int = 40001) -> None:
        """Sends with the current token get `errcode`, yet normal-mode fetches still return it.

        Only a `force_refresh` fetch replaces it, as when WeChat's caches disagree.
        """
        if self.state.token is not None:
            self.state._rejected[self.state.token] = errcode

    def fail_next(self, errcode: int, times: int = 1) -> None:
        """The next `times` sends with a valid token are answered with `errcode`, not delivered."""
        self.state._send_failures.extend([errcode] * times)

    def fail_next_token(self, errcode: int, times: int = 1) -> None:
        """The next `times` token fetches are answered with `errcode`."""
        self.state._token_failures.extend([errcode] * times)

    def delay_next(self, seconds: float, times: int = 1, deliver_first: bool = False) -> None:
        """Hold the answer to the next `times` sends for `seconds`.

        By default the message is handled after the pause, and dropped (never delivered) if the
        client gave up meanwhile: a request lost on the way. With `deliver_first=True` it is
        delivered before the pause: the answer is what gets lost, as after a client timeout.
        """
        self.state._delays.extend([_Delay(seconds, deliver_first)] * times)


def create_app(state: FakeWeChatState) -> web.Application:
    """The fake API as an aiohttp application (for `aiohttp_client` or an `AppRunner`)."""
    app = web.Application()
    app[_STATE_KEY] = state
    app.router.add_post("/cgi-bin/stable_token", _stable_token)
    app.router.add_post("/cgi-bin/message/custom/send", _custom_send)
    return app


def _json(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _answer(errcode: int, errmsg: str | None = None) -> web.Response:
    return _json({"errcode": errcode, "errmsg": errmsg or _ERRMSG.get(errcode, "error")})


_ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40125: "invalid appsecret",
    42001: "access_token expired",
    44002: "empty post data",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


async def _json_body(request: web.Request) -> tuple[dict[str, Any] | None, int]:
    raw = await request.read()
    if not raw.strip():
        return None, 44002
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, 47001
    return (body, 0) if isinstance(body, dict) else (None, 47001)


async def _stable_token(request: web.Request) -> web.Response:
    state: FakeWeChatState = request.app[_STATE_KEY]
    state.token_fetches += 1
    body, errcode = await _json_body(request)
    if body is None:
        return _answer(errcode)
    if body.get("grant_type") != "client_credential":
        return _answer(40002)
    if body.get("appid") != state.app_id:
        return _answer(40013)
    if body.get("secret") != state.app_secret:
        return _answer(40125)
    if state._token_failures:
        return _answer(state._token_failures.pop(0))
    if body.get("force_refresh") is True:
        state.forced_fetches += 1
        state.issue_token()
    elif state.token is None or state.token_error(state.token) == 42001:
        state.issue_token()
    return _json({"access_token": state.token, "expires_in": state.token_ttl})


async def _custom_send(request: web.Request) -> web.Response:
    state: FakeWeChatState = request.app[_STATE_KEY]
    state.send_attempts += 1
    delay = state._delays.pop(0) if state._delays else None
    token = request.query.get("access_token", "")
    errcode = state.token_error(token) if token else 41001  # 41001: access_token missing
    if errcode:
        return _answer(errcode, "access_token missing" if errcode == 41001 else None)
    body, errcode = await _json_body(request)
    if body is None:
        return _answer(errcode)
    text = body.get("text")
    if (not isinstance(body.get("touser"), str) or not body["touser"]
            or body.get("msgtype") != "text" or not isinstance(text, dict)
            or not isinstance(text.get("content"), str)):
        return _answer(47001)
    if state._send_failures:
        return _answer(state._send_failures.pop(0))
    message = (body["touser"], text["content"], token)
    if delay is not None:
        if delay.deliver_first:
            state.sent.append(message)
        task = asyncio.current_task()
        assert task is not None
        state._held.add(task)
        try:
            await asyncio.sleep(delay.seconds)
        finally:
            state._held.discard(task)
        if delay.deliver_first:
            return _answer(0)
        if request.transport is None or request.transport.is_closing():
            return _answer(-1)  # the client gave up; WeChat never got the whole request
    state.sent.append(message)
    return _answer(0)
