"""Sending the queued notices (the outbox of `bot.store.proactive`) to VIP customers on WeChat.

Only with consent: a notice whose customer withdrew consent, opted out (replied 退订) or has
no WeChat bound is skipped. Nothing goes out in the quiet hours (it waits for the morning),
nor more than the daily cap per customer (the rest are skipped, and say why). Every send is
logged (openid masked) and written to the task's history.

Never twice: a notice is sent only by whoever moved it from pending to sending, and the
outbox row (unique key) is the only place a notice comes from. A refusal (45015/45047, an
error code) fails it for good; the client giving up on a failure that delivered nothing
(`SendFailed`: busy answers, connections never made) sends it back to pending for a later try,
at most ``max_attempts`` in all. A send that may have reached WeChat (`SendUncertain`: a
timeout or a connection lost after the request was written, HTTP 5xx; the client is asked not
to retry those itself) is marked unknown, "may have been sent", and never tried again; so is a
send interrupted before its outcome was recorded (the process died).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.channels.wechat_api import (
    SendFailed,
    SendUncertain,
    WeChatApiError,
    WindowClosed,
    mask_openid,
)
from bot.proactive.config import ProactiveConfig
from bot.store.models import as_store_time
from bot.store.proactive import (
    FAILED,
    PENDING,
    SENT,
    UNKNOWN,
    claim_notice,
    due_notices,
    finish_notice,
    interrupted_sends,
    sent_on,
    skip_notice,
)
from bot.store.uow import UowFactory

logger = logging.getLogger(__name__)

# A send claimed this long ago and never finished was interrupted (the client's own retries
# end well within it).
INTERRUPTED_AFTER = timedelta(minutes=10)
# When a failed send is tried again.
RETRY_AFTER = timedelta(minutes=5)


class TextSender(Protocol):
    """What the sender needs of the WeChat customer-service API client."""

    async def send_text(self, openid: str, content: str, idempotency_key: str,
                        retry_uncertain: bool = True) -> None:
        """Send `content` to `openid`, once per `idempotency_key` within the process; with
        `retry_uncertain=False` a failure that may have delivered it raises `SendUncertain`."""
        ...


@dataclass
class SendReport:
    """What one round of sending did (notice keys)."""

    sent: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)  # may have been sent: never retried
    held: bool = False  # quiet hours: nothing was sent
    interrupted: int = 0


async def send_due(uow_factory: UowFactory, client: TextSender, config: ProactiveConfig,
                   now: datetime) -> SendReport:
    """Send the notices that are due at `now` (see the module docstring for the rules)."""
    now = as_store_time(now)
    report = SendReport()
    report.interrupted = await asyncio.to_thread(interrupted_sends, uow_factory,
                                                 now - INTERRUPTED_AFTER)
    if config.quiet.contains(now):
        report.held = True
        return report
    for notice in await asyncio.to_thread(due_notices, uow_factory, now):
        if not notice.may_notify or not notice.openid:
            await asyncio.to_thread(skip_notice, uow_factory, notice.id,
                                    "客户未同意接收通知、已退订或未绑定微信")
            report.skipped.append(notice.key)
            continue
        already = await asyncio.to_thread(sent_on, uow_factory, notice.vip_id, now.date())
        if already >= config.daily_cap:
            await asyncio.to_thread(skip_notice, uow_factory, notice.id,
                                    f"已达每日通知上限（{config.daily_cap} 条）")
            logger.info("proactive notice %s skipped: daily cap of customer %d reached",
                        notice.key, notice.vip_id)
            report.skipped.append(notice.key)
            continue
        if not await asyncio.to_thread(claim_notice, uow_factory, notice.id, now):
            continue  # another sender has it
        who = mask_openid(notice.openid)
        try:
            await client.send_text(notice.openid, notice.text, idempotency_key=notice.key,
                                   retry_uncertain=False)
        except WindowClosed as exc:
            logger.warning("proactive notice %s to %s refused (%s)", notice.key, who, exc.errcode)
            await asyncio.to_thread(finish_notice, uow_factory, notice.id, FAILED, now,
                                    f"微信拒绝（{exc.errcode}）：客户48小时内未互动或已取消关注")
            report.failed.append(notice.key)
        except SendUncertain as exc:
            logger.error("proactive notice %s to %s may have been sent (%s); marked unknown, "
                         "not retried", notice.key, who, exc.errmsg)
            await asyncio.to_thread(finish_notice, uow_factory, notice.id, UNKNOWN, now,
                                    exc.errmsg)
            report.uncertain.append(notice.key)
        except SendFailed as exc:
            attempts = notice.attempts + 1
            if attempts >= config.max_attempts:
                logger.error("proactive notice %s to %s failed %d times: %s", notice.key, who,
                             attempts, exc.errmsg)
                await asyncio.to_thread(finish_notice, uow_factory, notice.id, FAILED, now,
                                        f"发送失败 {attempts} 次：{exc.errmsg}")
                report.failed.append(notice.key)
            else:
                logger.warning("proactive notice %s to %s failed (%s); retrying later",
                               notice.key, who, exc.errmsg)
                await asyncio.to_thread(finish_notice, uow_factory, notice.id, PENDING, now,
                                        exc.errmsg, now + RETRY_AFTER)
                report.retry.append(notice.key)
        except WeChatApiError as exc:
            logger.error("proactive notice %s to %s refused: %s", notice.key, who, exc)
            await asyncio.to_thread(finish_notice, uow_factory, notice.id, FAILED, now,
                                    f"微信返回错误 {exc.errcode}")
            report.failed.append(notice.key)
        else:
            logger.info("proactive notice %s sent to %s", notice.key, who)
            await asyncio.to_thread(finish_notice, uow_factory, notice.id, SENT, now)
            report.sent.append(notice.key)
    return report
