"""Helpers shared by the workbench tests: the test accounts, logging in through the form,
JSON calls with the CSRF token, a fake clock, and `FakeRasa` in place of the Rasa server."""
from __future__ import annotations

import contextlib
import html
import json
import re
from datetime import datetime, timedelta
from typing import Any, AsyncIterator

import aiohttp
from aiohttp.test_utils import TestClient

from bot.config import local_now
from bot.store import services
from bot.store.accounts import Account, Role, accounts_in, create_account
from bot.store.uow import UowFactory
from bot.workbench.auth import COOKIE_NAME, SessionStore
from bot.workbench.rasa_client import RasaUnavailable

PASSWORD = "password-2026"
ROLES = [("agent1", Role.AGENT), ("trainer1", Role.TRAINER), ("super1", Role.SUPERVISOR),
         ("admin1", Role.ADMIN)]
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ALERT = re.compile(r'role="alert">([^<]*)<')
DESK_NOW = datetime(2026, 11, 26, 10, 0)  # "now" of the desk's store-level tests
PHONE = "13812345678"


def add_accounts(uows: UowFactory, accounts: list[tuple[str, Role]] = ROLES) -> None:
    """One account per (username, role), password `PASSWORD`, display name 坐席一号 etc."""
    for username, role in accounts:
        create_account(uows, username, PASSWORD, role, f"{role.label}一号")


def insert_accounts(uows: UowFactory, *names: tuple[str, Role, bool],
                    created_at: datetime = DESK_NOW) -> None:
    """Accounts (username, role, active) straight into the table, without password hashing:
    for tests that never log in."""
    with uows() as uow:
        for name, role, active in names:
            accounts_in(uow).add(Account(username=name, password_hash="-", role=role.value,
                                         display_name=name, active=active, created_at=created_at))
        uow.commit()


def handover(uows: UowFactory, sender: str, text: str, channel: str = "wechat",
             reason: str = "request_human") -> int:
    """Record a hand-over of `sender` to a person now; its id."""
    return services.record_handover(uows, sender, channel, reason, text, None, local_now()).id


async def csrf(client: TestClient) -> str:
    """The logged-in session's CSRF token."""
    return (await (await client.get("/api/me")).json())["csrf_token"]


async def post(client: TestClient, url: str, body: Any = None) -> tuple[int, Any]:
    """POST JSON with the CSRF header; the status and the decoded answer."""
    response = await client.post(url, json=body if body is not None else {},
                                 headers={"X-CSRF-Token": await csrf(client)})
    return response.status, await response.json()


class FakeClock:
    """The session store's and the login guard's wall clock, moved on by hand."""

    START = datetime(2026, 11, 27, 9, 0)

    def __init__(self) -> None:
        self.now = 1000.0  # seconds; START is at 1000

    def __call__(self) -> datetime:
        """The session store's time (the same as `wall`)."""
        return self.wall()

    def wall(self) -> datetime:
        """The login guard's wall-clock time: `START` plus the seconds advanced."""
        return self.START + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass on both clocks."""
        self.now += seconds


class Browser:
    """A test client with a login helper; `clock` drives the session store."""

    def __init__(self, client: TestClient, clock: FakeClock, sessions: SessionStore) -> None:
        self.client = client
        self.clock = clock
        self.sessions = sessions

    async def csrf_token(self, path: str = "/login") -> str:
        """The CSRF token of the form on `path`."""
        response = await self.client.get(path)
        match = CSRF_INPUT.search(await response.text())
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def login(self, username: str, password: str = PASSWORD,
                    next_: str = "/") -> aiohttp.ClientResponse:
        """Post the login form (redirects not followed); the response."""
        token = await self.csrf_token()
        return await self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token,
                            "next": next_},
            allow_redirects=False)

    async def attempt(self, username: str, password: str = PASSWORD) -> tuple[int, str, str]:
        """Log in; the status, the form's message ("" on success) and the Retry-After header."""
        response = await self.login(username, password)
        match = ALERT.search(await response.text())
        return (response.status, html.unescape(match.group(1)) if match else "",
                response.headers.get("Retry-After", ""))

    def cookie(self) -> str | None:
        """The session cookie's value, if the client has one."""
        # A TestClient keeps its cookies in its session; `elsewhere` gives a ClientSession.
        client: Any = getattr(self.client, "session", self.client)
        for cookie in client.cookie_jar:
            if cookie.key == COOKIE_NAME:
                return cookie.value
        return None

    @contextlib.asynccontextmanager
    async def elsewhere(self, address: str) -> AsyncIterator[Browser]:
        """Another computer: a client of the same server connecting from `address`."""
        server = self.client.server
        async with aiohttp.ClientSession(
            base_url=str(server.make_url("/")),
            connector=aiohttp.TCPConnector(local_addr=(address, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # the server is an IP address
        ) as session:
            yield Browser(session, self.clock, self.sessions)  # type: ignore[arg-type]


class FakeRasa:
    """Trackers in memory; `down` makes every call fail like an unreachable server.

    The same calls as `bot.workbench.rasa_client.RasaClient`.
    """

    def __init__(self) -> None:
        self.trackers: dict[str, dict[str, Any]] = {}
        self.down = False

    def _tracker(self, sender: str) -> dict[str, Any]:
        return self.trackers.setdefault(sender, {"sender_id": sender, "events": [], "slots": {},
                                                 "paused": False})

    def customer_says(self, sender: str, text: str, intent: str, confidence: float,
                      entities: list[dict[str, Any]] | None = None) -> None:
        """Add the customer's message to `sender`'s tracker, read as `intent`."""
        self._tracker(sender)["events"].append({
            "event": "user", "text": text, "timestamp": 1764120000.0,
            "parse_data": {"intent": {"name": intent, "confidence": confidence},
                           "entities": entities or []}})

    async def tracker(self, sender: str) -> dict[str, Any]:
        """A copy of `sender`'s tracker."""
        if self.down:
            raise RasaUnavailable("down")
        return json.loads(json.dumps(self._tracker(sender)))

    async def append(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append `events`; pause and resume set the tracker's ``paused``."""
        if self.down:
            raise RasaUnavailable("down")
        tracker = self._tracker(sender)
        for event in events:
            if event["event"] in ("pause", "resume"):
                tracker["paused"] = event["event"] == "pause"
            tracker["events"].append(dict(event, timestamp=1764120100.0))

    async def pause(self, sender: str) -> None:
        """Pause the bot for `sender` (an agent has the conversation)."""
        await self.append(sender, [{"event": "pause"}])

    async def resume(self, sender: str) -> None:
        """Hand `sender` back to the bot."""
        await self.append(sender, [{"event": "resume"}])

    async def log_agent_message(self, sender: str, text: str, agent: str, reply_id: int) -> None:
        """Record an agent's reply as a bot event with the agent in its metadata."""
        await self.append(sender, [{"event": "bot", "text": text,
                                    "metadata": {"agent": agent, "reply_id": reply_id}}])

    async def close(self) -> None:
        """Nothing to close."""
