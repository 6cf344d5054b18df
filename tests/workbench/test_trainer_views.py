"""The trainers' NLU inbox over real HTTP, reading a real Rasa SQL tracker store.

Export writes into a scratch copy of data/nlu (`TrainerPaths`), never the project's own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings, local_now
from bot.store.accounts import Role, create_account
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from bot.trainer import inbox
from bot.workbench import trainer_views
from bot.workbench.app import create_app
from bot.workbench.trainer_views import COLLECTOR, TRAINER_PATHS, TrainerPaths
from tests.workbench.support import csrf, post
from tests.trainer.conftest import (  # noqa: F401  (fixtures)
    ROOT,
    DataDirs,
    RasaTracker,
    data_dirs,
    domain,
    tracker,
)

PASSWORD = "password-2026"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PHONE = "13812345678"
ROW = re.compile(r'<tr data-testid="candidate-row" data-id="(\d+)"')


@pytest.fixture(scope="module")
def accounts_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite file with the accounts (hashed once: hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("trainer") / "accounts.db"
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    uows = uow_factory(make_session_factory(engine))
    for name, role in [("trainer1", Role.TRAINER), ("agent1", Role.AGENT), ("admin1", Role.ADMIN)]:
        create_account(uows, name, PASSWORD, role, f"{role.label}{name[-1]}号")
    engine.dispose()
    yield str(path)


@pytest.fixture
def store(accounts_db: str, tmp_path: Path) -> Iterator[UowFactory]:
    path = tmp_path / "store.db"
    path.write_bytes(Path(accounts_db).read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    yield uow_factory(make_session_factory(engine))
    engine.dispose()


@dataclass
class Bench:
    uows: UowFactory
    tracker: RasaTracker
    app: Any
    server: TestServer
    dirs: DataDirs

    async def login(self, username: str) -> TestClient:
        client = TestClient(self.server)
        await client.start_server()
        page = await (await client.get("/login")).text()
        token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token, "next": "/"},
                                     allow_redirects=False)
        assert response.status == 303
        self.clients.append(client)
        return client

    def __post_init__(self) -> None:
        self.clients: list[TestClient] = []


@pytest_asyncio.fixture
async def bench(store: UowFactory, tracker: RasaTracker,  # noqa: F811
                data_dirs: DataDirs) -> AsyncIterator[Bench]:  # noqa: F811
    settings = replace(Settings(), tracker_store_url=tracker.url)
    app = create_app(settings, store)
    if "trainer_inbox" not in app.router.named_resources():
        trainer_views.setup_routes(app)  # until bot.workbench.app wires the trainer pages
    app[TRAINER_PATHS] = TrainerPaths(data_dirs.data, data_dirs.heldout)
    server = TestServer(app)
    await server.start_server()
    bench = Bench(store, tracker, app, server, data_dirs)
    try:
        yield bench
    finally:
        for client in bench.clients:
            await client.close()
        await server.close()


def real_data_state() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (ROOT / "data" / "nlu").iterdir()}


@pytest.mark.asyncio
async def test_the_inbox_is_for_trainers(bench: Bench) -> None:
    trainer = await bench.login("trainer1")
    page = await trainer.get("/trainer/inbox")
    assert page.status == 200 and "训练数据：待标注消息" in await page.text()
    admin = await bench.login("admin1")
    assert (await admin.get("/trainer/inbox")).status == 200
    agent = await bench.login("agent1")
    assert (await agent.get("/trainer/inbox")).status == 403
    assert (await post(agent, "/api/trainer/export"))[0] == 403
    anonymous = TestClient(bench.server)
    await anonymous.start_server()
    bench.clients.append(anonymous)
    response = await anonymous.get("/trainer/inbox", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.asyncio
async def test_the_page_collects_from_the_tracker_and_shows_text_masked(bench: Bench) -> None:
    now = local_now()
    await bench.tracker.say_async("wx-1", f"我电话{PHONE}，我的件咋个还不到", "nlu_fallback", 0.3,
                                  now - timedelta(minutes=5), channel="wechat",
                                  ranking=[("nlu_fallback", 0.3), ("delivery_delay", 0.25)])
    trainer = await bench.login("trainer1")
    html = await (await trainer.get("/trainer/inbox")).text()
    assert len(ROW.findall(html)) == 1
    assert "我电话138****5678，我的件咋个还不到" in html and PHONE not in html
    assert "没听懂（兜底）" in html and "delivery_delay" in html and "25%" in html
    assert 'data-intent="delivery_delay"' in html  # the bot's guess is preselected

    # At most one collect every 30 s: a new message shows up only after that.
    await bench.tracker.say_async("web-2", "邮政能寄活螃蟹不", "ask_fee", 0.4, now)
    assert len(ROW.findall(await (await trainer.get("/trainer/inbox")).text())) == 1
    bench.app[COLLECTOR].last_run -= 31
    assert len(ROW.findall(await (await trainer.get("/trainer/inbox")).text())) == 2


@pytest.mark.asyncio
async def test_filters_narrow_the_list(bench: Bench) -> None:
    now = local_now()
    await bench.tracker.say_async("wx-1", "寄个螃蟹到北京多少钱", "ask_fee", 0.35, now,
                                  channel="wechat")
    await bench.tracker.say_async("web-2", "蒙自的网点几点关门", "ask_outlet", 0.55, now)
    trainer = await bench.login("trainer1")
    await trainer.get("/trainer/inbox")

    async def shown(query: str) -> list[str]:
        html = await (await trainer.get("/trainer/inbox?" + query)).text()
        return re.findall(r'data-testid="candidate-text">([^<]*)<', html)

    assert sorted(await shown("")) == ["寄个螃蟹到北京多少钱", "蒙自的网点几点关门"]
    assert await shown("channel=wechat") == ["寄个螃蟹到北京多少钱"]
    assert await shown("intent=ask_outlet") == ["蒙自的网点几点关门"]
    assert await shown("min_confidence=0.5&max_confidence=1") == ["蒙自的网点几点关门"]
    assert await shown(f"date_from={(now + timedelta(days=1)).date()}") == []
    assert await shown("status=annotated") == []
    html = await (await trainer.get("/trainer/inbox?min_confidence=abc&intent=nope")).text()
    assert "最低置信度应是 0 到 1 之间的小数" in html and "未知的意图" in html


@pytest.mark.asyncio
async def test_annotate_discard_and_export_over_the_api(bench: Bench) -> None:
    before = real_data_state()
    at = local_now() - timedelta(minutes=1)
    text = f"单号EA123456785CN到蒙自没有 电话{PHONE}"
    cid = inbox.record_correction(bench.uows, "wx-1", "wechat", text, at, "greet", 0.4,
                                  "track_mail", "agent1").id
    other = inbox.record_correction(bench.uows, "wx-2", "wechat", "哈哈哈哈", at, "greet", 0.4,
                                    "greet", "agent1").id
    trainer = await bench.login("trainer1")
    html = await (await trainer.get("/trainer/inbox")).text()
    assert "单号EA123456785CN到蒙自没有 电话138****5678" in html

    phone = text.index(PHONE)
    status, body = await post(trainer, f"/api/trainer/candidates/{cid}/annotate", {
        "intent": "track_mail", "entities": [
            {"start": 2, "end": 15, "entity": "tracking_number"},
            {"start": 16, "end": 18, "entity": "location"},
            {"start": phone, "end": phone + 11, "entity": "phone_number"}]})
    assert status == 200
    assert (body["candidate"]["status"], body["candidate"]["intent"]) == ("annotated", "track_mail")
    assert PHONE not in body["candidate"]["text"]
    status, body = await post(trainer, f"/api/trainer/candidates/{cid}/annotate",
                              {"intent": "track_mail", "entities": [
                                  {"start": 2, "end": 99, "entity": "tracking_number"}]})
    assert status == 400 and "超出了消息范围" in body["error"]
    status, body = await post(trainer, "/api/trainer/candidates/999/annotate",
                              {"intent": "greet", "entities": []})
    assert status == 404
    status, body = await post(trainer, f"/api/trainer/candidates/{other}/discard")
    assert status == 200 and body["candidate"]["status"] == "discarded"

    status, body = await post(trainer, "/api/trainer/export")
    assert status == 200
    summary = body["export"]
    assert (summary["files"], summary["written"], summary["conflicts"]) == (
        {"reviewed_tracking.yml": 1}, 1, [])
    content = (bench.dirs.data / "reviewed_tracking.yml").read_text("utf-8")
    assert "到[蒙自](location)没有" in content and PHONE not in content
    assert "EA123456785CN" not in content
    assert real_data_state() == before  # the project's data/nlu was not touched
    assert inbox.get_candidate(bench.uows, cid).status == "exported"


@pytest.mark.asyncio
async def test_every_post_needs_the_csrf_token(bench: Bench) -> None:
    cid = inbox.record_correction(bench.uows, "wx-1", "wechat", "啥子哦", local_now(), None, None,
                                  "out_of_scope", "agent1").id
    trainer = await bench.login("trainer1")
    for url, body in ((f"/api/trainer/candidates/{cid}/annotate", {"intent": "out_of_scope"}),
                      (f"/api/trainer/candidates/{cid}/discard", {}),
                      ("/api/trainer/export", {})):
        response = await trainer.post(url, json=body)
        assert response.status == 403 and (await response.json())["error"] == "csrf"
        response = await trainer.post(url, json=body, headers={"X-CSRF-Token": "forged"})
        assert response.status == 403
    assert inbox.get_candidate(bench.uows, cid).status == "new"
    assert not list(bench.dirs.data.glob("reviewed_*.yml"))


@pytest.mark.asyncio
async def test_the_page_loads_its_script_and_marks_rows_for_browser_tests(bench: Bench) -> None:
    inbox.record_correction(bench.uows, "wx-1", "wechat", "到付多收了我钱", local_now(), None, None,
                            "fee_dispute", "agent1")
    trainer = await bench.login("trainer1")
    html = await (await trainer.get("/trainer/inbox")).text()
    assert '<script src="/static/trainer.js"></script>' in html
    for testid in ("candidate-row", "candidate-text", "annotator", "candidate-status",
                   "export-button", "export-summary", "trainer-filters"):
        assert f'data-testid="{testid}"' in html
    script = await trainer.get("/static/trainer.js")
    assert script.status == 200 and "annotate" in await script.text()
    assert "<script>" not in html  # CSP: no inline scripts
