"""Views of the workbench: thin handlers that call `bot.store` services and render templates.

Every handler declares who may call it (`require_role` / `public`); the routes are in
`bot.workbench.app.setup_routes`. Templates are rendered by a Jinja2 environment with
autoescaping always on, so whatever a customer or a user typed is shown as text.

Input is bounded here for every part of the workbench: `path_id` (ids in paths: 404 unless a
positive integer within the store's range), `json_body` (JSON request bodies: 400 when too
large, too deeply nested or not a JSON object), `text_field` (400 for a field that is not text
or over its limit) and `json_error` (the API's ``{"error": ...}`` answer).
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, TypeVar

import jinja2
from aiohttp import web

from bot.config import local_now
from bot.store.accounts import AccountView, Role
from bot.workbench.auth import (
    UOWS,
    current_account,
    current_session,
    ensure_session,
    is_api,
    log_out,
    public,
    redirect,
    require_role,
    safe_next,
)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css)$")
_STATIC_TYPES = {"js": "text/javascript", "css": "text/css"}
TEMPLATES = web.AppKey("postdesk.templates", jinja2.Environment)
T = TypeVar("T")


def make_templates() -> jinja2.Environment:
    """The Jinja2 environment of the workbench: autoescape on for every template."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: web.Request, name: str, context: dict[str, Any] | None = None,
           status: int = 200) -> web.Response:
    """Render template `name` with `context` plus the account and the CSRF token."""
    session = current_session(request)
    values = {
        "account": current_account(request),
        "csrf_token": session.csrf_token if session is not None else "",
        **(context or {}),
    }
    html = request.app[TEMPLATES].get_template(name).render(values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def render_forbidden(request: web.Request, reason: str) -> web.Response:
    """The 403 page (wrong role, missing CSRF token)."""
    return render(request, "forbidden.html", {"reason": reason}, status=403)


# --- bounded input ---------------------------------------------------------------------------

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


def json_error(message: str, status: int) -> web.Response:
    """The API's error answer: ``{"error": message}`` with Chinese left readable."""
    return web.json_response({"error": message}, status=status,
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


class BadInput(web.HTTPBadRequest):
    """A 400 carrying ``{"error": message}`` (raised by the input helpers below)."""

    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}, ensure_ascii=False),
                         content_type="application/json")
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

    Refused with 400 (`BadInput`, ``{"error": ...}``): more than `MAX_JSON_BYTES`, nested
    deeper than `MAX_JSON_DEPTH`, not UTF-8 JSON (NaN and Infinity included), not an object.
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
            raise web.HTTPNotFound(text=json.dumps({"error": "没有这个编号"}, ensure_ascii=False),
                                   content_type="application/json")
        raise web.HTTPNotFound()
    return int(raw)


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    # The store is synchronous and scrypt is slow on purpose: keep both off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


@dataclass(frozen=True)
class Section:
    """A part of the workbench shown on the home page of the roles that use it."""

    title: str
    description: str
    roles: tuple[Role, ...]
    href: str | None = None  # None: not built yet (shown as 即将上线)


SECTIONS: tuple[Section, ...] = (
    Section("转人工队列", "机器人转交的会话：接入、转交、交还机器人；接入后机器人对该客户暂停回复。",
            (Role.AGENT, Role.SUPERVISOR), "/queue"),
    Section("工单", "按渠道、状态、区县、类别筛选；截止时间倒计时，超时优先。",
            (Role.AGENT, Role.SUPERVISOR), "/orders"),
    Section("训练数据", "机器人没把握或理解错的客户消息：标注意图和实体，导出为训练数据。",
            (Role.TRAINER,), "/trainer/inbox"),
    Section("模型", "训练过的模型、评测分数和上线记录。", (Role.TRAINER, Role.SUPERVISOR),
            "/trainer/models"),
    Section("主管看板", "每日群报告（复制、发送到企业微信群）与月度统计（指标、图表、Excel）。", (Role.SUPERVISOR,), "/supervisor"),
    Section("账户管理", "账户和登录锁定：查看失败次数、解除锁定；创建、停用账户用命令 "
            "python -m bot.workbench users …。", (Role.ADMIN,), "/admin/users"),
)


def sections_for(account: AccountView) -> list[Section]:
    """The sections `account` may use (an admin sees all of them)."""
    return [s for s in SECTIONS if account.has_role(*s.roles)]


@public
async def static_file(request: web.Request) -> web.StreamResponse:
    """GET /static/{name}: the workbench's own scripts and styles (flat names only)."""
    name = request.match_info["name"]
    path = STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    response = web.Response(body=path.read_bytes(), charset="utf-8",
                            content_type=_STATIC_TYPES[name.rsplit(".", 1)[1]])
    response.headers["Cache-Control"] = "no-cache"
    return response


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /login: the login form (opens an anonymous session for its CSRF token)."""
    target = safe_next(request.query.get("next"))
    if current_account(request) is not None:
        return redirect(target)
    ensure_session(request)
    return render(request, "login.html", {"next": target, "username": "", "error": None})


@public
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session (the CSRF token was checked by the middleware)."""
    log_out(request)
    return redirect("/login")


@require_role()
async def home(request: web.Request) -> web.StreamResponse:
    """GET /: what the logged-in role can do, with links to the parts that exist."""
    account = current_account(request)
    assert account is not None
    return render(request, "home.html", {"sections": sections_for(account)})


@require_role()
async def api_me(request: web.Request) -> web.StreamResponse:
    """GET /api/me: the logged-in account and the session's CSRF token (for scripts)."""
    account = current_account(request)
    session = current_session(request)
    assert account is not None and session is not None
    return web.json_response({
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role.value,
        "role_label": account.role_label,
        "csrf_token": session.csrf_token,
    })
