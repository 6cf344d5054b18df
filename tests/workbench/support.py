"""Helpers shared by the workbench tests: the test accounts and JSON calls with the CSRF token."""
from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from bot.store.accounts import Role, create_account
from bot.store.uow import UowFactory

PASSWORD = "password-2026"
ROLES = [("agent1", Role.AGENT), ("trainer1", Role.TRAINER), ("super1", Role.SUPERVISOR),
         ("admin1", Role.ADMIN)]


def add_accounts(uows: UowFactory, accounts: list[tuple[str, Role]] = ROLES) -> None:
    """One account per (username, role), password `PASSWORD`, display name 坐席一号 etc."""
    for username, role in accounts:
        create_account(uows, username, PASSWORD, role, f"{role.label}一号")


async def csrf(client: TestClient) -> str:
    """The logged-in session's CSRF token."""
    return (await (await client.get("/api/me")).json())["csrf_token"]


async def post(client: TestClient, url: str, body: Any = None) -> tuple[int, Any]:
    """POST JSON with the CSRF header; the status and the decoded answer."""
    response = await client.post(url, json=body if body is not None else {},
                                 headers={"X-CSRF-Token": await csrf(client)})
    return response.status, await response.json()
