"""Login, failed-login throttling, sessions, CSRF and role checks, over real HTTP against the
app factory.

The store is an in-memory SQLite one shared by the module (hashing is slow on purpose, so
the accounts are made once; the failed-login counters and the sessions are cleared before
each test); each test gets a fresh app, session store and fake clock, which also pins the
login guard's time.
Clients bound to other loopback addresses (127.0.0.2, ...) play other computers.
"""
from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete

from bot.config import Settings
from bot.store.accounts import LoginThrottle, Role, create_account, deactivate
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import WebSession
from bot.store.uow import UowFactory, uow_factory
from bot.workbench.__main__ import main as workbench_main
from bot.workbench.app import create_app
from bot.workbench.auth import (
    COOKIE_NAME,
    IDLE_TIMEOUT_S,
    AuthConfig,
    LoginGuard,
    SessionStore,
    check_routes,
    client_address,
    public,
)
from bot.workbench.keys import AUTH, LOGIN_GUARD
from tests.workbench.support import Browser, FakeClock

PASSWORD = "password-2026"
EVIL_USERNAME = "<script>alert(1)</script>"
EVIL_DISPLAY = "<img src=x onerror=alert(1)>"
WRONG = "用户名或密码错误"
LOCKED = "登录失败次数过多，已暂时锁定。请 15 分钟后再试，或联系管理员解锁。"


@dataclass(frozen=True)
class SecureSettings(Settings):
    workbench_secure_cookies: bool = True


@pytest.fixture(scope="module")
def store() -> Iterator[UowFactory]:
    engine = make_engine("sqlite://")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    for username, role in [("agent1", Role.AGENT), ("trainer1", Role.TRAINER),
                           ("super1", Role.SUPERVISOR), ("admin1", Role.ADMIN)]:
        create_account(uows, username, PASSWORD, role, f"{role.label}一号")
    create_account(uows, EVIL_USERNAME, PASSWORD, Role.AGENT, EVIL_DISPLAY)
    yield uows
    engine.dispose()


def _clear_login_failures_and_sessions(store: UowFactory) -> None:
    with store() as uow:
        uow.session.execute(delete(LoginThrottle))
        uow.session.execute(delete(WebSession))
        uow.commit()


def _app(store: UowFactory, clock: FakeClock, sessions: SessionStore) -> web.Application:
    return create_app(Settings(), store, sessions=sessions,
                      login_guard=LoginGuard(clock=clock.wall))


async def _browser(app: web.Application, clock: FakeClock,
                   sessions: SessionStore) -> AsyncIterator[Browser]:
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, clock, sessions)


@pytest_asyncio.fixture
async def browser(store: UowFactory) -> AsyncIterator[Browser]:
    _clear_login_failures_and_sessions(store)
    clock = FakeClock()
    sessions = SessionStore(clock=clock)
    async for b in _browser(_app(store, clock, sessions), clock, sessions):
        yield b


def _set_cookie(response) -> str:  # type: ignore[no-untyped-def]
    [header] = [h for h in response.headers.getall("Set-Cookie", [])
                if h.startswith(COOKIE_NAME + "=")]
    return header


# --- anonymous -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_anonymous_pages_redirect_to_login_and_the_api_answers_401(browser: Browser) -> None:
    client = browser.client
    response = await client.get("/supervisor?tab=1", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=%2Fsupervisor%3Ftab%3D1"
    response = await client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    response = await client.get("/api/me")
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorised"


@pytest.mark.asyncio
async def test_the_login_page_is_chinese_and_sends_the_security_headers(browser: Browser) -> None:
    response = await browser.client.get("/login")
    assert response.status == 200
    page = await response.text()
    assert '<html lang="zh-CN">' in page and "用户名" in page and "密码" in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


# --- login and cookies ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_good_login_starts_a_new_session_in_an_httponly_strict_cookie(
    browser: Browser, store: UowFactory,
) -> None:
    await browser.csrf_token()
    anonymous = browser.cookie()
    assert anonymous

    response = await browser.login("agent1")
    assert (response.status, response.headers["Location"]) == (303, "/")
    header = _set_cookie(response)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header
    assert browser.cookie() not in (None, anonymous)  # a new id at login: no fixation

    page = await (await browser.client.get("/")).text()
    assert "坐席一号" in page and "转人工队列" in page and "/supervisor" not in page
    me = await (await browser.client.get("/api/me")).json()
    assert (me["username"], me["role"], me["role_label"]) == ("agent1", "agent", "坐席")
    # The anonymous session ended: its cookie no longer opens anything.
    assert browser.sessions.count(store) == 1


