"""The workbench's client of the Rasa server's HTTP API (token required).

It reads a conversation's tracker, pauses the bot for a customer while an agent holds the
conversation (Rasa's ``pause`` event: the customer's messages are still read and logged, with
the bot's reading, but no action runs), resumes it when the agent hands back, and writes what
an agent sent into the tracker as a ``bot`` event marked with the agent's name.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)


class RasaUnavailable(RuntimeError):
    """The Rasa server could not be reached or refused the request."""


class RasaClient:
    """Calls to one Rasa server.

    Args:
        base_url: e.g. http://127.0.0.1:5005.
        token: the server's ``--auth-token``.
        timeout_s: per request.
    """

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, sender_id: str, suffix: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender_id, safe='')}/{suffix}"

    async def _call(self, method: str, url: str, body: Any = None) -> Any:
        try:
            async with self._http().request(method, url, params={"token": self._token},
                                            json=body) as response:
                if response.status != 200:
                    detail = (await response.text())[:200]
                    raise RasaUnavailable(f"Rasa answered {response.status}: {detail}")
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa server not reachable: {exc.__class__.__name__}") from exc

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker (events, slots, paused flag)."""
        return await self._call("GET", self._url(sender_id, "tracker"))

    async def append(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker."""
        await self._call("POST", self._url(sender_id, "tracker/events"), events)

    async def pause(self, sender_id: str) -> None:
        """The bot stops answering this customer (their messages are still logged)."""
        await self.append(sender_id, [{"event": "pause"}])

    async def resume(self, sender_id: str) -> None:
        """The bot answers this customer again."""
        await self.append(sender_id, [{"event": "resume"}])

    async def log_agent_message(self, sender_id: str, text: str, agent: str,
                                reply_id: int) -> None:
        """Write what an agent sent into the conversation's history."""
        await self.append(sender_id, [{"event": "bot", "text": text,
                                       "metadata": {"agent": agent, "reply_id": reply_id}}])
