"""The hand-over queue and conversation API over real HTTP.

The Rasa server is replaced by `FakeRasa` (the same calls as `RasaClient`, trackers in memory);
agents' WeChat replies go to the fake WeChat API server of tests/channels over real HTTP. The
real Rasa server and a real browser are used by tests/browser.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from bot.config import Settings, local_now
from bot.metrics import WECHAT_API_ERRORS
from bot.store import desk
from bot.store.uow import UowFactory
from bot.workbench.app import create_app
from bot.workbench.keys import RASA
from tests.channels.fake_wechat import FakeWeChat
from tests.support.metrics import value
from tests.workbench.desk_fixtures import accounts_db, store  # noqa: F401  (fixtures)
from tests.workbench.support import CSRF_INPUT, PASSWORD, PHONE, FakeRasa, csrf, handover, post


@dataclass
class Desk:
    uows: UowFactory
    rasa: FakeRasa
    wechat: FakeWeChat
    clients: dict[str, TestClient]

    async def login(self, username: str) -> TestClient:
        client = self.clients[username]
        page = await (await client.get("/login")).text()
        token = CSRF_INPUT.search(page).group(1)  # type: ignore[union-attr]
        response = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                      "csrf_token": token, "next": "/"},
                                     allow_redirects=False)
        assert response.status == 303
        return client


@pytest_asyncio.fixture
async def workbench(store: UowFactory) -> AsyncIterator[Desk]:
    rasa = FakeRasa()
    async with FakeWeChat() as wechat:
        settings = replace(Settings(), wechat_app_id=wechat.app_id,
                           wechat_app_secret=wechat.app_secret, wechat_api_base_url=wechat.base_url)
        app = create_app(settings, store)
        app[RASA] = rasa  # type: ignore[assignment]
        server = TestServer(app)
        await server.start_server()
        clients = {name: TestClient(server) for name in ("agent1", "agent2", "trainer1", "super1")}
        for c in clients.values():
            await c.start_server()
        try:
            yield Desk(store, rasa, wechat, clients)
        finally:
            for c in clients.values():
                await c.close()
            await server.close()


@pytest.mark.asyncio
async def test_the_queue_is_for_agents_and_supervisors(workbench: Desk) -> None:
    handover(workbench.uows, "wx-a", "转人工")
    trainer = await workbench.login("trainer1")
    assert (await trainer.get("/queue")).status == 403
    assert (await trainer.get("/api/queue")).status == 403
    agent = await workbench.login("agent1")
    page = await agent.get("/queue")
    assert page.status == 200 and "转人工队列" in await page.text()
    queue = await (await agent.get("/api/queue")).json()
    assert [(e["sender"], e["status"], e["reason_label"]) for e in queue["entries"]] == [
        ("wx-a", "waiting", "客户要求人工")]


@pytest.mark.asyncio
async def test_a_supervisor_sees_phones_masked_an_agent_as_written(workbench: Desk) -> None:
    handover(workbench.uows, "wx-p", f"我电话{PHONE}快点联系我")
    agent = await workbench.login("agent1")
    supervisor = await workbench.login("super1")
    as_agent = (await (await agent.get("/api/queue")).json())["entries"][0]["last_message"]
    as_supervisor = (await (await supervisor.get("/api/queue")).json())["entries"][0]["last_message"]
    assert PHONE in as_agent
    assert PHONE not in as_supervisor and "138****5678" in as_supervisor


@pytest.mark.asyncio
async def test_claiming_pauses_the_bot_and_a_second_agent_is_refused(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-c", "人工")
    agent1, agent2 = await workbench.login("agent1"), await workbench.login("agent2")
    status, body = await post(agent1, f"/api/handovers/{hid}/claim")
    assert status == 200 and body["handover"]["assigned_to"] == "agent1"
    assert workbench.rasa.trackers["wx-c"]["paused"] is True
    status, body = await post(agent2, f"/api/handovers/{hid}/claim")
    assert status == 409 and "agent1" in body["error"]
    # Supervisors do not claim; trainers cannot act at all.
    supervisor = await workbench.login("super1")
    assert (await post(supervisor, f"/api/handovers/{hid}/claim"))[0] == 403


@pytest.mark.asyncio
async def test_a_claim_while_rasa_is_down_is_undone(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-d", "人工")
    agent = await workbench.login("agent1")
    workbench.rasa.down = True
    status, body = await post(agent, f"/api/handovers/{hid}/claim")
    assert status == 503 and "机器人服务" in body["error"]
    view = desk.get_handover(workbench.uows, hid)
    assert view is not None and (view.status, view.assigned_to) == ("waiting", None)


@pytest.mark.asyncio
async def test_an_unsafe_request_without_the_csrf_token_is_refused(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-x", "人工")
    agent = await workbench.login("agent1")
    response = await agent.post(f"/api/handovers/{hid}/claim", json={})
    assert response.status == 403
    assert desk.get_handover(workbench.uows, hid).status == "waiting"  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_an_edited_suggestion_reaches_the_wechat_customer_exactly_once(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-e", "EA000000005CN到哪了")
    workbench.rasa.customer_says("wx-e", "EA000000005CN到哪了", "track_mail", 0.93, [
        {"entity": "tracking_number", "value": "EA000000005CN"}])
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    state = await (await agent.get(f"/api/conversations/{hid}")).json()
    kinds = [s["kind"] for s in state["suggestions"]]
    assert kinds[:2] == ["greeting", "status"], kinds
    status_draft = state["suggestions"][1]
    assert "EA000000005CN" in status_draft["text"] and "运输中" in status_draft["text"]
    assert state["mail"]["number"] == "EA000000005CN" and state["mail"]["trail"]
    final = status_draft["text"] + "我已经帮您催促了。"
    body = {"request_key": "key-1", "suggestion_kind": "status",
            "suggested_text": status_draft["text"], "final_text": final}
    status, answer = await post(agent, f"/api/conversations/{hid}/replies", body)
    assert status == 201, answer
    reply = answer["reply"]
    assert (reply["decision"], reply["edit_distance"], reply["delivery"]) == (
        "edited", len("我已经帮您催促了。"), "sent")
    assert [(openid, text) for openid, text, _ in workbench.wechat.sent] == [("wx-e", final)]
    # The same submit again (a double click): recorded once, sent once.
    status, again = await post(agent, f"/api/conversations/{hid}/replies", body)
    assert status == 200 and again["created"] is False and again["reply"]["id"] == reply["id"]
    assert len(workbench.wechat.sent) == 1
    # The agent's message is in the conversation's history, marked as the agent's.
    agent_lines = [e for e in workbench.rasa.trackers["wx-e"]["events"] if e["event"] == "bot"]
    assert [(e["text"], e["metadata"]["agent"]) for e in agent_lines] == [(final, "agent1")]
    state = await (await agent.get(f"/api/conversations/{hid}")).json()
    assert [line["kind"] for line in state["transcript"]] == ["customer", "system", "agent"]
    assert state["transcript"][0]["intent"] == "track_mail"
    assert state["transcript"][0]["confidence"] == 0.93
    # The agent has written to the customer: no greeting is offered any more.
    assert [s["kind"] for s in state["suggestions"]] == ["status"]
    [record] = desk.replies_for(workbench.uows, hid)
    assert (record.agent, record.suggested_text, record.final_text) == (
        "agent1", status_draft["text"], final)


@pytest.mark.asyncio
async def test_a_rejected_suggestion_is_recorded_and_nothing_is_sent(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-r", "人工")
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    status, answer = await post(agent, f"/api/conversations/{hid}/replies", {
        "request_key": "r-1", "suggestion_kind": "ask_info", "suggested_text": "请发单号",
        "final_text": None})
    assert status == 201 and answer["reply"]["decision"] == "rejected"
    assert workbench.wechat.sent == []


@pytest.mark.asyncio
async def test_a_closed_wechat_window_is_reported_and_a_retry_delivers(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-w", "人工")
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    workbench.wechat.fail_next(45015)
    body = {"request_key": "w-1", "final_text": "您好，我是人工客服"}
    status, answer = await post(agent, f"/api/conversations/{hid}/replies", body)
    assert status == 201 and answer["reply"]["delivery"] == "failed"
    assert "48小时" in answer["reply"]["delivery_error"]
    assert workbench.wechat.sent == []
    status, answer = await post(agent, f"/api/conversations/{hid}/replies", body)
    assert answer["reply"]["delivery"] == "sent"
    assert [t for _, t, _ in workbench.wechat.sent] == ["您好，我是人工客服"]
    assert len(desk.replies_for(workbench.uows, hid)) == 1


@pytest.mark.asyncio
async def test_the_wechat_errors_of_replies_are_counted_in_the_workbench_metrics(
        workbench: Desk) -> None:
    def in_process_registry() -> float | None:
        return REGISTRY.get_sample_value(WECHAT_API_ERRORS, {"kind": "window_closed"})

    async def in_workbench_metrics() -> float | None:
        text = await (await workbench.clients["agent1"].get("/metrics")).text()
        return value(text, WECHAT_API_ERRORS, kind="window_closed")

    hid = handover(workbench.uows, "wx-m", "人工")
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    outside = in_process_registry()
    assert await in_workbench_metrics() == 0
    workbench.wechat.fail_next(45015)
    body = {"request_key": "m-1", "final_text": "您好，我是人工客服"}
    status, answer = await post(agent, f"/api/conversations/{hid}/replies", body)
    assert status == 201 and answer["reply"]["delivery"] == "failed"
    assert await in_workbench_metrics() == 1
    assert in_process_registry() == outside  # one registry: the app's


@pytest.mark.asyncio
async def test_a_rest_reply_waits_in_the_outbox(workbench: Desk) -> None:
    hid = handover(workbench.uows, "web-1", "人工", channel="rest")
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    status, answer = await post(agent, f"/api/conversations/{hid}/replies",
                                {"request_key": "o-1", "final_text": "在的，请讲"})
    assert status == 201 and answer["reply"]["delivery"] == "pending"
    taken = desk.take_outbox(workbench.uows, "web-1", "rest", local_now())
    assert [r.final_text for r in taken] == ["在的，请讲"]


@pytest.mark.asyncio
async def test_only_the_holder_replies_and_hand_back_resumes_the_bot(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-h", "人工")
    agent1, agent2 = await workbench.login("agent1"), await workbench.login("agent2")
    await post(agent1, f"/api/handovers/{hid}/claim")
    status, _ = await post(agent2, f"/api/conversations/{hid}/replies",
                           {"request_key": "h-1", "final_text": "我来"})
    assert status == 409
    assert (await post(agent2, f"/api/handovers/{hid}/handback"))[0] == 409
    state = await (await agent2.get(f"/api/conversations/{hid}")).json()
    assert state["suggestions"] == []  # drafts only for the holder
    status, body = await post(agent1, f"/api/handovers/{hid}/handback")
    assert status == 200 and body["handover"]["status"] == "closed"
    assert workbench.rasa.trackers["wx-h"]["paused"] is False
    status, _ = await post(agent1, f"/api/conversations/{hid}/replies",
                           {"request_key": "h-2", "final_text": "还在吗"})
    assert status == 409
    assert workbench.wechat.sent == []


@pytest.mark.asyncio
async def test_transfer_and_release(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-t", "人工")
    agent1, agent2 = await workbench.login("agent1"), await workbench.login("agent2")
    await post(agent1, f"/api/handovers/{hid}/claim")
    status, body = await post(agent1, f"/api/handovers/{hid}/transfer", {"to": "trainer1"})
    assert status == 409 and "坐席" in body["error"]
    status, body = await post(agent1, f"/api/handovers/{hid}/transfer", {"to": "agent2"})
    assert status == 200 and body["handover"]["assigned_to"] == "agent2"
    status, body = await post(agent2, f"/api/handovers/{hid}/release")
    assert status == 200 and body["handover"]["status"] == "waiting"
    assert workbench.rasa.trackers["wx-t"]["paused"] is True  # still with people, not the bot
    assert (await post(agent1, f"/api/handovers/{hid}/transfer", {}))[0] == 400


@pytest.mark.asyncio
async def test_malformed_requests_get_a_clear_error(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-m", "人工")
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    token = await csrf(agent)
    response = await agent.post(f"/api/conversations/{hid}/replies", data=b"{not json",
                                headers={"X-CSRF-Token": token,
                                         "Content-Type": "application/json"})
    assert response.status == 400 and "JSON" in (await response.json())["error"]
    status, body = await post(agent, f"/api/conversations/{hid}/replies",
                              {"request_key": "m", "final_text": 5})
    assert status == 400
    status, body = await post(agent, f"/api/conversations/{hid}/replies", {"final_text": "你好"})
    assert status == 409 and "请求编号" in body["error"]
    assert (await agent.get("/api/conversations/999999")).status == 404
    assert (await agent.get("/conversations/abc")).status == 404
    assert desk.replies_for(workbench.uows, hid) == []


@pytest.mark.asyncio
async def test_the_conversation_shows_without_history_when_rasa_is_down(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-down", "人工")
    agent = await workbench.login("agent1")
    workbench.rasa.down = True
    state = await (await agent.get(f"/api/conversations/{hid}")).json()
    assert state["rasa_error"] and state["transcript"] == []
    assert state["handover"]["id"] == hid


async def _next_event(response: Any, timeout: float = 10) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        data = ""
        while True:
            line = (await response.content.readline()).decode()
            if line.startswith("data: "):
                data += line[6:].strip()
            elif line in ("\n", "\r\n") and data:
                return json.loads(data)

    return await asyncio.wait_for(read(), timeout)


@pytest.mark.asyncio
async def test_the_queue_stream_sends_a_new_hand_over_without_reloading(workbench: Desk) -> None:
    agent = await workbench.login("agent1")
    response = await agent.get("/api/queue/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first = await _next_event(response)
    assert first["entries"] == []
    hid = await asyncio.get_running_loop().run_in_executor(
        None, handover, workbench.uows, "wx-live", "<script>alert(1)</script>")
    second = await _next_event(response)
    assert [(e["id"], e["last_message"]) for e in second["entries"]] == [
        (hid, "<script>alert(1)</script>")]  # JSON carries the text; the page sets textContent
    response.close()


@pytest.mark.asyncio
async def test_pages_escape_and_load_only_own_scripts(workbench: Desk) -> None:
    hid = handover(workbench.uows, "wx-s", "<img src=x onerror=alert(1)>")
    agent = await workbench.login("agent1")
    page = await (await agent.get(f"/conversations/{hid}")).text()
    assert "<img src=x" not in page  # customer text is never in the HTML itself
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/common.js">', '<script src="/static/conversation.js">']
    script = await (await agent.get("/static/conversation.js")).text()
    assert "innerHTML" not in script and "textContent" in await (
        await agent.get("/static/common.js")).text()
    assert (await agent.get("/static/..%2Fapp.py")).status == 404


@pytest.mark.asyncio
async def test_an_agent_sends_a_misread_message_to_the_trainers(workbench: Desk) -> None:
    from bot.trainer.inbox import get_candidate

    hid = handover(workbench.uows, "wx-k", "人工")
    workbench.rasa.customer_says("wx-k", "我那个件咋个还没得动静", "greet", 0.41)
    agent = await workbench.login("agent1")
    await post(agent, f"/api/handovers/{hid}/claim")
    state = await (await agent.get(f"/api/conversations/{hid}")).json()
    assert "delivery_delay" in state["intents"]
    [line] = [t for t in state["transcript"] if t["kind"] == "customer"]
    status, body = await post(agent, f"/api/conversations/{hid}/corrections",
                              {"ts": line["ts"], "intent": "delivery_delay"})
    assert status == 201, body
    candidate = get_candidate(workbench.uows, body["candidate"])
    assert (candidate.text, candidate.reason, candidate.predicted_intent, candidate.confidence,
            candidate.suggested_intent, candidate.reported_by) == (
        "我那个件咋个还没得动静", "corrected", "greet", 0.41, "delivery_delay", "agent1")
    # A message that is not in the conversation, or an intent not in the domain, is refused.
    assert (await post(agent, f"/api/conversations/{hid}/corrections",
                       {"ts": 123.0, "intent": "delivery_delay"}))[0] == 404
    assert (await post(agent, f"/api/conversations/{hid}/corrections",
                       {"ts": line["ts"], "intent": "no_such_intent"}))[0] == 400
    supervisor = await workbench.login("super1")
    assert (await post(supervisor, f"/api/conversations/{hid}/corrections",
                       {"ts": line["ts"], "intent": "delivery_delay"}))[0] == 403
