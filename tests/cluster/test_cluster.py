"""``make cluster`` for real: two Rasa replicas and an action server behind HAProxy, on a private
PostgreSQL (tracker and operational store) and Redis (lock store, message ids), all started by
bot.cluster; WeChat in safe mode replying through a fake customer-service API.

One cluster for the module (each replica loads the model: about a minute); the fault test,
which kills a replica, runs last.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from bot.channels.wechat_sim import WeChatSimulator, message_xml
from bot.cluster import engines
from bot.cluster.cluster import Cluster, ClusterOptions
from bot.cluster.haproxy import REPLICA_HEADER
from bot.config import RASA_TOKEN_HEADER, load_settings
from bot.launcher import free_port
from tests.channels.conftest import AES_KEY, APP_ID, TOKEN, ThreadedFake, wait_until, wechat_env

pytestmark = pytest.mark.server

RASA_TOKEN = "cluster-test-token-5e1c"
MAIL = "EA000000005CN"


@dataclass
class Running:
    cluster: Cluster
    fake: Any  # tests/channels/fake_wechat.FakeWeChat
    log: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Running]:
    if engines.pg_bin() is None or shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the cluster tests need PostgreSQL and Redis "
                        "(`make system-packages` installs them)")
        pytest.skip("PostgreSQL or redis-server not installed")
    tmp = tmp_path_factory.mktemp("cluster")
    pg_dir = Path(tempfile.mkdtemp(prefix="postdesk-cluster-pg-"))  # reachable by postgres
    settings = load_settings({**os.environ, "RASA_TOKEN": RASA_TOKEN,
                              "ACTION_TOKEN": "cluster-action-token-77a0",
                              "REST_TOKEN": "cluster-rest-token-13f9"})
    with ThreadedFake(app_id=APP_ID) as fake, open(tmp / "cluster.log", "w") as log:
        env = {k: v for k, v in wechat_env(fake, "", passive_wait_s=4.0).items()
               if k.startswith("WECHAT_")}
        env["ADDRESS_RATE_PER_MINUTE"] = "0"  # every test customer comes from this address
        options = ClusterOptions(model=trained_model, replicas=2, action_servers=1,
                                 front_port=free_port(), workbench_port=free_port(),
                                 workdir=tmp / "work", pg_dir=pg_dir, env=env)
        try:
            with Cluster(options, settings, log=log) as cluster:
                yield Running(cluster, fake, tmp / "cluster.log")
        finally:
            shutil.rmtree(pg_dir, ignore_errors=True)


def rest(running: Running, sender: str, text: str, message_id: Optional[str] = None,
         timeout: float = 60) -> tuple[int, Any, str]:
    """One REST message through HAProxy: status, answer, the replica that answered."""
    body: dict[str, Any] = {"sender": sender, "message": text}
    if message_id:
        body["message_id"] = message_id
    request = urllib.request.Request(f"{running.cluster.front_url}/webhooks/rest/webhook",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read()), r.headers.get(REPLICA_HEADER, "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers.get(REPLICA_HEADER, "")


def tracker(running: Running, conversation: str) -> tuple[list[str], str]:
    """The user texts of `conversation` (Rasa's API through HAProxy) and the replica asked."""
    url = (f"{running.cluster.front_url}/conversations/"
           f"{urllib.parse.quote(conversation, safe=':')}/tracker")
    request = urllib.request.Request(url, headers={RASA_TOKEN_HEADER: RASA_TOKEN})
    with urllib.request.urlopen(request, timeout=30) as r:
        events = json.loads(r.read())["events"]
        return ([e.get("text") or "" for e in events if e.get("event") == "user"],
                r.headers.get(REPLICA_HEADER, ""))


def simulator(running: Running) -> WeChatSimulator:
    return WeChatSimulator(f"{running.cluster.front_url}/webhooks/wechat/webhook", TOKEN, APP_ID,
                           AES_KEY, timeout=60)


def api_texts(running: Running, openid: str) -> list[str]:
    return [text for to, text, _ in running.fake.sent if to == openid]


def user_texts_in_postgres(running: Running) -> Counter[tuple[str, str]]:
    """(conversation, text) of every user event in the PostgreSQL tracker store."""
    from sqlalchemy import create_engine, text

    engine = create_engine(running.cluster.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT sender_id, data FROM events WHERE type_name = 'user'")).all()
    finally:
        engine.dispose()
    return Counter((sender, json.loads(data).get("text") or "") for sender, data in rows)


def test_rest_wechat_workbench_and_stats_answer_through_the_cluster(running: Running) -> None:
    status, answer, replica = rest(running, "alice", f"{MAIL}到哪了")
    assert status == 200 and MAIL in answer[0]["text"]
    assert replica in ("rasa1", "rasa2")

    reply = simulator(running).say("o_cluster_bob", f"{MAIL}到哪了")
    assert reply.status == 200
    texts = [reply.text] if reply.text else wait_until(
        lambda: api_texts(running, "o_cluster_bob"), timeout=60)
    assert texts and MAIL in texts[0]

    workbench = f"http://127.0.0.1:{running.cluster.options.workbench_port}/login"
    with urllib.request.urlopen(workbench, timeout=10) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(running.cluster.stats_url, timeout=10)
    assert refused.value.code == 401  # the stats page needs its password
    auth = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    auth.add_password(None, running.cluster.stats_url, "postdesk",
                      running.cluster.stats_password)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(auth))
    with opener.open(running.cluster.stats_url, timeout=10) as r:
        page = r.read().decode()
    assert "rasa1" in page and "rasa2" in page


def test_a_conversation_keeps_its_replica_and_customers_spread(running: Running) -> None:
    by_replica: dict[str, set[str]] = {}
    for i in range(8):
        sender = f"keep-{i}"
        replicas = {rest(running, sender, f"{MAIL}到哪了 [{sender}-{seq}]")[2]
                    for seq in range(3)}
        texts, asked = tracker(running, f"rest:{sender}")
        replicas.add(asked)
        assert len(replicas) == 1, f"{sender} was served by {replicas}"
        assert [t for t in texts if sender in t] == [
            f"{MAIL}到哪了 [{sender}-{seq}]" for seq in range(3)]
        by_replica.setdefault(replicas.pop(), set()).add(sender)
    assert set(by_replica) == {"rasa1", "rasa2"}

    openid = "o_cluster_keep"
    sim = simulator(running)
    for seq in range(2):
        assert sim.say(openid, f"{MAIL}到哪了 [{openid}-{seq}]").status == 200
    texts, _ = tracker(running, f"wechat:{openid}")
    assert [t for t in texts if openid in t] == [f"{MAIL}到哪了 [{openid}-{seq}]"
                                                  for seq in range(2)]


@dataclass
class Customer:
    """A customer of the fault test: REST sender or WeChat openid, and what came back."""

    name: str
    channel: str
    answered: dict[int, str] = field(default_factory=dict)  # seq -> replica (REST) / "ok"
    attempts: Counter[int] = field(default_factory=Counter)
    failed: int = 0  # requests that failed (e.g. died with the replica) and were sent again

    @property
    def conversation(self) -> str:
        return f"{self.channel}:{self.name}"

    def text(self, seq: int) -> str:
        return f"{MAIL}到哪了 [{self.name}-{seq}]"


def send_until_answered(running: Running, customer: Customer, seq: int) -> None:
    """Send message `seq` and retry it, as WeChat (same MsgId) or a REST client (same
    message_id) does, while the request fails."""
    msg_id = str(abs(hash((customer.name, seq))) % 10 ** 15)
    for _ in range(30):
        customer.attempts[seq] += 1
        try:
            if customer.channel == "rest":
                status, answer, replica = rest(running, customer.name, customer.text(seq),
                                               message_id=msg_id)
                if status == 200 and answer:
                    customer.answered[seq] = replica
                    return
            else:
                sim = simulator(running)
                reply = sim.send_xml(message_xml(customer.name, sim.account, customer.text(seq),
                                                 msg_id=msg_id), openid=customer.name)
                if reply.status == 200:
                    customer.answered[seq] = "ok"
                    return
        except (urllib.error.URLError, OSError):
            pass
        customer.failed += 1
        time.sleep(1)  # a client's retry interval (WeChat waits 5 s)


def test_killing_a_replica_under_load_loses_and_duplicates_nothing(running: Running) -> None:
    customers = ([Customer(f"fault-r{i}", "rest") for i in range(6)]
                 + [Customer(f"o_fault_w{i}", "wechat") for i in range(4)])
    for c in customers:
        send_until_answered(running, c, 0)
    home = {c.name: tracker(running, c.conversation)[1] for c in customers}
    victim_name = home["fault-r0"]
    survivor_name = "rasa2" if victim_name == "rasa1" else "rasa1"
    victims = [c for c in customers if home[c.name] == victim_name]
    assert any(c.channel == "rest" for c in victims)
    victim = running.cluster.replicas[int(victim_name[-1]) - 1].server
    assert victim is not None and victim.poll() is None

    messages = 5
    threads = [threading.Thread(target=lambda c=c: [send_until_answered(running, c, s)
                                                   for s in range(1, messages)])
               for c in customers]
    for t in threads:
        t.start()
    # Kill the replica while its customers are talking: once some of them have been answered.
    assert wait_until(lambda: sum(len(c.answered) for c in victims) > len(victims), timeout=120)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)

    print(f"victim {victim_name}: requests retried after failing: "
          f"{ {c.name: c.failed for c in customers if c.failed} }")
    # Every message answered; the victim's REST customers now answered by the survivor.
    for c in customers:
        assert sorted(c.answered) == list(range(messages)), f"{c.name} unanswered: {c.answered}"
    for c in victims:
        if c.channel == "rest":
            assert c.answered[messages - 1] == survivor_name
    # No message lost or handled twice: each text exactly once as a user event in PostgreSQL.
    seen = user_texts_in_postgres(running)
    for c in customers:
        counts = [seen[(c.conversation, c.text(seq))] for seq in range(messages)]
        assert counts == [1] * messages, f"{c.conversation}: {counts} (attempts {c.attempts})"
    # And in order, as Rasa's API (through HAProxy, now on the survivor) reports them.
    for c in victims:
        texts, replica = tracker(running, c.conversation)
        assert replica == survivor_name
        assert [t for t in texts if c.name in t] == [c.text(seq) for seq in range(messages)]


