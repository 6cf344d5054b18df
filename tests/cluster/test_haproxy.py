"""HAProxy's configuration (bot/cluster/haproxy.py), checked by HAProxy itself and run in
front of two small HTTP servers standing in for Rasa replicas: each customer's requests reach
one replica, whichever way they come (WeChat webhook, REST webhook, Rasa's conversation API)."""
from __future__ import annotations

import http.server
import json
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from bot.cluster.cluster import haproxy_binary
from bot.cluster.engines import wait_port
from bot.cluster.haproxy import REPLICA_HEADER, HaproxyPlan, Server, haproxy_config
from bot.launcher import free_port


def plan(front: int = 5000, replicas: int = 2, actions: int = 0) -> HaproxyPlan:
    return HaproxyPlan(
        front_port=front, stats_port=front + 1,
        replicas=[Server(f"rasa{i + 1}", "127.0.0.1", 6000 + i) for i in range(replicas)],
        action_servers=[Server(f"actions{i + 1}", "127.0.0.1", 7000 + i)
                        for i in range(actions)],
        action_port=5002 if actions else 0, stats_user="postdesk", stats_password="s3cret")


def check(config: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    binary = haproxy_binary()
    assert binary is not None
    return subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("replicas,actions", [(1, 0), (2, 0), (3, 2)])
def test_haproxy_accepts_the_configuration(tmp_path: Path, replicas: int, actions: int) -> None:
    done = check(haproxy_config(plan(replicas=replicas, actions=actions)), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_configuration_binds_loopback_and_hashes_consistently() -> None:
    config = haproxy_config(plan(actions=2))
    binds = [line.split()[1] for line in config.splitlines() if line.strip().startswith("bind")]
    assert binds and all(b.startswith("127.0.0.1:") for b in binds)
    assert "hash-type consistent" in config and "balance hash var(txn.customer)" in config
    assert "retry-on conn-failure" in config and "stats auth postdesk:s3cret" in config
    assert "backend actions" in config and "balance roundrobin" in config


def test_a_configuration_without_replicas_is_refused() -> None:
    with pytest.raises(ValueError):
        haproxy_config(plan(replicas=0))


def test_haproxy_refuses_a_broken_configuration(tmp_path: Path) -> None:
    """The check above can fail: HAProxy rejects a config with an unknown keyword."""
    done = check(haproxy_config(plan()).replace("hash-type consistent", "hash-type wobbly"),
                 tmp_path)
    assert done.returncode != 0


class _Replica(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Front:
    """HAProxy with the generated configuration in front of two stand-in replicas."""

    def __init__(self, tmp: Path) -> None:
        self.servers = [http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Replica)
                        for _ in range(2)]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.port = free_port()
        config = haproxy_config(HaproxyPlan(
            front_port=self.port, stats_port=free_port(),
            replicas=[Server(f"rasa{i + 1}", "127.0.0.1", s.server_address[1])
                      for i, s in enumerate(self.servers)]))
        (tmp / "haproxy.cfg").write_text(config)
        binary = haproxy_binary()
        assert binary is not None
        self.proc = subprocess.Popen([binary, "-db", "-f", str(tmp / "haproxy.cfg")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_port(self.port, 10), "haproxy did not start"

    def replica(self, method: str, path: str, body: object = None) -> str:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.headers[REPLICA_HEADER]

    def wechat(self, openid: str) -> str:
        return self.replica("POST", "/webhooks/wechat/webhook?signature=x&timestamp=1&nonce=2"
                                    f"&openid={urllib.parse.quote(openid)}", b"<xml/>")

    def rest(self, sender: str) -> str:
        return self.replica("POST", "/webhooks/rest/webhook", {"sender": sender, "message": "hi"})

    def conversation(self, conversation: str) -> str:
        return self.replica("GET", f"/conversations/{urllib.parse.quote(conversation, safe='')}"
                                   "/tracker")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    running = Front(tmp_path)
    try:
        yield running
    finally:
        running.close()


def test_each_customer_keeps_one_replica_on_every_route(front: Front) -> None:
    customers = [f"o{i:03d}-customer" for i in range(40)]
    seen: dict[str, set[str]] = {}
    for openid in customers:
        replicas = {front.wechat(openid) for _ in range(3)}
        replicas.add(front.conversation(f"wechat:{openid}"))
        assert len(replicas) == 1, f"wechat customer {openid} spread over {replicas}"
        rest = {front.rest(openid) for _ in range(3)}
        rest.add(front.conversation(f"rest:{openid}"))
        assert len(rest) == 1, f"rest sender {openid} spread over {rest}"
        seen.setdefault(replicas.pop(), set()).add(openid)
    assert set(seen) == {"rasa1", "rasa2"}, "40 customers should reach both replicas"


def test_a_dead_replica_moves_only_its_own_customers(front: Front) -> None:
    customers = [f"c{i:03d}" for i in range(30)]
    before = {c: front.rest(c) for c in customers}
    victim = front.servers[0]
    victim.shutdown()
    victim.server_close()
    after = {c: front.rest(c) for c in customers}  # connection refused: redispatched
    assert set(after.values()) == {"rasa2"}
    assert all(after[c] == "rasa2" for c in customers if before[c] == "rasa2")
