"""The servers' doors, over real HTTP against real processes: the action server wants its
token and answers errors without echoing the request; Rasa and the action server listen on
loopback only; the Rasa API token never shows on a command line or in a URL."""
from __future__ import annotations

import json
import socket
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config import ensure_token
from bot.launcher import ACTION_TOKEN_HEADER, RASA_TOKEN_HEADER, Stack, endpoints_yaml
from bot.workbench.rasa_client import RasaClient
from tests.stack import ACTION_TOKEN, TOKEN

MARKER = "MARKER-13812345678"  # stands for a customer's data in a request body

# `stack`: the servers this module shares with test_server.py; tests/conftest.py marks the tests
# that use it `server` (the others need no server and run in `make unit`).


def call(url: str, body: Any = None, headers: Optional[dict[str, str]] = None,
         method: Optional[str] = None) -> tuple[int, str]:
    """One HTTP request; the status and the answer's text."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def action_call(action: str = "action_query_mail", sender: str = "t-forged") -> dict:
    """What Rasa sends the action server to run `action` with a made-up slot."""
    return {"next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "slots": {"tracking_number": "EA000000005CN"},
                        "latest_message": {}, "events": [], "paused": False,
                        "followup_action": None, "active_loop": {},
                        "latest_action_name": None}}


def webhook(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.action_port}/webhook"


def test_the_action_server_runs_nothing_without_its_token(stack: Stack) -> None:
    assert call(webhook(stack), action_call())[0] == 401
    status, text = call(webhook(stack), action_call(), {ACTION_TOKEN_HEADER: "guess"})
    assert status == 401 and "EA000000005CN" not in text
    assert call(f"http://127.0.0.1:{stack.action_port}/actions", method="GET")[0] == 401
    assert call(f"http://127.0.0.1:{stack.action_port}/health", method="GET")[0] == 200

    status, text = call(webhook(stack), action_call(), {ACTION_TOKEN_HEADER: ACTION_TOKEN})
    assert status == 200, text
    slots = {e["name"]: e["value"] for e in json.loads(text)["events"] if e["event"] == "slot"}
    assert slots.get("last_tracking_number") == "EA000000005CN", slots


@pytest.mark.parametrize("body, status", [
    ({"next_action": "action_query_mail", "sender_id": MARKER}, 500),  # no tracker
    ([MARKER], 500),                                                    # not an object
    ({"next_action": f"action_{MARKER}", "tracker": {"sender_id": MARKER}}, 404),
    (f'{{"next_action": "{MARKER}"'.encode(), 400),                     # not JSON
], ids=["no-tracker", "list", "unknown-action", "not-json"])
def test_action_server_errors_do_not_echo_the_request(stack: Stack, body: Any,
                                                      status: int) -> None:
    got, text = call(webhook(stack), body, {ACTION_TOKEN_HEADER: ACTION_TOKEN})
    assert got == status, text
    assert MARKER not in text and "request_body" not in text, text
    assert set(json.loads(text)) == {"error"}


def non_loopback_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback."""
    found: set[str] = set()
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=10).stdout
        found.update(a for a in out.split() if ":" not in a)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # picks the outgoing address; sends nothing
            found.add(s.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("server", ["rasa", "actions"])
def test_the_servers_listen_on_loopback_only(stack: Stack, server: str) -> None:
    port = stack.rasa_port if server == "rasa" else stack.action_port
    assert reachable("127.0.0.1", port)
    others = non_loopback_addresses()
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    assert [a for a in others if reachable(a, port)] == []


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_no_token_on_a_command_line_and_each_child_only_its_own(stack: Stack) -> None:
    assert stack.server is not None and stack.actions is not None
    rasa = cmdline(stack.server.pid)
    assert "bot.server" in rasa and "--interface 127.0.0.1" in rasa, rasa
    assert TOKEN not in rasa and "--auth-token" not in rasa and ACTION_TOKEN not in rasa
    actions = cmdline(stack.actions.pid)
    assert "bot.actions_server" in actions and ACTION_TOKEN not in actions, actions
    assert environ(stack.actions.pid).get("ACTION_TOKEN") == ACTION_TOKEN
    assert "RASA_TOKEN" not in environ(stack.actions.pid)
    # Rasa got the token all the same: the API takes it.
    assert call(f"http://127.0.0.1:{stack.rasa_port}/status", method="GET",
                headers={RASA_TOKEN_HEADER: TOKEN})[0] == 200


def test_the_endpoints_file_with_the_action_token_is_private(stack: Stack) -> None:
    endpoints = stack.workdir / "endpoints.yml"  # type: ignore[operator]
    assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(str(endpoints), "action_endpoint")
    assert config.headers == {ACTION_TOKEN_HEADER: ACTION_TOKEN}


@pytest.mark.parametrize("headers, query, status", [
    ({}, "", 401),
    ({RASA_TOKEN_HEADER: "not-the-token"}, "", 401),
    ({"Authorization": f"Bearer {TOKEN}"}, "", 401),  # Bearer is Rasa's JWT, not the token
    ({RASA_TOKEN_HEADER: TOKEN}, "", 200),
    ({}, f"?token={TOKEN}", 200),                   # the query form still works
    ({}, "?token=not-the-token", 401),
], ids=["none", "wrong-header", "bearer", "header", "query", "wrong-query"])
def test_the_rasa_api_takes_the_token_in_a_header(stack: Stack, headers: dict, query: str,
                                                  status: int) -> None:
    url = f"http://127.0.0.1:{stack.rasa_port}/model/parse{query}"
    got, text = call(url, {"text": "EA000000005CN到哪了"}, headers)
    assert got == status, text
    if status == 200:
        assert json.loads(text)["intent"]["name"] == "track_mail"


def test_a_rest_turn_still_runs_the_custom_actions(stack: Stack) -> None:
    text = "\n".join(stack.say("t-secure-turn", "EA000000005CN到哪了"))
    assert "EA000000005CN" in text and "运输中" in text, text


class FakeRasa:
    """Records the requests the workbench's client makes."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Optional[str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.query_string,
                          request.headers.get(RASA_TOKEN_HEADER)))
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "paused": False, "events": []})


@pytest_asyncio.fixture
async def fake_rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_route("*", "/conversations/{sender}/{rest:.*}", fake.handle)
    server = TestServer(app)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.mark.asyncio
async def test_the_workbench_sends_the_token_in_a_header_not_the_url(fake_rasa) -> None:
    fake, base = fake_rasa
    client = RasaClient(base, TOKEN)
    try:
        await client.tracker("rest:alice")
        await client.append("rest:alice", [{"event": "resume"}])
    finally:
        await client.close()
    assert [path for path, _, _ in fake.seen] == [
        "/conversations/rest:alice/tracker", "/conversations/rest:alice/tracker/events"]
    for path, query, header in fake.seen:
        assert TOKEN not in path + query and "token" not in query
        assert header == TOKEN


def test_generated_tokens_and_endpoints_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "action_token"
    token = ensure_token("", path)
    assert len(token) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token("", path) == token           # generated once
    assert ensure_token("configured", path) == "configured"
    text = endpoints_yaml("http://127.0.0.1:5055/webhook", f"sqlite:///{tmp_path / 't.db'}",
                          action_token="tok$en'\"")
    (tmp_path / "endpoints.yml").write_text(text)
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(str(tmp_path / "endpoints.yml"), "action_endpoint")
    assert config.headers == {ACTION_TOKEN_HEADER: "tok$en'\""}