def test_postgres_restarted_and_redis_stopped_get_polite_replies_and_nothing_twice(
        running: Running) -> None:
    """Runs after the kill (one replica left). Every message is answered (the answer or a
    polite "try again"), a failed turn is retried, and no text is written twice."""
    cluster = running.cluster
    assert cluster.postgres is not None and cluster.redis is not None
    customer = Customer("outage-r0", "rest")
    send_until_answered(running, customer, 0)
    cluster.postgres.restart()  # an immediate stop: every pooled connection is dead
    for seq in (1, 2):
        send_until_answered(running, customer, seq)
    cluster.redis.stop()
    status, answer, _ = rest(running, customer.name, customer.text(3), message_id="outage-3")
    assert status == 200 and answer and answer[0]["text"]  # the answer, or a polite reply
    cluster.redis.start()
    send_until_answered(running, customer, 4)
    assert sorted(customer.answered) == [0, 1, 2, 4]

    seen = user_texts_in_postgres(running)
    counts = [seen[(customer.conversation, customer.text(seq))] for seq in range(5)]
    assert all(n <= 1 for n in counts), f"written twice: {counts}"
    # Stored once each, also the first turns after the restart (connections are checked
    # before use); only the message sent while Redis was down may be missing.
    assert counts[0] == counts[1] == counts[2] == counts[4] == 1, counts
