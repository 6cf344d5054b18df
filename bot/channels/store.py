"""The operational store as the channels (inside the Rasa server) use it: opened once per URL."""
from __future__ import annotations

import threading
from typing import Any

from bot.store.uow import UowFactory

_factories: dict[str, UowFactory] = {}
_lock = threading.Lock()


def channel_uows(database_url: str) -> UowFactory:
    """The unit-of-work factory over `database_url` (migrated to the newest schema once)."""
    with _lock:
        factory = _factories.get(database_url)
        if factory is None:
            from bot.store.db import create_schema, make_engine, make_session_factory
            from bot.store.uow import uow_factory

            engine = make_engine(database_url)
            create_schema(engine)
            factory = _factories[database_url] = uow_factory(make_session_factory(engine))
        return factory


async def held_by_agent(request: Any, sender_id: str) -> bool:
    """True when an agent holds this conversation (its tracker is paused): the bot is silent.

    `request` is the Sanic request of a channel inside the Rasa server.
    """
    agent = getattr(request.app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return False
    tracker = await store.retrieve(sender_id)
    return tracker is not None and tracker.is_paused()


async def count_message(uows: UowFactory, sender_id: str, channel: str) -> None:
    """Count a customer message for bot containment; a store failure is logged, never raised."""
    import asyncio
    import logging

    from bot.config import local_now
    from bot.store import desk
    from bot.text.masking import mask_text

    try:
        await asyncio.get_running_loop().run_in_executor(
            None, desk.count_conversation, uows, sender_id, channel, local_now())
    except Exception:  # noqa: BLE001 - statistics must never cost a customer their answer
        logging.getLogger(__name__).exception("message of %s not counted", mask_text(sender_id))


async def note_for_agent(uows: UowFactory, sender_id: str, text: str) -> None:
    """Show a customer message to the agent holding the conversation (the bot stays silent).

    Runs in the executor; a store failure is logged, never raised to the channel.
    """
    import asyncio
    import logging

    from bot.config import local_now
    from bot.store import desk
    from bot.text.masking import mask_text

    try:
        await asyncio.get_running_loop().run_in_executor(
            None, desk.note_customer_message, uows, sender_id, text, local_now())
    except Exception:  # noqa: BLE001 - the customer's turn must not fail on the queue
        logging.getLogger(__name__).exception("message of %s for its agent not noted in the queue",
                                              mask_text(sender_id))


# A VIP customer's reply that stops the proactive notices (bot.proactive), and the answer.
OPT_OUT_WORDS = frozenset({"退订", "TD", "td"})
OPTED_OUT_TEXT = "已为您退订邮件异常主动通知，今后不再发送。如需恢复，请联系您的客户经理。"


async def opt_out_of_notices(uows: UowFactory, openid: str) -> bool:
    """Opt the VIP customer bound to `openid` out of proactive notices (they replied 退订).

    False when no VIP customer has that openid (the text then goes to the bot as usual) or
    the store failed (logged).
    """
    import asyncio
    import logging

    from bot.config import local_now
    from bot.store.proactive import opt_out

    try:
        return await asyncio.get_running_loop().run_in_executor(
            None, opt_out, uows, openid, local_now())
    except Exception:  # noqa: BLE001 - the customer still gets an answer from the bot
        logging.getLogger(__name__).exception("opt-out of a WeChat customer not recorded")
        return False
