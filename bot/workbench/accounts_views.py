"""Logging in, guarded against password guessing, and the admins' account page.

* ``POST /login`` checks the password through the app's `LoginGuard`: failures are counted
  per username and per client address, each try after the second failure must wait longer
  (1 s, 2 s, 4 s, ...), and ``settings.login_max_failures`` failures lock the username or the
  address for ``settings.login_lockout_minutes``. A try during a wait is refused at once
  (429, ``Retry-After``) without looking at the password, so a locked account answers the
  same to the right password as to a wrong one, and an unknown username like a known one.
* ``GET /admin/users`` lists the accounts and the usernames and addresses with recent failed
  logins (which are locked, until when); ``POST /admin/users/unlock`` lifts one.
"""
from __future__ import annotations

import math
from datetime import datetime

from aiohttp import web

from bot.store.accounts import (
    AccountError,
    LoginOutcome,
    Role,
    ThrottleKind,
    list_accounts,
    list_login_throttles,
    unlock_login,
)
from bot.workbench.auth import (
    client_address,
    current_account,
    log_in,
    public,
    redirect,
    require_role,
    safe_next,
)
from bot.workbench.keys import LOGIN_GUARD, UOWS, in_thread
from bot.workbench.views import render

WRONG_CREDENTIALS = "用户名或密码错误"


def refusal_message(outcome: LoginOutcome) -> str:
    """What the login form says after a failed or refused attempt (never which part was wrong).

    Args:
        outcome: the attempt's outcome (no account).
    """
    seconds = max(1, math.ceil(outcome.retry_after.total_seconds()))
    if outcome.locked:
        minutes = math.ceil(seconds / 60)
        return f"登录失败次数过多，已暂时锁定。请 {minutes} 分钟后再试，或联系管理员解锁。"
    if outcome.refused:
        return f"尝试过于频繁，请 {seconds} 秒后再试。"
    if outcome.retry_after.total_seconds() > 0:
        return f"{WRONG_CREDENTIALS}。请 {seconds} 秒后再试。"
    return WRONG_CREDENTIALS


@public
async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password (counted, see the module docstring); on success start a
    new session and go on, otherwise show the form again with the reason and the wait."""
    form = await request.post()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    outcome = await request.app[LOGIN_GUARD].attempt(request.app[UOWS], username, password,
                                                     client_address(request))
    if outcome.account is None:
        response = render(request, "login.html",
                          {"next": target, "username": username,
                           "error": refusal_message(outcome)},
                          status=429 if outcome.refused else 401)
        if outcome.retry_after.total_seconds() > 0:
            response.headers["Retry-After"] = str(math.ceil(outcome.retry_after.total_seconds()))
        return response
    await log_in(request, outcome.account)
    return redirect(target)


def _time(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment is not None else ""


@require_role(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/users: the accounts, and the failed-login counters with their locks."""
    uows, guard = request.app[UOWS], request.app[LOGIN_GUARD]
    accounts = await in_thread(list_accounts, uows)
    throttles = await in_thread(list_login_throttles, uows, guard.policy, guard.clock())
    locked_until = {t.key: _time(t.blocked_until) for t in throttles
                    if t.kind is ThrottleKind.ACCOUNT and t.locked}
    return render(request, "users.html", {
        "accounts": [{"account": a, "last_login": _time(a.last_login_at),
                      "locked_until": locked_until.get(a.username, "")} for a in accounts],
        "throttles": [{"throttle": t, "last_failure": _time(t.last_failure_at),
                       "blocked_until": _time(t.blocked_until)} for t in throttles],
        "max_failures": guard.policy.max_failures,
        "lockout_minutes": int(guard.policy.lockout.total_seconds() // 60),
    })


@require_role(Role.ADMIN)
async def unlock(request: web.Request) -> web.StreamResponse:
    """POST /admin/users/unlock (kind=account|address, key=...): clear a counter and its lock."""
    form = await request.post()
    admin = current_account(request)
    assert admin is not None
    try:
        await in_thread(unlock_login, request.app[UOWS], str(form.get("kind", "")),
                         str(form.get("key", "")), admin.username)
    except AccountError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return redirect("/admin/users")


def setup_routes(app: web.Application) -> None:
    """The login form's POST and the account page."""
    app.router.add_post("/login", login)
    app.router.add_get("/admin/users", users_page, name="admin_users")
    app.router.add_post("/admin/users/unlock", unlock, name="admin_unlock")
