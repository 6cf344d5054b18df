"""Views of the workbench: thin handlers that call `bot.store` services and render templates.

Every handler declares who may call it (`require_role` / `public`); the routes are in
`bot.workbench.app.setup_routes`. Templates are rendered by a Jinja2 environment with
autoescaping always on, so whatever a customer or a user typed is shown as text. The app's
keys and the request helpers (bounded JSON bodies, ids in paths, ``{"error": ...}`` answers)
are in `bot.workbench.keys`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.store.accounts import AccountView, Role
from bot.workbench.auth import (
    current_account,
    current_session,
    ensure_session,
    log_out,
    public,
    redirect,
    require_role,
    safe_next,
)
from bot.workbench.keys import TEMPLATES

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css)$")
_STATIC_TYPES = {"js": "text/javascript", "css": "text/css"}


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


@dataclass(frozen=True)
class Section:
    """A part of the workbench shown on the home page of the roles that use it."""

    title: str
    description: str
    roles: tuple[Role, ...]
    href: str | None = None  # None: not built yet (shown as 即将上线)


SECTIONS: tuple[Section, ...] = (
    Section("转人工队列",
            "机器人转交的会话：接入、转交、交还机器人；接入后机器人对该客户暂停回复。",
            (Role.AGENT, Role.SUPERVISOR), "/queue"),
    Section("工单", "按渠道、状态、区县、类别筛选；截止时间倒计时，超时优先。",
            (Role.AGENT, Role.SUPERVISOR), "/orders"),
    Section("来电", "11183/11185 来电台：记录来电内容，即时看到理解结果、邮件轨迹、"
            "来电人的工单和建议答复；由来电直接开工单。", (Role.AGENT,), "/calls"),
    Section("主动客服", "大客户、特安邮件和重点项目邮件的异常任务：轨迹、外呼话术、"
            "通知与处理记录；大客户名单。", (Role.AGENT, Role.SUPERVISOR), "/proactive"),
    Section("训练数据", "机器人没把握或理解错的客户消息：标注意图和实体，导出为训练数据。",
            (Role.TRAINER,), "/trainer/inbox"),
    Section("模型", "训练过的模型、评测分数和上线记录。", (Role.TRAINER, Role.SUPERVISOR),
            "/trainer/models"),
    Section("主管看板", "每日群报告（复制、发送到企业微信群）与月度统计（指标、图表、Excel）。",
            (Role.SUPERVISOR,), "/supervisor"),
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
    await ensure_session(request)
    return render(request, "login.html", {"next": target, "username": "", "error": None})


@public
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session (the CSRF token was checked by the middleware)."""
    await log_out(request)
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
