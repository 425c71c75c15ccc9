"""The read-through cache the use cases see (Redis or in-memory behind it).

Entries are versioned: a writer publishes the object it just committed with
its row version, and an older version never replaces a newer one, so a slow
reader or a late writer cannot leave a stale object in the cache.
"""

from __future__ import annotations

from typing import Final, Protocol

# After ``delete`` a key refuses ``put`` for this long: a reader that loaded the
# row before the writer's commit cannot put the old object back after the delete.
INVALIDATION_HOLD_S: Final = 2.0


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The cached bytes, or None on a miss or when the cache is unreachable."""
        ...

    async def put(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        """Store ``value`` unless the cache already holds a newer version of the key."""
        ...

    async def delete(self, *keys: str) -> None:
        """Forget keys after a commit when the new object is not at hand.

        Leaves a short tombstone (``INVALIDATION_HOLD_S``) that refuses puts, so a
        read that began before the commit cannot re-cache the old object.
        """
        ...

    async def close(self) -> None: ...
