"""Login, sessions, CSRF and role checks, over real HTTP against the app factory.

The store is an in-memory SQLite one shared by the module (hashing is slow on purpose, so
the accounts are made once); each test gets a fresh app, session store and fake clock.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.store.accounts import Role, create_account, deactivate
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from bot.workbench.__main__ import main as workbench_main
from bot.workbench.app import create_app
from bot.workbench.auth import COOKIE_NAME, IDLE_TIMEOUT_S, SessionStore, check_routes, public

PASSWORD = "password-2026"
EVIL_USERNAME = "<script>alert(1)</script>"
EVIL_DISPLAY = "<img src=x onerror=alert(1)>"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class SecureSettings(Settings):
    workbench_secure_cookies: bool = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


class Browser:
    """A test client with a login helper; `clock` drives the session store."""

    def __init__(self, client: TestClient, clock: FakeClock, sessions: SessionStore) -> None:
        self.client = client
        self.clock = clock
        self.sessions = sessions

    async def csrf_token(self, path: str = "/login") -> str:
        response = await self.client.get(path)
        match = CSRF_INPUT.search(await response.text())
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def login(self, username: str, password: str = PASSWORD, next_: str = "/"):
        token = await self.csrf_token()
        return await self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token,
                            "next": next_},
            allow_redirects=False)

    def cookie(self) -> str | None:
        for cookie in self.client.session.cookie_jar:
            if cookie.key == COOKIE_NAME:
                return cookie.value
        return None


async def _browser(app: web.Application, clock: FakeClock,
                   sessions: SessionStore) -> AsyncIterator[Browser]:
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, clock, sessions)


@pytest_asyncio.fixture
async def browser(store: UowFactory) -> AsyncIterator[Browser]:
    clock = FakeClock()
    sessions = SessionStore(clock=clock)
    async for b in _browser(create_app(Settings(), store, sessions=sessions), clock, sessions):
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
    browser: Browser,
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
    assert len(browser.sessions) == 1


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
    async for other in _browser(create_app(Settings(), store, sessions=other_sessions),
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
    await browser.login("admin1")
    admin = await (await browser.client.get("/")).text()
    for title in ["转人工队列", "工单", "训练数据", "主管看板", "账户管理"]:
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
async def test_a_session_ends_after_eight_idle_hours(browser: Browser) -> None:
    await browser.login("agent1")
    for _ in range(2):  # each request restarts the idle clock
        browser.clock.advance(IDLE_TIMEOUT_S - 1)
        assert (await browser.client.get("/api/me")).status == 200
    browser.clock.advance(IDLE_TIMEOUT_S)
    response = await browser.client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/login")
    assert "Max-Age=0" in _set_cookie(response)
    assert (await browser.client.get("/api/me")).status == 401
    assert len(browser.sessions) == 0


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
    assert "至少需要 8 个字符" in capsys.readouterr().err
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
    assert _cli(monkeypatch, url, "users", "seed-demo") == 0
    assert "4 added" in capsys.readouterr().out
    assert _cli(monkeypatch, url, "users", "seed-demo") == 0
    assert "0 added, 4 already there" in capsys.readouterr().out
