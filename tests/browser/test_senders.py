"""A customer whose id needs encoding (Chinese, spaces, %, /, <>) is claimed in the browser: the
bot pauses for that customer, not for some other, empty conversation, and the agent sees the
customer's own transcript (issue 13, finding 3)."""
from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from bot.channels.senders import conversation_id
from bot.launcher import post_json
from tests.browser.conftest import Live


def rasa_tracker(live: Live, conversation: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{live.rasa_port}/conversations/{conversation}/tracker",
        headers={"X-Rasa-Token": live.rasa_token})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("sender", ["张 三%/<>"])
def test_claiming_an_encoded_conversation_pauses_that_customer(agent_page: Page, live: Live,
                                                              sender: str) -> None:
    page, conversation = agent_page, conversation_id("rest", sender)
    for text in ("EA000000005CN到哪了", "我要转人工"):
        status, _ = post_json(live.stack.webhook, {"sender": sender, "message": text})
        assert status == 200
    page.goto(live.url("/queue"))
    row = page.locator(f"[data-testid=queue-row][data-sender='{conversation}']")
    expect(row).to_be_visible()
    row.get_by_test_id("claim").click()
    expect(page.get_by_test_id("handover-status")).to_contain_text("agent")
    # The agent sees this customer's own words ...
    expect(page.get_by_test_id("msg-customer").filter(has_text="EA000000005CN到哪了")).to_be_visible()
    # ... Rasa's tracker of exactly this conversation is paused ...
    tracker = rasa_tracker(live, conversation)
    assert tracker["sender_id"] == conversation and tracker["paused"] is True
    # ... and the bot is silent for the customer while the agent holds it.
    status, replies = post_json(live.stack.webhook, {"sender": sender, "message": "有人吗"})
    assert (status, replies) == (200, [])
    page.get_by_test_id("handback").click()
    expect(page.get_by_test_id("handover-status")).to_have_text("已交还")
    assert rasa_tracker(live, conversation)["paused"] is False
