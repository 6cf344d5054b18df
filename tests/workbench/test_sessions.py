"""Workbench sessions live in the store: a login survives a restart of the workbench and is
shared by several workbench processes, and the store never holds a usable session id.

Every test runs on SQLite and on a real PostgreSQL (the store fixtures of tests/store). Two
apps built by `create_app` on the same database play two workbench processes (or one before
and one after a restart); the fake clock pins the sessions' and the login guard's time.
"""
from __future__ import annotations

import contextlib
import hashlib
from datetime import timedelta
from typing import Any, AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.config import Settings
from bot.store.accounts import Role, create_account
from bot.store.models import WebSession
from bot.store.uow import UowFactory
from bot.workbench.app import create_app
from bot.workbench.auth import (
    ANONYMOUS_IDLE_TIMEOUT_S,
    COOKIE_NAME,
    IDLE_TIMEOUT_S,
    TOUCH_INTERVAL_S,
    LoginGuard,
    SessionStore,
)
from tests.workbench.support import PASSWORD, Browser, FakeClock, csrf


@contextlib.asynccontextmanager
async def _workbench(uows: UowFactory, clock: FakeClock) -> AsyncIterator[Browser]:
    """One workbench process on the store `uows`, with a browser of its own."""
    sessions = SessionStore(clock=clock)
    app = create_app(Settings(), uows, sessions=sessions, login_guard=LoginGuard(clock=clock.wall))
    async with TestClient(TestServer(app)) as client:
        yield Browser(client, clock, sessions)


def _give_cookie(browser: Browser, value: str) -> None:
    browser.client.session.cookie_jar.update_cookies({COOKIE_NAME: value})


def _rows(uows: UowFactory) -> list[dict[str, Any]]:
    """Every stored session, column by column."""
    with uows() as uow:
        return [dict(row) for row in uow.session.execute(
            select(WebSession.__table__)).mappings()]


@pytest.fixture
def agent(uows: UowFactory) -> UowFactory:
    """The store with one agent, agent1."""
    create_account(uows, "agent1", PASSWORD, Role.AGENT, "坐席一号")
    return uows


@pytest.mark.asyncio
async def test_a_login_survives_a_restart_with_its_csrf_token(agent: UowFactory) -> None:
    clock = FakeClock()
    async with _workbench(agent, clock) as before:
        assert (await before.login("agent1")).status == 303
        cookie, token = before.cookie(), await csrf(before.client)
    assert cookie

    clock.advance(3600)
    async with _workbench(agent, clock) as after:  # a new process: nothing kept in memory
        _give_cookie(after, cookie)
        me = await after.client.get("/api/me")
        assert me.status == 200
        assert ((await me.json())["username"], (await me.json())["csrf_token"]) == (
            "agent1", token)
        response = await after.client.post("/logout", data={"csrf_token": token},
                                           allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login")
    assert _rows(agent) == []


@pytest.mark.asyncio
async def test_two_workbench_processes_share_a_login_and_its_logout(agent: UowFactory) -> None:
    clock = FakeClock()
    async with _workbench(agent, clock) as first, _workbench(agent, clock) as second:
        assert (await first.login("agent1")).status == 303
        cookie = first.cookie()
        assert cookie
        _give_cookie(second, cookie)  # the balancer sends the next request elsewhere
        assert (await second.client.get("/api/me")).status == 200
        token = await csrf(first.client)
        assert await csrf(second.client) == token

        response = await second.client.post("/logout", headers={"X-CSRF-Token": token},
                                            allow_redirects=False)
        assert response.status == 303
        response = await first.client.get("/", allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (302, "/login")
        assert (await first.client.get("/api/me")).status == 401


@pytest.mark.asyncio
async def test_the_store_keeps_only_the_digest_of_a_session_id(agent: UowFactory) -> None:
    async with _workbench(agent, FakeClock()) as browser:
        await browser.login("agent1")
        cookie = browser.cookie()
        assert cookie
    [row] = _rows(agent)
    assert row["key"] == hashlib.sha256(cookie.encode()).hexdigest()
    assert not any(cookie in str(value) for value in row.values())
    # The digest itself is no cookie: sent as one, it opens nothing.
    async with _workbench(agent, FakeClock()) as thief:
        _give_cookie(thief, row["key"])
        assert (await thief.client.get("/api/me")).status == 401


def test_sessions_expire_on_the_pinned_clock_are_purged_and_written_once_a_minute(
    agent: UowFactory,
) -> None:
    clock = FakeClock()
    sessions = SessionStore(clock=clock)
    with agent() as uow:
        account_id = uow.accounts.get_by_username("agent1").id  # type: ignore[union-attr]
    anonymous_id, _ = sessions.create(agent)
    session_id, session = sessions.create(agent, account_id)
    assert session.expires == clock() + timedelta(seconds=IDLE_TIMEOUT_S)

    clock.advance(TOUCH_INTERVAL_S - 1)  # a request within the minute writes nothing
    assert sessions.get(agent, session_id) is not None
    [row] = [r for r in _rows(agent) if r["account_id"] == account_id]
    assert row["last_seen_at"] == FakeClock.START
    clock.advance(1)
    assert sessions.get(agent, session_id) is not None
    [row] = [r for r in _rows(agent) if r["account_id"] == account_id]
    assert row["last_seen_at"] == clock()
    assert row["expires_at"] == clock() + timedelta(seconds=IDLE_TIMEOUT_S)

    clock.advance(ANONYMOUS_IDLE_TIMEOUT_S)  # the login form's session is over, not the login
    assert sessions.purge_expired(agent) == 1
    assert sessions.get(agent, anonymous_id) is None
    assert sessions.get(agent, session_id) is not None
    clock.advance(IDLE_TIMEOUT_S)
    assert sessions.get(agent, session_id) is None
    assert sessions.count(agent) == 0  # deleted when found expired

    sessions.create(agent)  # a login form left open: a login elsewhere purges it once over
    clock.advance(ANONYMOUS_IDLE_TIMEOUT_S)
    sessions.create(agent, account_id)
    assert [r["account_id"] for r in _rows(agent)] == [account_id]


@pytest.mark.asyncio
async def test_with_the_store_down_a_page_and_an_api_call_get_a_clear_503(
        agent: UowFactory, caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.workbench.auth import STORE_DOWN_TEXT

    down = False

    def flaky() -> Any:
        if down:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db stopped"))
        return agent()

    async with _workbench(flaky, FakeClock()) as browser:
        assert (await browser.login("agent1")).status == 303
        down = True
        with caplog.at_level("ERROR", logger="bot.workbench.auth"):
            page = await browser.client.get("/", allow_redirects=False)
            api = await browser.client.get("/api/me")
        assert (page.status, await page.text()) == (503, STORE_DOWN_TEXT)
        assert (api.status, (await api.json())["error"]) == (503, STORE_DOWN_TEXT)
        assert [r.getMessage() for r in caplog.records].count(
            "store unavailable while checking a session for GET /api/me: OperationalError") == 1
        down = False  # back: the same login works again, nothing was lost
        assert (await browser.client.get("/api/me")).status == 200
