"""Rate limits for the customer channels: per customer and per client address.

A sliding window of one minute kept in process (each Rasa replica limits what it serves; a
customer's messages stay on one replica). :meth:`RateLimiter.allow` records the attempt only
when it is allowed, so a customer who waits gets through again after the window.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

WINDOW_S = 60.0
MAX_KEYS = 100_000  # beyond this many tracked keys, the oldest idle ones are forgotten

SLOW_DOWN_TEXT = "您发消息有点快，我们跟不上了，请稍等一分钟再发。急事请拨打 11183。"


class RateLimiter:
    """At most `limit` events per `window_s` seconds for each key."""

    def __init__(self, limit: int, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._events: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """True (and the event counted) when `key` is under its limit; a limit <= 0 is off."""
        if self.limit <= 0:
            return True
        now = self._clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= MAX_KEYS:
                    self._forget_idle(now)
                events = self._events[key] = deque()
            while events and now - events[0] >= self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, e in self._events.items() if not e or now - e[-1] >= self.window_s]:
            del self._events[key]
        while len(self._events) >= MAX_KEYS:  # all busy: drop the oldest-inserted
            del self._events[next(iter(self._events))]


def client_address(request: Any) -> str:
    """The address a Sanic request is limited under: the forwarded client when Sanic is told
    to trust a proxy (``PROXIES_COUNT``/``REAL_IP_HEADER``), else the connection's peer."""
    return request.remote_addr or request.ip or "unknown"


async def read_bounded(request: Any, limit: int) -> Optional[bytes]:
    """The request body, or None once it is over `limit` bytes (the rest is not kept)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None
    if request.body or request.stream is None:  # already read (not a streamed route)
        body = request.body or b""
        return body if len(body) <= limit else None
    chunks: List[bytes] = []
    size = 0
    async for chunk in request.stream:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
