"""A ``PING`` that says whether Redis answers, for the dependency gauges (never readiness:
with Redis away the service is slower, not wrong)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError


class RedisProbe:
    def __init__(self, url: str, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
        )

    async def check(self) -> bool:
        """True when PING answered within the timeout."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.ping()
        except (TimeoutError, RedisError, OSError):
            return False
        return True

    async def close(self) -> None:
        await self._client.aclose()
