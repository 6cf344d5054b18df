"""An agent's day in the browser: the live queue, a conversation, suggested replies, hand back,
and a work order from feedback to closing — against the real Rasa model, action server,
WeChat channel (with the fake WeChat API) and workbench."""
from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Callable

from playwright.sync_api import Page, expect

from bot.launcher import REST_TOKEN_HEADER, post_json
from tests.browser.conftest import Live

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def wait_for(check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def sent_to(live: Live, openid: str) -> list[str]:
    return [text for who, text, _ in live.wechat.sent if who == openid]


def test_a_wechat_conversation_from_hand_over_to_hand_back(agent_page: Page, live: Live) -> None:
    page, openid = agent_page, "o-browser-desk-1"
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live.url("/queue"))
    expect(page.get_by_test_id("live-state")).to_have_text("实时")

    # The customer asks for a person on WeChat: the row appears without reloading the page.
    wechat = live.wechat_sim()
    assert "人工" in (wechat.say(openid, "我要转人工客服").text or "")
    row = page.locator(f"[data-testid=queue-row][data-sender='wechat:{openid}']")
    expect(row).to_be_visible()
    expect(row.get_by_test_id("last-message")).to_have_text("我要转人工客服")

    # Claiming opens the conversation; the bot is paused for this customer.
    row.get_by_test_id("claim").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+$"))
    expect(page.get_by_test_id("handover-status")).to_contain_text("agent")
    expect(page.get_by_test_id("suggestions").get_by_test_id("suggestion").first).to_be_visible()

    # While the agent holds it the bot stays silent, and the message shows with its reading.
    before = len(live.wechat.sent)
    reply = wechat.say(openid, "EA000000005CN到哪了")
    assert reply.status == 200 and not reply.text, reply
    customer = page.get_by_test_id("msg-customer").filter(has_text="EA000000005CN到哪了")
    expect(customer).to_be_visible()
    expect(customer.get_by_test_id("reading")).to_contain_text("track_mail")
    time.sleep(1.0)
    assert len(live.wechat.sent) == before and not sent_to(live, openid), live.wechat.sent

    # A status answer is offered for that mail; the agent edits it and sends it.
    status = page.locator("[data-testid=suggestion][data-kind=status]")
    expect(status).to_contain_text("EA000000005CN")
    box = status.locator("textarea")
    edited = box.input_value() + "我这边已经帮您催了一下投递员。"
    box.fill(edited)
    status.get_by_test_id("send-suggestion").click()
    assert wait_for(lambda: sent_to(live, openid)), "the reply never reached WeChat"
    assert sent_to(live, openid) == [edited]  # exactly that text, once
    record = page.get_by_test_id("reply-row").filter(has_text="修改后发送")
    expect(record).to_contain_text(f"改动 {len('我这边已经帮您催了一下投递员。')} 字")
    expect(record).to_contain_text("已送达")
    expect(page.get_by_test_id("msg-agent")).to_contain_text("我这边已经帮您催了一下投递员")

    # Handed back, the bot answers this customer again.
    page.get_by_test_id("handback").click()
    expect(page.get_by_test_id("handover-status")).to_have_text("已交还")
    answer = wechat.say(openid, "EA000000005CN到哪了")
    assert "运输中" in (answer.text or ""), answer
    assert dialogs == []


def test_what_a_customer_wrote_is_shown_as_text(agent_page: Page, live: Live) -> None:
    page, sender = agent_page, "web-browser-xss"
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for text in (XSS_SCRIPT, XSS_IMG, "转人工"):
        status, _ = post_json(live.stack.webhook, {"sender": sender, "message": text})
        assert status == 200
    page.goto(live.url("/queue"))
    row = page.locator(f"[data-testid=queue-row][data-sender='rest:{sender}']")
    expect(row).to_be_visible()
    row.get_by_text("查看").click()
    transcript = page.get_by_test_id("transcript")
    expect(transcript.get_by_text(XSS_SCRIPT, exact=True)).to_be_visible()
    expect(transcript.get_by_text(XSS_IMG, exact=True)).to_be_visible()
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#transcript script").count() == 0
    assert dialogs == []

    # While claimed, the REST channel answers this customer with silence, not an error text.
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("handover-status")).to_contain_text("agent")
    status, replies = post_json(live.stack.webhook, {"sender": sender, "message": "有人吗"})
    assert (status, replies) == (200, [])
    page.get_by_test_id("own-text").fill("在的，请问有什么可以帮您？")
    page.get_by_test_id("send-own").click()
    expect(page.get_by_test_id("reply-row").filter(has_text="自己写")).to_contain_text(
        "等待客户端取走")
    outbox = urllib.request.Request(
        f"http://127.0.0.1:{live.rasa_port}/webhooks/rest/outbox?sender={sender}",
        headers={REST_TOKEN_HEADER: live.stack.rest_token})
    with urllib.request.urlopen(outbox, timeout=10) as r:
        body = json.loads(r.read())
    assert [m["text"] for m in body] == ["在的，请问有什么可以帮您？"]
    page.get_by_test_id("handback").click()
    expect(page.get_by_test_id("handover-status")).to_have_text("已交还")


def test_a_work_order_goes_through_feedback_callback_and_closing(agent_page: Page,
                                                                  live: Live) -> None:
    page = agent_page
    page.clock.install()  # the page's timers run on a clock the test moves
    page.goto(live.url("/orders"))
    rows = page.get_by_test_id("order-row")
    expect(rows.first).to_be_visible()
    countdown = rows.first.get_by_test_id("countdown")
    expect(countdown).not_to_have_text("")
    first = countdown.text_content()
    page.clock.run_for("01:05:00")  # the countdowns tick by themselves, without a reload
    expect(countdown).not_to_have_text(first or "")

    # An open order still new: start, feedback, callback satisfied, close.
    page.goto(live.url("/orders?status=new"))
    rows.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/orders/GD\d+$"))
    number = page.url.rsplit("/", 1)[1]
    status = page.get_by_test_id("order-status")
    expect(status).to_have_text("待处理")
    page.get_by_test_id("action-start").click()
    expect(status).to_have_text("处理中")
    page.locator("form[action$='/feedback'] textarea").fill("已联系投递部，明天上午优先投递。")
    page.get_by_test_id("action-feedback").click()
    expect(status).to_have_text("已反馈")
    page.get_by_test_id("callback-satisfied").check()
    page.get_by_test_id("action-callback").click()
    expect(status).to_have_text("已回访")
    page.get_by_test_id("action-close").click()
    expect(status).to_have_text("已结案")
    history = page.get_by_test_id("history-row")
    for step in ("开始处理", "反馈客户", "回访", "结案"):
        expect(history.filter(has_text=step).filter(has_text="agent").first).to_be_visible()
    expect(history.filter(has_text="已联系投递部，明天上午优先投递。")).to_have_count(1)
    assert number.startswith("GD")
