"""The workbench's client of the Rasa server's HTTP API (token required).

It reads a conversation's tracker, pauses the bot for a customer while an agent holds the
conversation (Rasa's ``pause`` event: the customer's messages are still read and logged, with
the bot's reading, but no action runs), resumes it when the agent hands back, and writes what
an agent sent into the tracker as a ``bot`` event marked with the agent's name.
"""
from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot.channels import senders
from bot.config import RASA_TOKEN_HEADER as TOKEN_HEADER

logger = logging.getLogger(__name__)


class RasaUnavailable(RuntimeError):
    """The Rasa server could not be reached or refused the request."""


class RasaClient:
    """Calls to one Rasa server.

    Args:
        base_url: e.g. http://127.0.0.1:5005.
        token: the server's API token, sent in the ``X-Rasa-Token`` header.
        timeout_s: per request.
    """

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # The token goes in a header, never in the URL (URLs end up in logs).
            self._session = aiohttp.ClientSession(timeout=self._timeout,
                                                  headers={TOKEN_HEADER: self._token})
        return self._session

    async def close(self) -> None:
        """Close the HTTP session, if one was opened (on cleanup)."""
        if self._session is not None:
            await self._session.close()

    def _url(self, sender_id: str, suffix: str) -> str:
        # Conversation ids are URL-safe by construction (bot/channels/senders.py) and Rasa does
        # not percent-decode them: passed exactly, or not at all.
        if not senders.url_safe(sender_id):
            raise RasaUnavailable(f"conversation id not addressable in Rasa's API: {sender_id!r}")
        return f"{self.base_url}/conversations/{sender_id}/{suffix}"

    async def _call(self, method: str, url: str, body: Any = None) -> Any:
        try:
            async with self._http().request(method, url, json=body) as response:
                if response.status != 200:
                    detail = (await response.text())[:200]
                    raise RasaUnavailable(f"Rasa answered {response.status}: {detail}")
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa server not reachable: {exc.__class__.__name__}") from exc

    async def parse(self, text: str) -> dict[str, Any]:
        """The model's reading of `text` (intent, entities), from ``POST /model/parse``."""
        return await self._call("POST", f"{self.base_url}/model/parse", {"text": text})

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker (events, slots, paused flag)."""
        return await self._call("GET", self._url(sender_id, "tracker"))

    async def append(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker."""
        await self._call("POST", self._url(sender_id, "tracker/events"), events)

    async def pause(self, sender_id: str) -> None:
        """The bot stops answering this customer (their messages are still logged).

        Done only when the tracker read back from Rasa says so; RasaUnavailable otherwise.
        """
        await self.append(sender_id, [{"event": "pause"}])
        await self._confirm(sender_id, paused=True)

    async def resume(self, sender_id: str) -> None:
        """The bot answers this customer again (confirmed from the tracker, like `pause`)."""
        await self.append(sender_id, [{"event": "resume"}])
        await self._confirm(sender_id, paused=False)

    async def _confirm(self, sender_id: str, paused: bool) -> None:
        tracker = await self.tracker(sender_id)
        if tracker.get("sender_id") != sender_id or bool(tracker.get("paused")) != paused:
            raise RasaUnavailable(f"Rasa's tracker for {sender_id!r} is not "
                                  f"{'paused' if paused else 'resumed'}")

    async def log_agent_message(self, sender_id: str, text: str, agent: str,
                                reply_id: int) -> None:
        """Write what an agent sent into the conversation's history."""
        await self.append(sender_id, [{"event": "bot", "text": text,
                                       "metadata": {"agent": agent, "reply_id": reply_id}}])
