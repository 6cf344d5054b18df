"""Notices to VIP customers through the real API client against the fake WeChat API (real HTTP):
consent, quiet hours, the daily cap, opt-out, a failing API retried and sent once."""
from __future__ import annotations

import socket
from dataclasses import replace
from datetime import datetime, timedelta
from typing import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from bot.channels.wechat_api import WeChatClient
from bot.proactive.__main__ import format_scan
from bot.proactive.config import ProactiveConfig
from bot.proactive.notices import RETRY_AFTER, send_due
from bot.proactive.scan import scan
from bot.store.models import ProactiveNotice, ProactiveTaskEvent
from bot.store.proactive import (
    VipRecord,
    WatchEntry,
    opt_out,
    save_vips,
    update_vip,
    vip_ids_by_name,
    watch,
)
from bot.store.uow import UowFactory
from bot.workorders.policy import DeadlinePolicy
from tests.channels.fake_wechat import FakeWeChat
from tests.proactive.conftest import NOW, add_mail

OPENID = "oVIP_consenting_customer_01"
KM = "昆明邮区中心局"
STUCK = [(60, "POSTED", "曲靖市麒麟区邮政分公司南宁营业部", "已收寄"), (50, "ARRIVED", KM, "已到达")]


@pytest_asyncio.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


@pytest_asyncio.fixture
async def client(wechat: FakeWeChat) -> AsyncIterator[WeChatClient]:
    api = WeChatClient(wechat.app_id, wechat.app_secret, base_url=wechat.base_url,
                       timeout_s=2.0, backoff_s=0.01, max_attempts=2)
    yield api
    await api.close()


def _queue(uows: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy, mails: int,
           at: datetime = NOW, consent: bool = True) -> int:
    """A consenting VIP customer with `mails` stuck mail, scanned at `at`; returns its id."""
    save_vips(uows, [VipRecord("云南白药电商", "李华", "13800001111", "五华区邮政分公司",
                               "王经理", openid=OPENID, consent=consent)], at)
    vip_id = vip_ids_by_name(uows)["云南白药电商"]
    numbers = [f"98{i:011d}" for i in range(mails)]
    for number in numbers:
        add_mail(uows, number, STUCK, now=at)
    watch(uows, [WatchEntry(n, "vip", vip_id=vip_id) for n in numbers], at)
    scan(uows, config, policy, at)
    return vip_id


def _statuses(uows: UowFactory) -> list[str]:
    with uows() as uow:
        return list(uow.session.execute(select(ProactiveNotice.status)
                                        .order_by(ProactiveNotice.id)).scalars())


@pytest.mark.asyncio
async def test_a_notice_is_sent_once_masked_and_logged_in_the_tasks_history(
        uows, config, policy, wechat, client) -> None:
    _queue(uows, config, policy, 1)
    report = await send_due(uows, client, config, NOW)
    assert report.sent == ["task:1:opened"]
    [(openid, text, _)] = wechat.sent
    assert openid == OPENID and "9800000000000" in text and "退订" in text
    again = await send_due(uows, client, config, NOW + timedelta(minutes=5))
    assert again.sent == [] and len(wechat.sent) == 1
    assert _statuses(uows) == ["sent"]
    with uows() as uow:
        actions = list(uow.session.execute(select(ProactiveTaskEvent.action)).scalars())
    assert actions == ["opened", "notice"]


@pytest.mark.asyncio
async def test_without_consent_nothing_is_queued_and_withdrawn_consent_skips(
        uows, config, policy, wechat, client) -> None:
    _queue(uows, config, policy, 1, consent=False)
    assert _statuses(uows) == []
    # Consent given, a notice queued, then withdrawn before it went out.
    with uows() as uow:
        uow.session.execute(update(ProactiveNotice).values(status="skipped"))
        uow.commit()
    vip_id = vip_ids_by_name(uows)["云南白药电商"]
    update_vip(uows, vip_id, NOW, consent=True)
    add_mail(uows, "EA000000005CN", STUCK)
    watch(uows, [WatchEntry("EA000000005CN", "vip", vip_id=vip_id)], NOW)
    scan(uows, config, policy, NOW)
    update_vip(uows, vip_id, NOW, consent=False)
    report = await send_due(uows, client, config, NOW)
    assert report.skipped and wechat.sent == []


