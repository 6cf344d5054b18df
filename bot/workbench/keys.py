"""What every part of the workbench shares: the app's keys and the request helpers.

The app keys name what `bot.workbench.app.create_app` puts into the application (settings,
clock, store, clients, ...); views read them through the helpers here (`settings`, `now`,
`uows`) and never import `bot.workbench.app`. Tests replace a dependency by setting its key
on the app `create_app` returned, before the first request.

Requests are bounded here for every part of the workbench: `path_id` (ids in paths: 404 unless
a positive integer within the store's range), `json_body` (JSON request bodies: 400 when too
large, too deeply nested or not a JSON object), `text_field` (400 for a field that is not text
or over its limit). `json_error` is the API's ``{"error": ...}`` answer, which `BadInput`
raises. The store is synchronous: views call it through `in_thread`.
"""
from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import jinja2
from aiohttp import web

from bot.config import Settings
from bot.store.uow import UowFactory

if TYPE_CHECKING:  # the types of the values only; those modules import this one
    from prometheus_client import CollectorRegistry

    from bot.trainer.registry import Registry
    from bot.trainer.vocabulary import Vocabulary
    from bot.workbench.auth import AuthConfig, LoginGuard
    from bot.workbench.delivery import Deliverer
    from bot.workbench.rasa_client import RasaClient
    from bot.workbench.trainer_views import TrainerPaths
    from bot.workorders.policy import DeadlinePolicy

T = TypeVar("T")
Clock = Callable[[], datetime]
Forbidden = Callable[[web.Request, str], web.StreamResponse]

# --- the app's keys (set by create_app, on startup, or by a test) ------------------------------

# The runtime settings `create_app` was given.
SETTINGS = web.AppKey("postdesk.settings", Settings)
# What "now" is for every view (naive Beijing time, `bot.config.local_now`); tests pin it.
CLOCK: web.AppKey[Clock] = web.AppKey("postdesk.clock")
# The unit-of-work factory of the store (given to create_app, or opened on startup).
UOWS: web.AppKey[UowFactory] = web.AppKey("postdesk.uows")
# Sessions and the cookie policy of `bot.workbench.auth`.
AUTH: web.AppKey[AuthConfig] = web.AppKey("postdesk.auth")
# Counts and slows down failed logins.
LOGIN_GUARD: web.AppKey[LoginGuard] = web.AppKey("postdesk.login_guard")
# Renders the 403 page for a page request, given a Chinese reason.
FORBIDDEN: web.AppKey[Forbidden] = web.AppKey("postdesk.forbidden")
# The Jinja2 environment of the pages.
TEMPLATES = web.AppKey("postdesk.templates", jinja2.Environment)
# The work-order deadline policy (loaded from the settings on startup unless a test set one).
POLICY: web.AppKey[DeadlinePolicy] = web.AppKey("postdesk.policy")
# The client of the Rasa server's HTTP API (made from the settings on startup).
RASA: web.AppKey[RasaClient] = web.AppKey("postdesk.rasa")
# Sends agents' replies through the conversation's channel (made on startup).
DELIVERER: web.AppKey[Deliverer] = web.AppKey("postdesk.deliverer")
# The intents and entities of the domain, read once on startup.
VOCABULARY: web.AppKey[Vocabulary] = web.AppKey("postdesk.vocabulary")
# Where the trainers' export reads and writes, and the domain file.
TRAINER_PATHS: web.AppKey[TrainerPaths] = web.AppKey("postdesk.trainer_paths")
# The registry of trained models (None: the project's registry file).
MODEL_REGISTRY: web.AppKey[Registry] = web.AppKey("postdesk.model_registry")
# The WeCom group robot's webhook URL ("" = not configured; read from the environment).
WEBHOOK = web.AppKey("postdesk.reports.webhook", str)
# What /metrics serves (`bot.workbench.metrics_views.make_registry`: one registry per app).
METRICS: web.AppKey[CollectorRegistry] = web.AppKey("postdesk.metrics")


def settings(request: web.Request) -> Settings:
    """The settings of the app serving `request`."""
    return request.app[SETTINGS]


def now(request: web.Request) -> datetime:
    """The app clock's "now" (naive Beijing time): the one every view takes its time from."""
    return request.app[CLOCK]()


def uows(request: web.Request) -> UowFactory:
    """The store's unit-of-work factory."""
    return request.app[UOWS]


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """Run ``func(*args)`` in the default executor and await its result.

    The store is synchronous and password hashing slow on purpose: both stay off the event loop.
    """
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


