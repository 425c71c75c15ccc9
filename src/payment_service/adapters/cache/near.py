"""An in-process copy of hot Redis entries, dropped when any replica changes them.

Every change ``RedisCache`` makes (a put that wrote, an invalidation) is published on
a Redis channel by the same Lua script that makes it, so the change and its notice are
one atomic step. Each replica listens on that channel and drops its copies of the keys
named; a hit in the copy then costs a dictionary lookup instead of a Redis round trip,
the decryption of the entry and redis-py's per-command work.

Why a copy is never older than what Redis held when a read began:

- the copy is used only while the subscription is live; when it breaks (Redis away,
  a timeout) every copy is dropped and reads go to Redis until it is back;
- a read from Redis is copied only if no notice for its key (and no write of this
  process to it) arrived while it was in flight (``_generation``), so a value read just
  before a change cannot be kept after the change's notice;
- this process's own writes drop the key before and after they reach Redis, so a Get
  that follows a write on the same replica never sees the old value.

Across replicas a change is seen once its notice reaches the other replica: Redis sends
it before the writer's own reply, so only a read already on its way can still return
the old value (as with a read from Redis itself). Copies also expire after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

from opentelemetry.trace import TracerProvider
from redis.asyncio import Redis
from redis.exceptions import RedisError

from payment_service.adapters.cache.redis_cache import RedisCache
from payment_service.app.common.tasks import cancelled

log = logging.getLogger(__name__)

DEFAULT_CHANNEL = "ps:cache:changed"
RECONNECT_DELAY_S = 1.0


class NearCache:
    """Implements app.ports.cache.Cache: ``inner`` with in-process copies of its hits."""

    def __init__(
        self,
        inner: RedisCache,
        subscriber: Redis,
        *,
        max_entries: int = 10_000,
        ttl_s: float = 60.0,
    ) -> None:
        if inner.channel is None:
            raise ValueError("the inner RedisCache must publish its changes (channel=...)")
        self._inner = inner
        self._channel = inner.channel
        self._prefix = inner.prefix
        self._subscriber = subscriber
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Every change seen counts one; a key's last change, and the last time all were
        # dropped: a read begun at generation g is kept only if its key has not changed
        # since (a change of another key does not stop it).
        self._generation = 0
        self._key_changed: dict[str, int] = {}
        self._all_changed = 0
        self._live = False
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, *, op_timeout_s: float = 0.25, **options: float) -> NearCache:
        inner = RedisCache.from_url(url, op_timeout_s=op_timeout_s, channel=DEFAULT_CHANNEL)
        subscriber = Redis.from_url(
            url,
            socket_connect_timeout=op_timeout_s,
            socket_keepalive=True,
            health_check_interval=5,
        )
        return cls(inner, subscriber, **options)  # type: ignore[arg-type]

    @property
    def live(self) -> bool:
        """True while the copies are in use (the subscription is up)."""
        return self._live

    def trace(self, tracer_provider: TracerProvider) -> None:
        self._inner.trace(tracer_provider)

    async def started(self, timeout_s: float = 5.0) -> bool:
        """Start listening (if not yet) and wait until the copies are in use."""
        self._ensure_listener()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._subscribed.wait()
        return self._live

    async def get(self, key: str) -> bytes | None:
        if self._live:
            entry = self._entries.get(key)
            if entry is not None:
                if entry[0] > time.monotonic():
                    return entry[1]
                del self._entries[key]
        elif self._listener is None:
            self._ensure_listener()
        began = self._generation
        value = await self._inner.get(key)
        if value is not None and self._live and self._unchanged_since(key, began):
            self._entries[key] = (time.monotonic() + self._ttl_s, value)
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value

    async def put(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        self._forget((key,))
        try:
            await self._inner.put(key, version, value, ttl_s)
        finally:
            self._forget((key,))

    async def delete(self, *keys: str) -> None:
        self._forget(keys)
        try:
            await self._inner.delete(*keys)
        finally:
            self._forget(keys)

    async def close(self) -> None:
        await cancelled(self._listener)
        self._go_dark()
        await self._subscriber.aclose()
        await self._inner.close()

    # --- the invalidation channel ----------------------------------------------------

    def _unchanged_since(self, key: str, began: int) -> bool:
        return self._all_changed <= began and self._key_changed.get(key, 0) <= began

    def _forget(self, keys: Iterable[str]) -> None:
        self._generation += 1
        if len(self._key_changed) > self._max_entries:
            self._key_changed.clear()
            self._all_changed = self._generation  # as if every key changed now
        for key in keys:
            self._key_changed[key] = self._generation
            self._entries.pop(key, None)

    def _go_dark(self) -> None:
        self._live = False
        self._subscribed.clear()
        self._generation += 1
        self._all_changed = self._generation
        self._key_changed.clear()
        self._entries.clear()

    def _ensure_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                await self._follow()
            except (RedisError, OSError, TimeoutError) as exc:
                if self._live:
                    log.warning(
                        "cache change notices lost: serving from Redis until they are back",
                        extra={"error": type(exc).__name__},
                    )
            finally:
                self._go_dark()
            await asyncio.sleep(RECONNECT_DELAY_S)

    async def _follow(self) -> None:
        async with self._subscriber.pubsub() as pubsub:
            await pubsub.subscribe(self._channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._go_dark()  # whatever changed before now is not in any copy
                    self._live = True
                    self._subscribed.set()
                elif message["type"] == "message":
                    self._changed(message["data"])

    def _changed(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        cut = len(self._prefix)
        self._forget(
            full[cut:] if full.startswith(self._prefix) else full for full in text.split("\n")
        )