@pytest.mark.asyncio
async def test_quiet_hours_hold_a_notice_until_the_morning(
        uows, config, policy, wechat, client) -> None:
    night = datetime(2025, 6, 10, 22, 30)
    _queue(uows, config, policy, 1, at=night)
    assert (await send_due(uows, client, config, night)).held
    early = await send_due(uows, client, config, datetime(2025, 6, 11, 7, 59))
    assert early.held and wechat.sent == []
    morning = await send_due(uows, client, config, datetime(2025, 6, 11, 8, 0))
    assert len(morning.sent) == 1 and len(wechat.sent) == 1


@pytest.mark.asyncio
async def test_no_more_than_the_daily_cap_per_customer(
        uows, config, policy, wechat, client) -> None:
    capped = replace(config, daily_cap=2)
    _queue(uows, capped, policy, 3)
    report = await send_due(uows, client, capped, NOW)
    assert len(report.sent) == 2 and len(report.skipped) == 1
    assert len(wechat.sent) == 2
    assert sorted(_statuses(uows)) == ["sent", "sent", "skipped"]


@pytest.mark.asyncio
async def test_opting_out_skips_what_is_queued_and_stops_new_notices(
        uows, config, policy, wechat, client) -> None:
    vip_id = _queue(uows, config, policy, 1)
    assert opt_out(uows, OPENID, NOW) is True
    assert opt_out(uows, "oSomeoneWhoIsNoVip_000001", NOW) is False
    assert (await send_due(uows, client, config, NOW)).sent == []
    assert _statuses(uows) == ["skipped"] and wechat.sent == []
    add_mail(uows, "EA000000005CN", STUCK)
    watch(uows, [WatchEntry("EA000000005CN", "vip", vip_id=vip_id)], NOW)
    assert scan(uows, config, policy, NOW).queued == 0


@pytest.mark.asyncio
async def test_a_failing_api_is_retried_later_and_the_notice_is_sent_once(
        uows, config, policy, wechat, client) -> None:
    _queue(uows, config, policy, 1)
    wechat.fail_next(-1, times=2)  # busy twice: the client gives up (max_attempts=2)
    first = await send_due(uows, client, config, NOW)
    assert first.retry == ["task:1:opened"] and wechat.sent == []
    assert (await send_due(uows, client, config, NOW + timedelta(minutes=1))).sent == []
    second = await send_due(uows, client, config, NOW + RETRY_AFTER)
    assert second.sent == ["task:1:opened"]
    await send_due(uows, client, config, NOW + 2 * RETRY_AFTER)
    assert len(wechat.sent) == 1 and wechat.send_attempts == 3
    assert _statuses(uows) == ["sent"]


@pytest.mark.asyncio
async def test_a_refusal_fails_for_good_and_an_interrupted_send_is_never_repeated(
        uows, config, policy, wechat, client) -> None:
    _queue(uows, config, policy, 2)
    wechat.fail_next(45015)
    report = await send_due(uows, client, config, NOW)
    assert len(report.failed) == 1 and len(report.sent) == 1
    # A sender that died between claiming and recording: the row stays "sending".
    with uows() as uow:
        uow.session.execute(update(ProactiveNotice).where(ProactiveNotice.status == "sent")
                            .values(status="sending"))
        uow.commit()
    later = await send_due(uows, client, config, NOW + timedelta(hours=1))
    assert later.interrupted == 1 and later.sent == []
    assert sorted(_statuses(uows)) == ["failed", "unknown"]
    assert len(wechat.sent) == 1


