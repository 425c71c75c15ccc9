"""In-process cache for the embedded default and single-replica runs."""

from __future__ import annotations

import time
from collections import OrderedDict

from payment_service.app.ports.cache import INVALIDATION_HOLD_S


class MemoryCache:
    """A bounded LRU of ``key -> (version, expires_at, value)``; ``value`` None is a tombstone."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[str, tuple[int, float, bytes | None]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[2]

    async def put(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        now = time.monotonic()
        current = self._entries.get(key)
        fresh = current is not None and current[1] >= now
        if fresh and current is not None and (current[2] is None or current[0] > version):
            return  # invalidated moments ago, or a newer version is cached
        self._store(key, (version, now + ttl_s, value))

    async def delete(self, *keys: str) -> None:
        hold_until = time.monotonic() + INVALIDATION_HOLD_S
        for key in keys:
            self._store(key, (0, hold_until, None))

    def _store(self, key: str, entry: tuple[int, float, bytes | None]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()
