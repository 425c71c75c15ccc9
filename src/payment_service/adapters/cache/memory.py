"""In-process cache for the embedded default and single-replica runs."""

from __future__ import annotations

import time
from collections import OrderedDict


class MemoryCache:
    """A bounded LRU of ``key -> (version, expires_at, value)``."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[str, tuple[int, float, bytes]] = OrderedDict()
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
        current = self._entries.get(key)
        if current is not None and current[0] > version and current[1] >= time.monotonic():
            return
        self._entries[key] = (version, time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def close(self) -> None:
        self._entries.clear()
