"""A telephone call in the browser: the agent types what the caller says, reads the real
model's reading, the trail and a suggested answer, edits it, opens a work order with the 11183
deadline and finds it in the list; an upload with one bad row; 403 without the agent role.
Against the real Rasa model and workbench (tests/browser/conftest.py)."""
from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine

from bot.store import calls as call_store
from bot.store.db import make_engine, make_session_factory
from bot.store.uow import UowFactory, uow_factory
from tests.browser.conftest import Live, login

CALLER = "13900007777"


def _store(live: Live) -> tuple[Engine, UowFactory]:
    engine = make_engine(live.database_url)
    return engine, uow_factory(make_session_factory(engine))


def test_a_call_from_the_callers_words_to_a_work_order(agent_page: Page, live: Live) -> None:
    page = agent_page
    page.goto(live.url("/calls"))
    page.get_by_test_id("call-phone").fill(CALLER)
    page.get_by_test_id("call-line").select_option("11183")
    page.get_by_test_id("call-start").click()
    expect(page).to_have_url(re.compile(r"/calls/\d+$"))
    call_id = int(page.url.rsplit("/", 1)[1])

    page.get_by_test_id("line-text").fill("EA000000005CN 包裹破了")
    page.get_by_test_id("line-text").press("Enter")
    line = page.get_by_test_id("line").first
    expect(line).to_contain_text("EA000000005CN 包裹破了")
    expect(line.get_by_test_id("line-intent")).to_contain_text("damaged_item")
    expect(page.get_by_test_id("trail")).to_be_visible()
    expect(page.get_by_test_id("mail-number")).to_contain_text("EA000000005CN")

    # The agent edits a suggested answer and uses it: recorded as edited, with its distance.
    suggestion = page.get_by_test_id("suggestion").first
    expect(suggestion).to_be_visible()
    box = suggestion.get_by_test_id("suggestion-text")
    box.fill(box.input_value() + "请您放心。")
    suggestion.get_by_test_id("suggestion-accept").click()
    reply = page.get_by_test_id("reply").first
    expect(reply).to_have_attribute("data-decision", "edited")
    expect(reply).to_contain_text("改动 5 字")
    engine, uows = _store(live)
    try:
        [stored] = call_store.get_call(uows, call_id).replies
        assert (stored.decision, stored.edit_distance) == ("edited", 5)
    finally:
        engine.dispose()

    # A work order from the call: prefilled, with the 11183 hotline's deadline before saving.
    page.get_by_test_id("order-form-link").click()
    expect(page).to_have_url(re.compile(rf"/orders/new\?call={call_id}$"))
    expect(page.get_by_test_id("order-channel")).to_have_value("11183")
    expect(page.get_by_test_id("order-category")).to_have_value("damaged")
    expect(page.get_by_test_id("order-mail")).to_have_value("EA000000005CN")
    expect(page.get_by_test_id("deadline-rule")).to_have_text("24 小时（自然时间）")
    page.get_by_test_id("order-save").click()
    expect(page).to_have_url(re.compile(r"/orders/GD\d+\?done=(created|linked)$"))
    number = page.get_by_test_id("order-number").inner_text()
    expect(page.get_by_test_id("order-fields")).to_contain_text("11183客户查询投诉")

    page.goto(live.url("/orders?channel=11183"))
    expect(page.locator(f"[data-testid=order-row][data-number='{number}']")).to_be_visible()


def test_an_upload_with_one_bad_row_imports_the_rest(agent_page: Page, live: Live,
                                                    tmp_path: Path) -> None:
    export = tmp_path / "pdd.csv"
    export.write_text(
        "工单编号,受理时间,邮件号,联系电话,投诉类别,问题描述\n"
        "PDD-B1,2025-06-10 08:00,,13800001111,延误,三天没动\n"
        "PDD-B2,2025-06-10 08:30,,13800002222,外星类别,说不清\n"
        "PDD-B3,2025-06-10 09:00,,13800003333,态度,快递员很凶\n", encoding="utf-8")
    page = agent_page
    page.goto(live.url("/orders/upload"))
    page.get_by_test_id("upload-channel").select_option("pinduoduo")
    page.get_by_test_id("upload-file").set_input_files(str(export))
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("count-imported")).to_have_text("2")
    expect(page.get_by_test_id("count-rejected")).to_have_text("1")
    rejected = page.get_by_test_id("rejected-row")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("第 3 行")
    expect(rejected).to_contain_text("PDD-B2")


def test_an_account_without_the_agent_role_gets_403_on_the_call_desk(page: Page,
                                                                     live: Live) -> None:
    login(page, live.base_url, "trainer", "demo-trainer-2026")
    response = page.goto(live.url("/calls"))
    assert response is not None and response.status == 403
    expect(page.locator("body")).not_to_contain_text("开始记录来电")