@pytest.mark.asyncio
async def test_a_send_that_may_have_been_delivered_is_marked_unknown_and_never_repeated(
        uows, config, policy, wechat) -> None:
    _queue(uows, config, policy, 1)
    # WeChat delivers it, but the answer comes after the client gave up (a read timeout).
    wechat.delay_next(1.0, deliver_first=True)
    api = WeChatClient(wechat.app_id, wechat.app_secret, base_url=wechat.base_url,
                       timeout_s=0.3, backoff_s=0.01, max_attempts=3)
    try:
        first = await send_due(uows, api, config, NOW)
        assert first.uncertain == ["task:1:opened"] and first.retry == [] and first.sent == []
        assert "may have been sent: 1" in format_scan(scan(uows, config, policy, NOW), first)
        for later in (NOW + RETRY_AFTER, NOW + 2 * RETRY_AFTER, NOW + timedelta(days=1)):
            again = await send_due(uows, api, config, later)
            assert again.sent == [] and again.retry == [] and again.uncertain == []
    finally:
        await api.close()
    assert wechat.send_attempts == 1 and len(wechat.sent) == 1
    assert _statuses(uows) == ["unknown"]
    with uows() as uow:
        history = list(uow.session.execute(
            select(ProactiveTaskEvent.detail).where(ProactiveTaskEvent.action == "notice"))
            .scalars())
    assert len(history) == 1 and "可能已送达" in history[0] and "不再重发" in history[0]


@pytest.mark.asyncio
async def test_a_refused_connection_is_retried_at_the_next_scan_and_sent_once(
        uows, config, policy, wechat, client) -> None:
    _queue(uows, config, policy, 1)
    with socket.socket() as closed:  # a port nobody listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = WeChatClient(wechat.app_id, wechat.app_secret,
                               base_url=f"http://127.0.0.1:{port}", backoff_s=0.01,
                               max_attempts=2)
    try:
        first = await send_due(uows, unreachable, config, NOW)
    finally:
        await unreachable.close()
    assert first.retry == ["task:1:opened"] and first.uncertain == []
    assert _statuses(uows) == ["pending"] and wechat.send_attempts == 0
    second = await send_due(uows, client, config, NOW + RETRY_AFTER)
    assert second.sent == ["task:1:opened"]
    await send_due(uows, client, config, NOW + 2 * RETRY_AFTER)
    assert wechat.send_attempts == 1 and len(wechat.sent) == 1
    assert _statuses(uows) == ["sent"]


@pytest.mark.asyncio
async def test_the_loop_keeps_one_client_and_one_token_for_all_its_rounds(
        uows, config, policy, wechat) -> None:
    import asyncio

    from bot.config import Settings
    from bot.proactive.__main__ import rounds

    settings = replace(Settings(), wechat_app_id=wechat.app_id,
                       wechat_app_secret=wechat.app_secret, wechat_api_base_url=wechat.base_url)
    save_vips(uows, [VipRecord("云南白药电商", "李华", "13800001111", "五华区邮政分公司",
                               "王经理", openid=OPENID, consent=True)], NOW)
    vip_id = vip_ids_by_name(uows)["云南白药电商"]
    made: list[WeChatClient] = []

    def make_client(s: Settings) -> WeChatClient:
        made.append(WeChatClient(s.wechat_app_id, s.wechat_app_secret,
                                 base_url=s.wechat_api_base_url, timeout_s=2.0))
        return made[-1]

    add_mail(uows, "9800000000001", STUCK)
    watch(uows, [WatchEntry("9800000000001", "vip", vip_id=vip_id)], NOW)
    # Three rounds, a few milliseconds apart: the first opens the task and sends its notice.
    done = await rounds(uows, settings, config, policy, 0.0001, asyncio.Event(), limit=3,
                        make_client=make_client, clock=lambda: NOW)
    assert done == 3 and len(made) == 1  # one client for every round, closed at the end
    assert [openid for openid, _, _ in wechat.sent] == [OPENID] and wechat.token_fetches == 1
    assert made[0]._session is None or made[0]._session.closed


@pytest.mark.asyncio
async def test_the_loop_stops_when_told_between_rounds(uows, config, policy) -> None:
    import asyncio

    from bot.config import Settings
    from bot.proactive.__main__ import rounds

    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    done = await rounds(uows, Settings(), config, policy, 10.0, stop)  # a round every 10 min
    assert done == 1
