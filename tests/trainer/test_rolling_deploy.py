"""A model deploy rolls over every Rasa replica, one after the other, and goes back if one fails.

The replicas are small aiohttp servers on loopback that answer ``GET /status`` and
``PUT /model`` as Rasa 3.6 does (token header required, 204 on a load, the loaded file's name
and fingerprint in /status); each can be told to refuse a file or to report the new file only
after some /status calls. What the real Rasa server does with a deploy is in test_retrain.py.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import RASA_TOKEN_HEADER, Settings
from bot.store.uow import UowFactory
from bot.trainer.__main__ import main as trainer_main
from bot.trainer.deploy import DeployError, RasaAdmin, deploy, rollback
from bot.trainer.registry import Registry
from bot.workbench.app import create_app
from bot.workbench.keys import MODEL_REGISTRY
from tests.workbench.desk_fixtures import accounts_db, store  # noqa: F401  (fixtures)
from tests.workbench.support import CSRF_INPUT, PASSWORD

NOW = datetime(2026, 12, 5, 10, 0)
TOKEN = "rolling-deploy-token"


@dataclass
class Replica:
    """What one fake Rasa server serves, and how it misbehaves when told to."""

    name: str
    model_file: str
    model_id: str = "fingerprint-start"
    refuse: set[str] = field(default_factory=set)  # file names whose load fails (HTTP 500)
    settle_after: int = 0  # /status calls that still report the old file after a load
    _pending: tuple[str, str] | None = None
    base_url: str = ""


class FakeRasaReplicas:
    """Several fake Rasa servers on one event loop in a daemon thread (deploy is synchronous).

    `calls` is every request of every replica in order: (replica, method, path, model file
    named in the request or answered by /status).
    """

    def __init__(self, *names: str, model_file: str) -> None:
        self.replicas = {name: Replica(name, model_file) for name in names}
        self.calls: list[tuple[str, str, str, str]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []

    def __enter__(self) -> FakeRasaReplicas:
        self._thread.start()
        for replica in self.replicas.values():
            port = asyncio.run_coroutine_threadsafe(self._start(replica), self.loop).result(30)
            replica.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        for runner in self._runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def urls(self) -> list[str]:
        return [r.base_url for r in self.replicas.values()]

    def admins(self, token: str = TOKEN) -> list[RasaAdmin]:
        return [RasaAdmin(url, token) for url in self.urls()]

    def serving(self) -> dict[str, str]:
        return {r.name: r.model_file for r in self.replicas.values()}

    def loads(self) -> list[tuple[str, str]]:
        """The PUT /model requests, in order: (replica, file name)."""
        return [(who, file) for who, method, _, file in self.calls if method == "PUT"]

    async def _start(self, replica: Replica) -> int:
        app = web.Application()
        app.router.add_get("/status", lambda request: self._status(replica, request))
        app.router.add_put("/model", lambda request: self._load(replica, request))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    @staticmethod
    def _refused(request: web.Request) -> web.Response | None:
        if request.headers.get(RASA_TOKEN_HEADER) != TOKEN:
            return web.json_response({"version": "3.6.20", "status": "failure",
                                      "reason": "NotAuthenticated", "code": 401}, status=401)
        return None

    async def _status(self, replica: Replica, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        if replica._pending is not None:
            if replica.settle_after > 0:
                replica.settle_after -= 1
            else:
                replica.model_file, replica.model_id = replica._pending
                replica._pending = None
        self.calls.append((replica.name, "GET", "/status", replica.model_file))
        return web.json_response({"model_file": replica.model_file, "model_id": replica.model_id,
                                  "num_active_training_jobs": 0})

    async def _load(self, replica: Replica, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        path = Path((await request.json())["model_file"])
        self.calls.append((replica.name, "PUT", "/model", path.name))
        if path.name in replica.refuse or not path.is_file():
            return web.json_response({"version": "3.6.20", "status": "failure",
                                      "reason": "LoadingError", "code": 500,
                                      "message": f"Agent with name '{path}' could not be loaded."},
                                     status=500)
        fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        if replica.settle_after > 0:
            replica._pending = (path.name, fingerprint)
        else:
            replica.model_file, replica.model_id = path.name, fingerprint
        return web.Response(status=204)


def in_service(registry: Registry) -> int | None:
    record = registry.deployed()
    return record.id if record is not None else None


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@dataclass
class Models:
    registry: Registry
    a: int  # in service
    b: int  # the candidate
    a_file: str
    b_file: str


@pytest.fixture
def models(tmp_path: Path) -> Models:
    registry = Registry(tmp_path / "registry.json")
    ids = []
    for i, name in enumerate(("a", "b")):
        file = tmp_path / f"postdesk-{name}.tar.gz"
        file.write_bytes(b"model " + name.encode())
        ids.append(registry.register(file, f"hash{i}", {"macro_f1": 0.9},
                                     NOW + timedelta(hours=i)).id)
    registry.mark_deployed(ids[0], NOW)
    return Models(registry, ids[0], ids[1], "postdesk-a.tar.gz", "postdesk-b.tar.gz")


@pytest.fixture
def replicas(models: Models) -> Iterator[FakeRasaReplicas]:
    with FakeRasaReplicas("r1", "r2", "r3", model_file=models.a_file) as fake:
        yield fake


def test_a_deploy_rolls_over_the_replicas_one_after_the_other(models: Models,
                                                              replicas: FakeRasaReplicas) -> None:
    replicas.replicas["r1"].settle_after = 3  # reports the old file three more times
    replicas.replicas["r2"].settle_after = 1
    done = deploy(models.registry, models.b, replicas.admins(), NOW, settle_s=30)
    assert done.live
    assert replicas.loads() == [("r1", models.b_file), ("r2", models.b_file),
                                ("r3", models.b_file)]
    # Each replica is loaded only after the one before it reported the new file in /status.
    for earlier, later in (("r1", "r2"), ("r2", "r3")):
        put_later = replicas.calls.index((later, "PUT", "/model", models.b_file))
        assert (earlier, "GET", "/status", models.b_file) in replicas.calls[:put_later]
    r1_after_load = [file for who, method, _, file in replicas.calls
                     if who == "r1" and method == "GET"][1:]
    assert r1_after_load == [models.a_file] * 3 + [models.b_file]  # it waited for r1
    assert replicas.serving() == {"r1": models.b_file, "r2": models.b_file, "r3": models.b_file}
    # The registry: b in service, a retired, and every replica on b.
    assert in_service(models.registry) == models.b
    assert models.registry.get(models.a).status == "retired"
    assert models.registry.replicas() == {url: models.b for url in replicas.urls()}
    assert done.replicas == models.registry.replicas()
    saved = json.loads(models.registry.path.read_text())
    assert saved["replicas"] == {url: models.b for url in replicas.urls()}


def test_a_failing_replica_stops_the_deploy_and_the_switched_ones_go_back(
        models: Models, replicas: FakeRasaReplicas) -> None:
    replicas.replicas["r2"].refuse.add(models.b_file)
    with pytest.raises(DeployError) as caught:
        deploy(models.registry, models.b, replicas.admins(), NOW, settle_s=30)
    r1, r2, _ = replicas.urls()
    message = str(caught.value)
    assert f"stopped at {r2}" in message and "could not load" in message
    assert f"switched back: {r1}" in message and "STILL SERVING" not in message
    # r3 was never touched; r1 went back to a after r2 failed.
    assert replicas.loads() == [("r1", models.b_file), ("r2", models.b_file),
                                ("r1", models.a_file)]
    assert replicas.serving() == {"r1": models.a_file, "r2": models.a_file, "r3": models.a_file}
    # The registry keeps a in service; b stays a candidate.
    assert in_service(models.registry) == models.a
    assert models.registry.get(models.b).status == "candidate"
    assert models.registry.replicas() == {url: models.a for url in replicas.urls()}


def test_a_replica_that_cannot_go_back_is_reported_and_recorded(
        models: Models, replicas: FakeRasaReplicas) -> None:
    replicas.replicas["r3"].refuse.add(models.b_file)
    replicas.replicas["r1"].refuse.add(models.a_file)  # r1 cannot load a again
    with pytest.raises(DeployError) as caught:
        deploy(models.registry, models.b, replicas.admins(), NOW, settle_s=30)
    r1, r2, r3 = replicas.urls()
    message = str(caught.value)
    assert f"stopped at {r3}" in message
    assert f"switched back: {r2}" in message and f"STILL SERVING model {models.b}: {r1}" in message
    assert replicas.loads() == [("r1", models.b_file), ("r2", models.b_file),
                                ("r3", models.b_file), ("r2", models.a_file),
                                ("r1", models.a_file)]
    assert replicas.serving() == {"r1": models.b_file, "r2": models.a_file, "r3": models.a_file}
    assert in_service(models.registry) == models.a
    assert models.registry.replicas() == {r1: models.b, r2: models.a, r3: models.a}


def test_a_replica_that_never_reports_the_new_model_fails_the_deploy(
        models: Models, replicas: FakeRasaReplicas) -> None:
    replicas.replicas["r2"].settle_after = 10 ** 6  # loads, but /status keeps the old file
    with pytest.raises(DeployError, match="reports 'postdesk-a.tar.gz'"):
        deploy(models.registry, models.b, replicas.admins(), NOW, settle_s=0.5)
    assert replicas.loads() == [("r1", models.b_file), ("r2", models.b_file),
                                ("r1", models.a_file)]
    assert replicas.serving()["r1"] == models.a_file
    assert in_service(models.registry) == models.a


def test_one_replica_not_answering_switches_nothing(models: Models,
                                                    replicas: FakeRasaReplicas) -> None:
    down = closed_port_url()
    admins = replicas.admins()[:2] + [RasaAdmin(down, TOKEN)]
    with pytest.raises(DeployError, match=f"{down} do not answer; no replica was switched"):
        deploy(models.registry, models.b, admins, NOW)
    assert replicas.loads() == []
    assert in_service(models.registry) == models.a


def test_a_wrong_token_switches_nothing(models: Models, replicas: FakeRasaReplicas) -> None:
    with pytest.raises(DeployError, match="401"):
        deploy(models.registry, models.b, replicas.admins(token="wrong"), NOW)
    assert replicas.loads() == []
    assert in_service(models.registry) == models.a


def test_no_replica_answering_records_the_deploy_for_the_next_start(models: Models) -> None:
    admins = [RasaAdmin(closed_port_url(), TOKEN), RasaAdmin(closed_port_url(), TOKEN)]
    done = deploy(models.registry, models.b, admins, NOW)
    assert not done.live
    assert in_service(models.registry) == models.b
    assert models.registry.replicas() == {}


def test_rollback_rolls_every_replica_back(models: Models, replicas: FakeRasaReplicas) -> None:
    deploy(models.registry, models.b, replicas.admins(), NOW)
    done = rollback(models.registry, replicas.admins(), NOW)
    assert done.live and done.record.id == models.a
    assert replicas.loads()[3:] == [("r1", models.a_file), ("r2", models.a_file),
                                    ("r3", models.a_file)]
    assert replicas.serving() == {"r1": models.a_file, "r2": models.a_file, "r3": models.a_file}
    assert models.registry.replicas() == {url: models.a for url in replicas.urls()}


def test_the_trainer_commands_deploy_to_and_show_rasa_replicas(
        models: Models, replicas: FakeRasaReplicas, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("RASA_TOKEN", TOKEN)
    monkeypatch.setenv("RASA_REPLICAS", " , ".join(url + "/" for url in replicas.urls()))
    registry = ["--registry", str(models.registry.path)]
    assert trainer_main([*registry, "deploy", str(models.b)]) == 0
    out = capsys.readouterr().out
    assert "is now in service on " + ", ".join(replicas.urls()) in out
    assert replicas.serving() == {"r1": models.b_file, "r2": models.b_file, "r3": models.b_file}

    assert trainer_main([*registry, "models"]) == 0
    listing = capsys.readouterr().out
    for url in replicas.urls():
        assert f"{url:<30} {models.b} ({models.b_file})" in listing

    assert trainer_main([*registry, "status"]) == 0
    status = capsys.readouterr().out
    assert f"in service: model {models.b} ({models.b_file})" in status
    assert all(f"{url:<30} serves {models.b_file}" in status for url in replicas.urls())
    # Someone loads another model on r2 by hand: `status` shows it and fails.
    replicas.admins()[1].load(Path(models.registry.get(models.a).file))
    assert trainer_main([*registry, "status"]) == 1
    drift = capsys.readouterr().out
    assert f"serves {models.a_file}  (registry: model {models.b}, {models.b_file})" in drift

    replicas.replicas["r3"].refuse.add(models.a_file)
    assert trainer_main([*registry, "rollback"]) == 2
    assert f"stopped at {replicas.urls()[2]}" in capsys.readouterr().err
    assert in_service(models.registry) == models.b


@pytest_asyncio.fixture
async def workbench(store: UowFactory, models: Models) -> AsyncIterator[TestClient]:  # noqa: F811
    app = create_app(Settings(), store)
    app[MODEL_REGISTRY] = models.registry
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/login")).text()
        csrf = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        response = await client.post("/login", data={"username": "trainer1", "password": PASSWORD,
                                                      "csrf_token": csrf}, allow_redirects=False)
        assert response.status == 303
        yield client


@pytest.mark.asyncio
async def test_the_model_page_says_which_replica_serves_which_model(workbench: TestClient,
                                                                   models: Models) -> None:
    models.registry.set_replicas({"http://10.0.0.11:5005": models.a,
                                  "http://10.0.0.12:5005/<b>x</b>": models.b})
    page = await (await workbench.get("/trainer/models")).text()
    rows: dict[str, Any] = {row.split('data-status="')[1].split('"')[0]: row
                            for row in page.split('data-testid="model-row"')[1:]}
    assert "副本 http://10.0.0.11:5005 在用" in rows["deployed"]
    assert "副本 http://10.0.0.12:5005/&lt;b&gt;x&lt;/b&gt; 在用" in rows["candidate"]
    assert "<b>x</b>" not in page
