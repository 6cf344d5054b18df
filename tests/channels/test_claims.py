"""bot/channels/claims.py: a message id is handled once across retries and processes, and a
retry is handled again when the process that claimed it died (its lease ran out)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.channels.claims import MessageClaims, replies_after
from bot.launcher import free_port, wait_http
from tests import redis_server

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


def test_a_claimed_id_is_not_claimed_again_and_done_keeps_the_answer() -> None:
    """A second claim sees the first running, then done with its answer."""
    clock = Clock()
    a, b = MessageClaims(lease_s=3, clock=clock), MessageClaims(lease_s=3, clock=clock)
    b.memory = a.memory  # two "processes" sharing one store
    assert a.claim("m1").mine
    assert b.claim("m1").state == "running"
    a.finish("m1", [{"text": "已收到"}])
    clock.now += 100  # done is kept well past the lease
    found = b.claim("m1")
    assert found.state == "done" and found.answer == [{"text": "已收到"}]


def test_the_claim_of_a_dead_owner_runs_out_and_is_taken_over() -> None:
    """An owner that stops renewing (killed) loses the claim after its lease."""
    clock = Clock()
    dead, alive = MessageClaims(lease_s=3, clock=clock), MessageClaims(lease_s=3, clock=clock)
    alive.memory = dead.memory
    assert dead.claim("m1").mine
    clock.now += 2
    assert alive.claim("m1").state == "running"
    clock.now += 1.5  # the owner never renewed: gone
    assert alive.claim("m1").mine


def test_a_live_owner_renews_its_lease() -> None:
    """An owner that renews keeps the claim however long its turn takes."""
    clock = Clock()
    owner, other = MessageClaims(lease_s=3, clock=clock), MessageClaims(lease_s=3, clock=clock)
    other.memory = owner.memory
    assert owner.claim("m1").mine
    for _ in range(5):
        clock.now += 2
        owner.renew("m1")
        assert other.claim("m1").state == "running"


def test_a_failed_turn_releases_its_claim_for_a_retry() -> None:
    """A turn that raised leaves the message to a retry."""
    claims = MessageClaims()

    async def failing() -> None:
        assert claims.claim("m1").mine
        async with claims.held("m1"):
            raise RuntimeError("turn failed")

    with pytest.raises(RuntimeError):
        asyncio.run(failing())
    assert claims.claim("m1").mine


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")
def test_claims_are_shared_through_redis_and_survive_its_outage(tmp_path: Path) -> None:
    """Two clients of one Redis share claims; without Redis claims go on in process."""
    import redis

    with redis_server.RedisServer(tmp_path) as url:
        a = MessageClaims(redis.Redis.from_url(url, socket_timeout=0.5), lease_s=1)
        b = MessageClaims(redis.Redis.from_url(url, socket_timeout=0.5), lease_s=1)
        assert a.claim("m1").mine and b.claim("m1").state == "running"
        a.finish("m1", {"ok": 1})
        assert b.claim("m1").answer == {"ok": 1}

        async def takeover() -> str:
            assert a.claim("m2").mine  # a "dies" without renewing
            return (await b.wait_done("m2", timeout_s=10, poll_s=0.1)).state

        assert asyncio.run(takeover()) == "mine"
    # Redis gone: claims go on in process, nothing raises.
    assert a.claim("m3").mine and a.claim("m3").state == "running"


@contextlib.contextmanager
def rest_app(tmp: Path, redis_url: str) -> Iterator[int]:
    """tests/channels/rest_app.py on a free port with `redis_url`; yields the port."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp / 'store.db'}", REDIS_URL=redis_url,
               ADDRESS_RATE_PER_MINUTE="0")
    with open(tmp / f"app{port}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.channels.rest_app", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/webhooks/rest/", proc, 90)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def say(port: int, body: dict[str, Any]) -> tuple[int, Any]:
    """POST `body` to the REST webhook; status and JSON answer."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as r:
        return r.status, json.loads(r.read())


def rest_turns(port: int) -> float:
    """The REST turns the app handed to its agent (postdesk_turns_total)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('postdesk_turns_total{channel="rest"}'):
                return float(line.split()[-1])
    return 0.0


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")
def test_a_rest_retry_with_the_same_message_id_is_answered_once_across_processes(
        tmp_path: Path) -> None:
    """The same message_id: one turn, the first answer, in either process."""
    with redis_server.RedisServer(tmp_path) as url, rest_app(tmp_path, url) as a, \
            rest_app(tmp_path, url) as b:
        first = say(a, {"sender": "u1", "message": "到哪了", "message_id": "m-1"})
        again = say(a, {"sender": "u1", "message": "到哪了", "message_id": "m-1"})
        elsewhere = say(b, {"sender": "u1", "message": "到哪了", "message_id": "m-1"})
        assert first == again == elsewhere == (200, [{"recipient_id": "u1",
                                                      "text": "rest:u1|到哪了"}])
        assert rest_turns(a) == 1 and rest_turns(b) == 0
        # Another id, or no id at all, is a new message.
        say(b, {"sender": "u1", "message": "到哪了", "message_id": "m-2"})
        say(b, {"sender": "u1", "message": "到哪了"})
        say(b, {"sender": "u1", "message": "到哪了"})
        assert rest_turns(b) == 3


def test_a_claim_after_a_dead_owner_says_it_is_taken_over() -> None:
    """The first claim of an id is plain; one after an owner that never finished is flagged,
    so the channel looks for the message in the conversation before running it again."""
    clock = Clock()
    dead, alive = MessageClaims(lease_s=3, clock=clock), MessageClaims(lease_s=3, clock=clock)
    alive.memory = dead.memory
    first = dead.claim("m1")
    assert first.mine and not first.taken_over
    clock.now += 4
    again = alive.claim("m1")
    assert again.mine and again.taken_over


def test_replies_after_finds_the_answer_to_one_message() -> None:
    """The bot messages between the picked user message and the next one; None if absent."""
    events = [
        {"event": "user", "text": "a", "metadata": {"postdesk_message_id": "m1"}},
        {"event": "bot", "text": "answer a"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "b", "metadata": {"postdesk_message_id": "m2"}},
        {"event": "bot", "text": "answer b"},
        {"event": "bot", "text": "more b"},
    ]
    assert [e["text"] for e in replies_after(events, lambda m: m.get("postdesk_message_id") == "m1")
            or []] == ["answer a"]
    assert [e["text"] for e in replies_after(events, lambda m: m.get("postdesk_message_id") == "m2")
            or []] == ["answer b", "more b"]
    assert replies_after(events, lambda m: m.get("postdesk_message_id") == "m3") is None
