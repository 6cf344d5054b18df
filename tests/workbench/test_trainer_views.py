"""The trainers' NLU inbox over real HTTP, reading a real Rasa SQL tracker store.

Export writes into a scratch copy of data/nlu (`TrainerPaths`), never the project's own.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.config import local_now
from bot.trainer import inbox
from bot.trainer.vocabulary import domain_vocabulary
from bot.workbench import trainer_views
from bot.workbench.trainer_views import COLLECTOR
from tests.workbench.support import post
from tests.workbench.trainer_fixtures import Bench, accounts_db, bench, store  # noqa: F401
from tests.trainer.conftest import (  # noqa: F401  (fixtures)
    ROOT,
    DataDirs,
    RasaTracker,
    data_dirs,
    domain,
    tracker,
)

PHONE = "13812345678"
ROW = re.compile(r'<tr data-testid="candidate-row" data-id="(\d+)"')


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


def test_every_intent_and_entity_of_the_domain_has_its_chinese_name() -> None:
    # The page lists what the domain has; the tables only name it. A new intent without a
    # name would be offered to trainers as a bare identifier.
    vocabulary = domain_vocabulary()
    assert set(trainer_views.INTENT_LABELS) == set(vocabulary.intents)
    assert set(trainer_views.ENTITY_LABELS) == set(vocabulary.entities)
