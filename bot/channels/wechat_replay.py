"""Replay protection for WeChat webhooks: stale timestamps and reused nonces are refused.

wechatpy never checks timestamps. :class:`ReplayGuard` runs after the signature check (so a
forged request cannot use up nonces) and remembers each nonce in a :class:`NonceStore`: in
process (:class:`MemoryNonceStore`, bounded) or in Redis (:class:`RedisNonceStore`) when
several processes serve the account. The channel uses the same stores to handle each message
once across WeChat's retries.
"""
from __future__ import annotations

import heapq
import threading
import time
from typing import Any, Callable, Optional, Protocol

from bot.channels.wechat_errors import Forbidden
from bot.channels.wechat_signing import NONCE_RE, TIMESTAMP_RE

DEFAULT_REPLAY_WINDOW_S = 300


class NonceStore(Protocol):
    """Remembers keys for a while; the first ``add_if_absent`` of a key wins."""

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when it is already there."""
        ...


class MemoryNonceStore:
    """In-process, thread-safe, expiring set of keys with a bound on its size.

    When full of unexpired keys, the key closest to expiry is evicted (and counted in
    ``evicted``): memory stays bounded, and only signed requests get this far, so the cost of
    an eviction is a shorter replay memory under a flood, not refused customers.
    """

    def __init__(self, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty store.

        Args:
            max_entries: the most keys kept at once.
            clock: seconds, for expiry (monotonic by default).
        """
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.evicted = 0
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self._clock())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires:
                del self._expiry[key]

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when it is already there and unexpired."""
        with self._lock:
            now = self._clock()
            self._purge(now)
            if key in self._expiry:
                return False
            while len(self._expiry) >= self.max_entries:
                expires, old = heapq.heappop(self._heap)
                if self._expiry.get(old) == expires:
                    del self._expiry[old]
                    self.evicted += 1
            expires = now + max(1, ttl_s)
            self._expiry[key] = expires
            heapq.heappush(self._heap, (expires, key))
            # Superseded heap entries of expired keys would otherwise pile up.
            if len(self._heap) > 2 * self.max_entries:
                self._heap = [(e, k) for k, e in self._expiry.items()]
                heapq.heapify(self._heap)
            return True


class RedisNonceStore:
    """Nonces shared by every process through Redis (``SET key 1 NX EX ttl``)."""

    def __init__(self, client: Any, prefix: str = "postdesk:wechat:") -> None:
        """Wrap a Redis client.

        Args:
            client: a ``redis.Redis`` (or anything with its ``set(name, value, nx=, ex=)``).
            prefix: namespace of the keys.
        """
        self._client = client
        self._prefix = prefix

    def add_if_absent(self, key: str, ttl_s: int) -> bool:
        """Store ``key`` for ``ttl_s`` seconds; False when another request stored it first.

        Redis errors propagate: the caller decides whether an unreachable store refuses requests.
        """
        return bool(self._client.set(self._prefix + key, "1", nx=True, ex=max(1, int(ttl_s))))


class ReplayGuard:
    """Refuses stale timestamps and nonces already used. Call it after the signature check,
    so forged requests cannot use up nonces."""

    def __init__(
        self,
        window_s: int = DEFAULT_REPLAY_WINDOW_S,
        clock: Callable[[], float] = time.time,
        store: Optional[NonceStore] = None,
    ) -> None:
        """Create a guard.

        Args:
            window_s: how far (either way) a request's timestamp may be from now.
            clock: wall-clock seconds (WeChat timestamps are Unix seconds).
            store: where nonces are remembered; in-process (on the same clock) by default.
        """
        if window_s < 1:
            raise ValueError("window_s must be at least 1")
        self.window_s = window_s
        self._clock = clock
        self.store: NonceStore = store if store is not None else MemoryNonceStore(clock=clock)

    def check(self, timestamp: Optional[str], nonce: Optional[str]) -> None:
        """Accept a (timestamp, nonce) pair once.

        The nonce is remembered for as long as its timestamp stays acceptable
        (``timestamp + window - now``, at most twice the window), so a replay is refused
        for the whole time it could otherwise pass.

        Raises:
            Forbidden: missing or malformed values, a timestamp out of the window, a reused nonce.
        """
        if not timestamp or not TIMESTAMP_RE.fullmatch(timestamp):
            raise Forbidden("missing or malformed timestamp")
        if not nonce or not NONCE_RE.fullmatch(nonce):
            raise Forbidden("missing or malformed nonce")
        now = self._clock()
        ts = int(timestamp)
        if abs(now - ts) > self.window_s:
            raise Forbidden("stale timestamp")
        ttl = int(ts + self.window_s - now) + 1
        if not self.store.add_if_absent(f"nonce:{nonce}", ttl):
            raise Forbidden("reused nonce")
