"""A cheap ``SELECT 1`` that says whether the database answers, for readiness.

The probe has an engine of its own (one connection, no overflow): a pool that is busy
serving calls never looks like an outage, and a probe never takes a connection a call
is waiting for. Every check is bounded by ``timeout_s`` (connect included); after a
failed one the probe's connection is dropped, so a connection cut mid-check is never
reused.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from payment_service.adapters.db.engine import create_engine

_DISPOSE_S = 1.0


class DatabaseProbe:
    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._engine = create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout_s=timeout_s,
            statement_timeout_ms=max(1, int(timeout_s * 1000)),
        )

    async def check(self) -> bool:
        """True when ``SELECT 1`` answered within the timeout."""
        try:
            async with asyncio.timeout(self._timeout_s), self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (TimeoutError, SQLAlchemyError, OSError):
            await self._drop_connection()
            return False
        return True

    async def close(self) -> None:
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        with contextlib.suppress(TimeoutError, SQLAlchemyError, OSError):
            async with asyncio.timeout(_DISPOSE_S):
                await self._engine.dispose()