def is_api(request: web.Request) -> bool:
    """True for the JSON API (``/api/...``): it answers JSON errors instead of pages."""
    return request.path == "/api" or request.path.startswith("/api/")


# --- JSON answers and bounded input --------------------------------------------------------------

# Every request body (forms included): aiohttp's client_max_size, set explicitly by create_app.
MAX_REQUEST_BYTES = 1024 * 1024
# A JSON body of the workbench's API: its few fields fit many times over.
MAX_JSON_BYTES = 64 * 1024
# Deepest nesting of arrays and objects a JSON body may have (the API needs 3).
MAX_JSON_DEPTH = 20
# Store ids are INTEGER columns: 32-bit on PostgreSQL, so that is the largest id there is.
MAX_ID = 2**31 - 1
_ID = re.compile(r"[1-9][0-9]{0,9}")
# What the depth check looks at: quotes (strings are skipped) and brackets.
_JSON_MARKS = re.compile(r'["\[\]{}]')


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_ok(payload: Any, status: int = 200) -> web.Response:
    """A JSON answer with Chinese left readable."""
    return web.json_response(payload, status=status, dumps=_dumps)


def json_error(message: str, status: int) -> web.Response:
    """The API's error answer: ``{"error": message}`` with Chinese left readable."""
    return json_ok({"error": message}, status=status)


class BadInput(web.HTTPBadRequest):
    """A 400 carrying ``{"error": message}``, as `json_error` writes it (raised by the helpers)."""

    def __init__(self, message: str) -> None:
        super().__init__(text=_dumps({"error": message}), content_type="application/json")
        self.message = message


def _too_deep(text: str, limit: int) -> bool:
    """Whether arrays/objects nest deeper than `limit`, found in one pass without parsing."""
    depth, at = 0, 0
    while (mark := _JSON_MARKS.search(text, at)) is not None:
        token, at = mark.group(), mark.end()
        if token == '"':
            at = _string_end(text, at)
        elif token in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _string_end(text: str, at: int) -> int:
    """Just past the quote closing the string that starts at `at` (the end if none does)."""
    while (quote := text.find('"', at)) >= 0:
        backslashes = quote - 1
        while backslashes >= at and text[backslashes] == "\\":
            backslashes -= 1
        if (quote - 1 - backslashes) % 2 == 0:  # not escaped
            return quote + 1
        at = quote + 1
    return len(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, checked before it is parsed.

    Raises:
        BadInput: more than `MAX_JSON_BYTES`, nested deeper than `MAX_JSON_DEPTH`, not UTF-8
            JSON (NaN and Infinity included), or not an object.
    """
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise BadInput(f"请求内容太大（最多 {MAX_JSON_BYTES // 1024} KB）")
    raw = await request.read()  # bounded by client_max_size even without a Content-Length
    if len(raw) > MAX_JSON_BYTES:
        raise BadInput(f"请求内容太大（最多 {MAX_JSON_BYTES // 1024} KB）")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("请求内容不是 JSON") from None
    if _too_deep(text, MAX_JSON_DEPTH):
        raise BadInput(f"请求内容嵌套太深（最多 {MAX_JSON_DEPTH} 层）")
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadInput("请求内容不是 JSON") from None
    if not isinstance(body, dict):
        raise BadInput("请求内容必须是 JSON 对象")
    return body


def text_field(values: Any, name: str, limit: int, label: str, *,
               required: bool = False) -> str | None:
    """A text field of a JSON body or a form: a string of at most `limit` characters.

    Args:
        values: the decoded JSON object or the posted form.
        name: the field.
        limit: the most characters it may have.
        label: its Chinese name, for the error.
        required: refuse a missing (or null) field.

    Returns:
        The text as sent, or None when it is missing (or null) and not required.

    Raises:
        BadInput: not a string, too long, or missing when required.
    """
    value = values.get(name)
    if value is None:
        if required:
            raise BadInput(f"缺少{label}")
        return None
    if not isinstance(value, str):
        raise BadInput(f"{label}必须是文字")
    if len(value) > limit:
        raise BadInput(f"{label}太长（最多 {limit} 字）")
    return value


def path_id(request: web.Request, name: str = "id") -> int:
    """The id in the path: a positive integer no larger than the store's ids, else 404."""
    raw = request.match_info.get(name, "")
    if _ID.fullmatch(raw) is None or int(raw) > MAX_ID:
        if is_api(request):
            raise web.HTTPNotFound(text=_dumps({"error": "没有这个编号"}),
                                   content_type="application/json")
        raise web.HTTPNotFound()
    return int(raw)