@pytest.mark.asyncio
async def test_the_cookie_is_secure_when_the_settings_ask_for_it(store: UowFactory) -> None:
    app = create_app(SecureSettings(), store)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/login")
        header = _set_cookie(response)
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header


@pytest.mark.asyncio
@pytest.mark.parametrize("username, password", [
    ("agent1", "wrong-password"), ("nobody", PASSWORD), ("agent1", ""),
])
async def test_a_bad_password_or_unknown_user_gets_the_same_refusal(
    browser: Browser, username: str, password: str
) -> None:
    response = await browser.login(username, password)
    assert response.status == 401
    assert "用户名或密码错误" in await response.text()
    response = await browser.client.get("/api/me")
    assert response.status == 401


@pytest.mark.asyncio
async def test_after_login_the_user_goes_where_they_were_going_but_never_off_site(
    browser: Browser,
) -> None:
    response = await browser.login("super1", next_="/supervisor")
    assert response.headers["Location"] == "/supervisor"
    for target in ["//evil.example/", "https://evil.example/", "/\\evil.example"]:
        response = await browser.login("super1", next_=target)
        assert (response.status, response.headers["Location"]) == (303, "/"), target


@pytest.mark.asyncio
async def test_logout_ends_the_session_on_the_server(browser: Browser) -> None:
    await browser.login("agent1")
    old_cookie = browser.cookie()
    token = (await (await browser.client.get("/api/me")).json())["csrf_token"]
    response = await browser.client.post("/logout", data={"csrf_token": token},
                                         allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")
    assert "Max-Age=0" in _set_cookie(response)

    # Sending the old cookie again opens nothing.
    browser.client.session.cookie_jar.update_cookies({COOKIE_NAME: old_cookie})
    response = await browser.client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")


# --- CSRF ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unsafe_requests_need_the_session_csrf_token(browser: Browser) -> None:
    client = browser.client
    await browser.login("agent1")
    token = (await (await client.get("/api/me")).json())["csrf_token"]

    missing = await client.post("/logout", allow_redirects=False)
    assert missing.status == 403 and "CSRF" in await missing.text()
    wrong = await client.post("/logout", data={"csrf_token": token[:-2] + "xx"},
                              allow_redirects=False)
    assert wrong.status == 403
    non_ascii = await client.post("/logout", headers={"X-CSRF-Token": "令牌"},
                                  allow_redirects=False)
    assert non_ascii.status == 403
    api = await client.delete("/api/me")
    assert api.status == 403 and (await api.json())["error"] == "csrf"
    assert (await client.get("/api/me")).status == 200  # still logged in

    right = await client.post("/logout", headers={"X-CSRF-Token": token},
                              allow_redirects=False)
    assert (right.status, right.headers["Location"]) == (303, "/login")
    assert (await client.get("/api/me")).status == 401


@pytest.mark.asyncio
async def test_a_login_post_needs_the_login_forms_token(browser: Browser) -> None:
    response = await browser.client.post(
        "/login", data={"username": "agent1", "password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    assert (await browser.client.get("/api/me")).status == 401


@pytest.mark.asyncio
async def test_another_sessions_token_does_not_count(browser: Browser, store: UowFactory) -> None:
    other_clock = FakeClock()
    other_sessions = SessionStore(clock=other_clock)
    async for other in _browser(_app(store, other_clock, other_sessions),
                                other_clock, other_sessions):
        await other.login("admin1")
        foreign = (await (await other.client.get("/api/me")).json())["csrf_token"]
    await browser.login("agent1")
    response = await browser.client.post("/logout", data={"csrf_token": foreign},
                                         allow_redirects=False)
    assert response.status == 403


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("username, status", [
    ("agent1", 403), ("trainer1", 403), ("super1", 200), ("admin1", 200),
])
async def test_only_supervisors_and_admins_open_the_supervisor_page(
    browser: Browser, username: str, status: int
) -> None:
    await browser.login(username)
    response = await browser.client.get("/supervisor", allow_redirects=False)
    assert response.status == status
    page = await response.text()
    if status == 403:
        assert "无权访问" in page and "占位页面" not in page
    else:
        assert 'data-testid="daily-section"' in page and 'data-testid="monthly-section"' in page


@pytest.mark.asyncio
async def test_each_role_sees_its_own_sections_and_the_admin_sees_all(browser: Browser) -> None:
    await browser.login("trainer1")
    trainer = await (await browser.client.get("/")).text()
    assert "训练数据" in trainer and "转人工队列" not in trainer and "主管看板" not in trainer
    assert 'href="/calls"' not in trainer and 'href="/proactive"' not in trainer
    await browser.login("admin1")
    admin = await (await browser.client.get("/")).text()
    for title in ["转人工队列", "工单", "来电", "主动客服", "训练数据", "主管看板", "账户管理"]:
        assert title in admin


def test_an_app_with_a_route_that_declares_no_role_is_refused() -> None:
    async def open_handler(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/ok", public(open_handler))
    check_routes(app)
    app.router.add_get("/forgotten", lambda request: open_handler(request))
    with pytest.raises(RuntimeError, match="/forgotten"):
        check_routes(app)


# --- escaping, expiry, deactivation ---------------------------------------------------------


@pytest.mark.asyncio
async def test_names_with_markup_are_shown_as_text(browser: Browser) -> None:
    refused = await browser.login('"><script>alert(2)</script>', "wrong-password")
    page = await refused.text()
    assert "<script>alert(2)" not in page
    assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page

    response = await browser.login(EVIL_USERNAME)
    assert response.status == 303
    page = await (await browser.client.get("/")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>" not in page and "<img" not in page


@pytest.mark.asyncio
async def test_a_session_ends_after_eight_idle_hours(browser: Browser,
                                                    store: UowFactory) -> None:
    await browser.login("agent1")
    for _ in range(2):  # each request restarts the idle clock (10 hours after login: alive)
        browser.clock.advance(IDLE_TIMEOUT_S - 3 * 3600)
        assert (await browser.client.get("/api/me")).status == 200
    await browser.login("agent1")
    browser.clock.advance(IDLE_TIMEOUT_S - 1)
    assert (await browser.client.get("/api/me")).status == 200
    browser.clock.advance(IDLE_TIMEOUT_S)  # idle too long, 16 hours after login
    response = await browser.client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    assert "Max-Age=0" in _set_cookie(response)
    assert (await browser.client.get("/api/me")).status == 401
    assert browser.sessions.count(store) == 0


@pytest.mark.asyncio
async def test_deactivating_an_account_ends_its_open_session_and_further_logins(
    browser: Browser, store: UowFactory
) -> None:
    create_account(store, "leaver", PASSWORD, Role.SUPERVISOR)
    await browser.login("leaver")
    assert (await browser.client.get("/supervisor")).status == 200
    deactivate(store, "leaver")
    response = await browser.client.get("/supervisor", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (
        302, "/login?next=%2Fsupervisor")
    assert (await browser.login("leaver")).status == 401


# --- the command line, on a database file the app opens from the settings -------------------


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return workbench_main([*argv, "--database-url", url])


@pytest.mark.asyncio
async def test_the_cli_adds_lists_and_deactivates_users(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    add = ["users", "add", "Li.Na", "--role", "agent", "--display-name", "李娜",
           "--password-stdin"]
    assert _cli(monkeypatch, url, *add, stdin="li-na-secret\n") == 0
    assert "已创建 li.na（坐席）" in capsys.readouterr().out
    assert _cli(monkeypatch, url, *add, stdin="li-na-secret\n") == 1
    assert "已存在" in capsys.readouterr().err
    assert _cli(monkeypatch, url, "users", "add", "zhang", "--role", "supervisor",
                "--password-stdin", stdin="short\n") == 1
    assert "至少需要 10 个字符" in capsys.readouterr().err
    assert _cli(monkeypatch, url, "users", "add", "zhang", "--role", "admin",
                "--password-stdin", stdin="Password123\n") == 1
    assert "太常见" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli(monkeypatch, url, "users", "add", "x", "--role", "boss", "--password-stdin")
    capsys.readouterr()

    assert _cli(monkeypatch, url, "users", "list") == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 1 and rows[0].split()[:3] == ["li.na", "agent", "yes"]
    assert rows[0].endswith("李娜")

    # Without --password-stdin the password is asked twice and must match.
    answers = iter(["li-na-better", "li-na-betta"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert _cli(monkeypatch, url, "users", "passwd", "li.na") == 1
    assert "不一致" in capsys.readouterr().err
    answers = iter(["li-na-better", "li-na-better"])
    assert _cli(monkeypatch, url, "users", "passwd", "li.na") == 0

    app = create_app(Settings(database_url=url))  # opens the file on startup
    async with TestClient(TestServer(app)) as client:
        b = Browser(client, FakeClock(), SessionStore())
        assert (await b.login("li.na", "li-na-secret")).status == 401
        assert (await b.login("li.na", "li-na-better")).status == 303

        assert _cli(monkeypatch, url, "users", "deactivate", "li.na") == 0
        assert _cli(monkeypatch, url, "users", "list") == 0
        out = capsys.readouterr().out
        assert out.splitlines()[-1].split()[:3] == ["li.na", "agent", "no"]
        assert (await client.get("/api/me")).status == 401
        assert (await b.login("li.na", "li-na-better")).status == 401

    assert _cli(monkeypatch, url, "users", "deactivate", "nobody") == 1
    # The failed logins above are counted in the file, and the command line clears them.
    assert _cli(monkeypatch, url, "users", "unlock", "LI.NA") == 0
    assert "已解锁账户 li.na" in capsys.readouterr().out
    assert _cli(monkeypatch, url, "users", "unlock", "--address", "127.0.0.1") == 0
    assert "已解锁地址 127.0.0.1" in capsys.readouterr().out
    assert _cli(monkeypatch, url, "users", "unlock", "li.na") == 0
    assert "没有未过期的登录失败记录" in capsys.readouterr().out
    assert _cli(monkeypatch, url, "users", "seed-demo") == 0
    assert "4 added" in capsys.readouterr().out
    assert _cli(monkeypatch, url, "users", "seed-demo") == 0
    assert "0 added, 4 already there" in capsys.readouterr().out


# --- failed logins: growing waits, lockouts, no enumeration ----------------------------------


async def _fail(browser: Browser, username: str, times: int,
                password: str = "wrong-password") -> list[tuple[int, str, str]]:
    """`times` wrong logins, each after the wait the one before asked for."""
    answers: list[tuple[int, str, str]] = []
    for _ in range(times):
        if answers:
            browser.clock.advance(float(answers[-1][2] or 0))
        answers.append(await browser.attempt(username, password))
    return answers


@pytest.mark.asyncio
async def test_after_the_second_failure_each_try_waits_longer_and_early_ones_are_refused(
    browser: Browser,
) -> None:
    assert await browser.attempt("agent1", "wrong-1") == (401, WRONG, "")
    assert await browser.attempt("agent1", "wrong-2") == (401, f"{WRONG}。请 1 秒后再试。", "1")
    # Too soon: refused at once, even with the right password, and not counted.
    assert await browser.attempt("agent1") == (429, "尝试过于频繁，请 1 秒后再试。", "1")
    assert (await browser.client.get("/api/me")).status == 401
    browser.clock.advance(1)
    assert await browser.attempt("agent1", "wrong-3") == (401, f"{WRONG}。请 2 秒后再试。", "2")
    browser.clock.advance(1)
    assert await browser.attempt("agent1", "wrong-4") == (429, "尝试过于频繁，请 1 秒后再试。", "1")
    browser.clock.advance(1)
    assert await browser.attempt("agent1", "wrong-4") == (401, f"{WRONG}。请 4 秒后再试。", "4")
    browser.clock.advance(4)
    assert (await browser.login("agent1")).status == 303


@pytest.mark.asyncio
async def test_thirty_guesses_at_once_get_two_password_checks(browser: Browser) -> None:
    token = await browser.csrf_token()

    async def guess(n: int) -> int:
        response = await browser.client.post(
            "/login", allow_redirects=False,
            data={"username": "agent1", "password": f"guess-{n}", "csrf_token": token})
        return response.status

    statuses = await asyncio.gather(*(guess(n) for n in range(30)))
    # One at a time: the second failure starts a wait, and every guess after it is turned away.
    assert sorted(statuses) == [401] * 2 + [429] * 28


@pytest.mark.asyncio
async def test_five_failures_lock_the_account_from_everywhere_even_for_the_right_password(
    browser: Browser, store: UowFactory
) -> None:
    answers = await _fail(browser, "agent1", 5)
    assert [a[0] for a in answers] == [401] * 5
    assert answers[-1] == (401, LOCKED, "900")

    async with browser.elsewhere("127.0.0.2") as other:
        assert await other.attempt("agent1") == (429, LOCKED, "900")
        assert await other.attempt("agent1", "wrong-again") == (429, LOCKED, "900")
        assert (await other.client.get("/api/me")).status == 401
        # The lock is the account's: others log in from there.
        assert (await other.login("trainer1")).status == 303

    # The counters are in the store: a restarted workbench still refuses.
    clock, sessions = FakeClock(), SessionStore()
    clock.now = browser.clock.now
    async for restarted in _browser(_app(store, clock, sessions), clock, sessions):
        async with restarted.elsewhere("127.0.0.3") as third:
            assert (await third.attempt("agent1"))[:2] == (429, LOCKED)
            third.clock.advance(15 * 60)
            assert (await third.login("agent1")).status == 303


@pytest.mark.asyncio
async def test_an_address_is_locked_after_failures_on_different_usernames(
    browser: Browser,
) -> None:
    answers = []
    for username in ["agent1", "trainer1", "super1", "nobody", "admin1"]:
        if answers:
            browser.clock.advance(float(answers[-1][2] or 0))
        answers.append(await browser.attempt(username, "wrong-password"))
    assert answers[-1] == (401, LOCKED, "900")
    assert await browser.attempt("super1") == (429, LOCKED, "900")
    # Each account failed once only, so from another address they log in.
    async with browser.elsewhere("127.0.0.2") as other:
        assert (await other.login("super1")).status == 303


@pytest.mark.asyncio
async def test_an_unknown_username_gets_the_same_answers_as_a_known_one(
    browser: Browser,
) -> None:
    async with browser.elsewhere("127.0.0.2") as known, browser.elsewhere("127.0.0.3") as unknown:
        seen: dict[str, list[tuple[int, str, str]]] = {"known": [], "unknown": []}
        for attempt in range(7):
            # The last two tries use the known account's right password.
            password = PASSWORD if attempt >= 5 else f"wrong-{attempt}"
            seen["known"].append(await known.attempt("agent1", password))
            seen["unknown"].append(await unknown.attempt("no-such-user", password))
            browser.clock.advance(float(seen["known"][-1][2] or 0) if attempt < 4 else 1)
    assert seen["known"] == seen["unknown"]
    assert [s for s, _, _ in seen["known"]] == [401, 401, 401, 401, 401, 429, 429]
    assert seen["known"][-1][1] == LOCKED


@pytest.mark.asyncio
async def test_a_successful_login_clears_the_accounts_failures(browser: Browser) -> None:
    answers = await _fail(browser, "agent1", 4)
    assert [a[2] for a in answers] == ["", "1", "2", "4"]
    browser.clock.advance(4)
    assert (await browser.login("agent1")).status == 303
    # From elsewhere, a wrong password is the account's first failure again, not its fifth.
    async with browser.elsewhere("127.0.0.2") as other:
        assert await other.attempt("agent1", "wrong-password") == (401, WRONG, "")


@pytest.mark.asyncio
async def test_lockouts_are_logged_and_admins_see_and_lift_them(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.store.accounts")
    await _fail(browser, "agent1", 5, password="Secret-Guess-42")
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.store.accounts"]
    assert any("failed workbench login: user 'agent1' from 127.0.0.1" in m for m in logged)
    assert any(m.startswith("workbench login lockout: account 'agent1' locked until "
                            "2026-11-27 09:") for m in logged)
    assert any("lockout: address '127.0.0.1'" in m for m in logged)
    assert not any("Secret-Guess-42" in m for m in logged)

    async with browser.elsewhere("127.0.0.2") as admin, \
            browser.elsewhere("127.0.0.3") as agent:
        await agent.login("trainer1")
        assert (await agent.client.get("/admin/users", allow_redirects=False)).status == 403

        assert (await admin.login("admin1")).status == 303
        home = await (await admin.client.get("/")).text()
        assert 'href="/admin/users"' in home
        page = await (await admin.client.get("/admin/users")).text()
        rows = re.findall(r'data-testid="throttle-row" data-kind="(\w+)" data-key="([^"]+)"'
                          r'\s+data-locked="(\w+)"', page)
        assert sorted(rows) == [("account", "agent1", "yes"), ("address", "127.0.0.1", "yes")]
        assert "锁定至 2026-11-27 09:15:07" in page  # 7 s of waits, then 15 minutes
        row = page.split('data-username="agent1"')[1].split("</tr>")[0]
        assert "锁定至" in row

        token = await csrf_of(admin)
        missing = await admin.client.post("/admin/users/unlock", allow_redirects=False,
                                          data={"kind": "account", "key": "agent1"})
        assert missing.status == 403
        response = await admin.client.post(
            "/admin/users/unlock", allow_redirects=False,
            data={"kind": "account", "key": "agent1", "csrf_token": token})
        assert (response.status, response.headers["Location"]) == (303, "/admin/users")
        page = await (await admin.client.get("/admin/users")).text()
        assert 'data-key="agent1"' not in page and 'data-key="127.0.0.1"' in page
        assert any("lock cleared: account 'agent1' by admin1" in r.getMessage()
                   for r in caplog.records)

        # Unlocked: the agent logs in at once (from a computer whose address is not locked).
        assert (await agent.login("agent1")).status == 303
    # The address stays locked until its time runs out or an admin clears it too.
    assert (await browser.attempt("trainer1"))[:2] == (429, LOCKED)


async def csrf_of(browser: Browser) -> str:
    return (await (await browser.client.get("/api/me")).json())["csrf_token"]


# --- absolute session lifetime ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_session_ends_twelve_hours_after_login_however_busy(browser: Browser) -> None:
    await browser.login("agent1")
    for _ in range(2):
        browser.clock.advance(4 * 3600)  # well inside the idle timeout
        assert (await browser.client.get("/api/me")).status == 200
    browser.clock.advance(4 * 3600 - 1)
    assert (await browser.client.get("/api/me")).status == 200
    browser.clock.advance(1)
    response = await browser.client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    assert "Max-Age=0" in _set_cookie(response)
    assert (await browser.client.get("/api/me")).status == 401
    # Logging in again starts a new twelve hours.
    assert (await browser.login("agent1")).status == 303
    assert (await browser.client.get("/api/me")).status == 200


def test_the_app_takes_the_lifetime_and_the_lockout_from_the_settings(
    store: UowFactory,
) -> None:
    app = create_app(Settings(session_max_hours=2, login_max_failures=3,
                              login_lockout_minutes=30), store)
    assert app[AUTH].sessions.max_age == 2 * 3600
    policy = app[LOGIN_GUARD].policy
    assert (policy.max_failures, policy.lockout) == (3, timedelta(minutes=30))
    default: Any = create_app(Settings(), store)
    assert default[AUTH].sessions.max_age == 12 * 3600


@pytest.mark.asyncio
@pytest.mark.parametrize("trusted,forwarded,expected", [
    ((), "203.0.113.7", "127.0.0.1"),                         # nobody trusted: the peer
    (("127.0.0.1",), "203.0.113.7", "203.0.113.7"),           # the proxy says who it serves
    (("127.0.0.1",), "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the right-most hop counts
    (("127.0.0.1", "10.0.0.2"), "203.0.113.7, 10.0.0.2", "203.0.113.7"),  # two proxies
    (("127.0.0.1",), "", "127.0.0.1"),
    (("10.0.0.9",), "203.0.113.7", "127.0.0.1"),               # another proxy is not the peer
])
async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    trusted: tuple[str, ...], forwarded: str, expected: str,
) -> None:
    app = web.Application()
    app[AUTH] = AuthConfig(sessions=SessionStore(), trusted_proxies=frozenset(trusted))

    async def show(request: web.Request) -> web.Response:
        return web.Response(text=client_address(request))

    app.router.add_get("/", show)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/", headers={"X-Forwarded-For": forwarded})
        assert await response.text() == expected
