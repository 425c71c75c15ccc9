"""A PostgreSQL session advisory lock so only one replica runs a job; a no-op on SQLite.

``pg_try_advisory_lock`` never waits: a replica that does not get the lock skips
the pass. The lock lives on one pooled connection for as long as the block
runs; if that connection dies, PostgreSQL releases the lock with the session.
SQLite has one writer host by construction, so there every caller "holds" it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payment_service.adapters.db.errors import translated_errors


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """Implements app.ports.reconcile.ReconcileLock."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self._engine = engine
        self.name = name
        self.key = lock_key(name)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[bool]:
        if self._engine.dialect.name != "postgresql":
            yield True
            return
        with translated_errors():
            connection = await self._engine.connect()
        try:
            with translated_errors():
                result = await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                )
                acquired = bool(result.scalar_one())
                await connection.commit()  # the lock is the session's; no open transaction
            try:
                yield acquired
            finally:
                if acquired:
                    await self._release(connection)
        finally:
            await connection.close()

    async def _release(self, connection: AsyncConnection) -> None:
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await connection.commit()
        except BaseException:
            # Never hand a session that may still hold the lock back to the pool.
            await connection.invalidate()
            raise
