"""Deliver an agent's reply through the conversation's channel.

* ``wechat``: the customer-service API (bot/channels/wechat_api.py), split to WeChat's length
  limit, keyed by the reply's request key so a retry does not send a part twice.
* ``rest``: a pull channel; the reply waits in the outbox until the customer's client fetches
  it from ``GET /webhooks/rest/outbox?sender=…`` (bot/channels/rest.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from bot.channels import senders
from bot.channels.wechat_api import WeChatClient, WindowClosed
from bot.channels.wechat_splitting import split_for_wechat
from bot.config import Settings
from bot.metrics import WECHAT_API_ERRORS, Metrics
from bot.store.desk import ReplyView
from bot.text.masking import mask_text

logger = logging.getLogger(__name__)

PULL_CHANNELS = frozenset({"rest"})


@dataclass(frozen=True)
class Outcome:
    """What became of a delivery: sent now, waiting in an outbox, or failed (with why)."""

    sent: bool
    queued: bool = False
    error: str = ""


class Deliverer:
    """Sends agents' replies; one per workbench process (it keeps the WeChat token).

    Args:
        settings: the WeChat account and API address.
        registry: where the WeChat API errors of the replies are counted (the workbench's
            ``/metrics`` registry, ``keys.METRICS``); the counter is registered there now.
    """

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self._metrics = Metrics(registry, only={WECHAT_API_ERRORS})
        self._wechat: WeChatClient | None = None

    def _client(self) -> WeChatClient:
        if self._wechat is None:
            s = self.settings
            self._wechat = WeChatClient(s.wechat_app_id, s.wechat_app_secret,
                                        base_url=s.wechat_api_base_url, redis_url=s.redis_url,
                                        metrics=self._metrics)
        return self._wechat

    async def close(self) -> None:
        """Close the WeChat client's HTTP session, if one was opened (on cleanup)."""
        if self._wechat is not None:
            await self._wechat.close()

    async def deliver(self, reply: ReplyView) -> Outcome:
        """Deliver `reply.final_text` to `reply.sender_id` on `reply.channel`."""
        text = reply.final_text or ""
        if reply.channel in PULL_CHANNELS:
            return Outcome(sent=False, queued=True)
        if reply.channel != "wechat":
            return Outcome(False, error=f"渠道 {reply.channel} 不能发送人工回复")
        # A conversation from before ids were namespaced is the bare openid.
        namespace, openid = senders.split(reply.sender_id)
        if namespace not in (None, "wechat"):
            logger.error("agent reply %s not delivered: %s is not a WeChat conversation",
                         reply.id, mask_text(reply.sender_id))
            return Outcome(False, error="这个会话不是微信会话，无法通过微信发送")
        try:
            await self._client().send_texts(openid, split_for_wechat([text]),
                                            key_prefix=reply.request_key)
        except WindowClosed as exc:
            logger.warning("agent reply %s not delivered to %s: window closed (%s)",
                           reply.id, mask_text(reply.sender_id), exc.errcode)
            return Outcome(False, error="客户超过48小时没有发消息（或客服消息额度已用完），"
                                        "微信不允许主动发送，请电话联系客户")
        except Exception as exc:  # noqa: BLE001 - any failure is reported to the agent and logged
            logger.exception("agent reply %s not delivered to %s", reply.id,
                             mask_text(reply.sender_id))
            return Outcome(False, error=f"微信发送失败（{exc.__class__.__name__}），可稍后重试")
        return Outcome(sent=True)
