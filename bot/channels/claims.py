"""Each customer message handled once across retries and Rasa replicas, and never lost.

A message id (WeChat's ``MsgId``, a REST client's ``message_id``) is *claimed* before its turn:
the claim is a short lease (``LEASE_S``) that the handling process renews while the turn runs,
and that becomes a ``done`` mark (kept ``DONE_TTL_S``, with the answer when there is one) once
the turn is over. A retry of the message therefore

* finds ``done``: it is not handled again (a REST retry gets the stored answer);
* finds a live lease: another process is handling it right now (not handled twice);
* finds nothing, because the process that held the lease died (``kill -9``, a crash) and its
  lease ran out within ``LEASE_S``: it is handled here, so the message is not lost.

Claims live in Redis (``REDIS_URL``, shared by every replica); without Redis, or while it
cannot be reached, in this process (duplicates are then caught per process only, and the
operator gets a log line a minute).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable, Optional

logger = logging.getLogger(__name__)

LEASE_S = 3.0          # a dead owner's claim runs out after this long
DONE_TTL_S = 600       # how long a handled message id is remembered (WeChat retries for ~15 s)
RUNNING, DONE = "running:", "done:"


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`MessageClaims.claim`: ours to handle, being handled elsewhere, or
    done (with the stored answer, None when none was stored)."""

    state: str  # "mine", "running" or "done"
    answer: Any = None
    taken_over: bool = False  # mine, but claimed before by a process that stopped

    @property
    def mine(self) -> bool:
        """Whether this process handles the message."""
        return self.state == "mine"


class _Memory:
    """The in-process claims: key -> (value, expiry)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def set(self, key: str, value: str, ttl_s: float, only_new: bool = False) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._items) > 100_000:
                self._items = {k: v for k, v in self._items.items() if v[1] > now}
            found = self._items.get(key)
            if only_new and found is not None and found[1] > now:
                return False
            self._items[key] = (value, now + ttl_s)
            return True

    def get(self, key: str) -> Optional[str]:
        found = self._items.get(key)
        return found[0] if found is not None and found[1] > self._clock() else None

    def delete(self, key: str) -> None:
        self._items.pop(key, None)


class MessageClaims:
    """Claims of message ids in Redis (`client`, a ``redis.Redis``) or, without it, in process."""

    def __init__(self, client: Any = None, prefix: str = "postdesk:claim:",
                 lease_s: float = LEASE_S, done_ttl_s: int = DONE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.prefix = client, prefix
        self.lease_s, self.done_ttl_s = lease_s, done_ttl_s
        self.owner = uuid.uuid4().hex
        self.memory = _Memory(clock)
        self._clock = clock
        self._last_warning = float("-inf")

    # -- storage, Redis first -------------------------------------------------------------
    def _redis_failed(self, exc: Exception) -> None:
        if self._clock() - self._last_warning > 60:
            logger.error("redis unavailable (%s): message ids are checked in this process only",
                         type(exc).__name__)
            self._last_warning = self._clock()

    def _set(self, key: str, value: str, ttl_s: float, only_new: bool = False) -> bool:
        if self.client is not None:
            try:
                return bool(self.client.set(self.prefix + key, value, nx=only_new,
                                             px=max(1, int(ttl_s * 1000))))
            except Exception as exc:  # noqa: BLE001 - any Redis failure: fall back
                self._redis_failed(exc)
        return self.memory.set(key, value, ttl_s, only_new)

    def _get(self, key: str) -> Optional[str]:
        if self.client is not None:
            try:
                value = self.client.get(self.prefix + key)
                return value.decode() if isinstance(value, bytes) else value
            except Exception as exc:  # noqa: BLE001
                self._redis_failed(exc)
        return self.memory.get(key)

    def _delete(self, key: str) -> None:
        if self.client is not None:
            try:
                self.client.delete(self.prefix + key)
                return
            except Exception as exc:  # noqa: BLE001
                self._redis_failed(exc)
        self.memory.delete(key)

    # -- the protocol ---------------------------------------------------------------------
    def claim(self, key: str) -> Claim:
        """Claim `key` for this process (a lease of ``lease_s``), or say who has it."""
        if self._set(key, RUNNING + self.owner, self.lease_s, only_new=True):
            return self._mine(key)
        value = self._get(key) or ""
        if value.startswith(DONE):
            try:
                return Claim("done", json.loads(value[len(DONE):]))
            except ValueError:
                return Claim("done")
        if not value:  # the other claim ran out between our two calls: try once more
            if self._set(key, RUNNING + self.owner, self.lease_s, only_new=True):
                return self._mine(key)
        return Claim("running")

    def _mine(self, key: str) -> Claim:
        # A process that dies may have finished the turn (Rasa kept it) but not marked it
        # done: the caller then looks for the message in the conversation before running it.
        first = self._set("seen:" + key, "1", self.done_ttl_s, only_new=True)
        return Claim("mine", taken_over=not first)

    def renew(self, key: str) -> None:
        """Extend this process's lease on `key` (while its turn runs)."""
        if self._get(key) == RUNNING + self.owner:
            self._set(key, RUNNING + self.owner, self.lease_s)

    def finish(self, key: str, answer: Any = None) -> None:
        """Mark `key` handled (kept ``done_ttl_s``), with `answer` for retries."""
        self._set(key, DONE + json.dumps(answer, ensure_ascii=False), self.done_ttl_s)

    def release(self, key: str) -> None:
        """Give up the claim on `key` (its turn failed before anything was kept): a retry may
        handle it."""
        if self._get(key) == RUNNING + self.owner:
            self._delete(key)

    @contextlib.asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[None]:
        """Renew the lease on `key` while the block runs; release it if the block raises.

        The caller marks the message done with :meth:`finish` (with its answer).
        """
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                self.renew(key)

        task = asyncio.ensure_future(renew())
        try:
            yield
        except BaseException:
            self.release(key)
            raise
        finally:
            task.cancel()

    async def wait_done(self, key: str, timeout_s: float, poll_s: float = 0.2) -> Claim:
        """Wait up to `timeout_s` for another process to finish `key`; the claim found then
        (``mine`` when its owner died and the lease ran out: handle it here)."""
        deadline = self._clock() + timeout_s
        while True:
            found = self.claim(key)
            if found.mine:
                logger.warning("message %s taken over: the process handling it stopped", key)
            if found.state != "running" or self._clock() >= deadline:
                return found
            await asyncio.sleep(poll_s)


def replies_after(events: Iterable[dict[str, Any]],
                  is_the_message: Callable[[dict[str, Any]], bool]) -> Optional[list[dict]]:
    """The bot messages that answered the user message whose metadata `is_the_message` picks
    (events as Rasa's ``as_dict``); None when the conversation does not hold that message.

    A retry taken over from a process that died (:attr:`Claim.taken_over`) uses it: a message
    found here was handled before its process died, and is answered from here, not again.
    """
    found: Optional[list[dict]] = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            if found is not None:
                break
            if is_the_message(event.get("metadata") or {}):
                found = []
        elif kind == "bot" and found is not None:
            found.append(event)
    return found


def redis_claims(redis_url: str, prefix: str) -> MessageClaims:
    """Claims in the Redis at `redis_url` ("" = in process only)."""
    if not redis_url:
        return MessageClaims(prefix=prefix)
    import redis  # type: ignore[import-untyped]  # redis 4 ships no type hints

    return MessageClaims(redis.Redis.from_url(redis_url, socket_timeout=0.5), prefix=prefix)
