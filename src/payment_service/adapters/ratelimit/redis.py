"""GCRA in Redis: one Lua script per call, atomic, on Redis's clock, so every replica
counts against the same limit. When Redis fails, the call is judged by the in-process
limiter instead (never refused for Redis's sake), and Redis is left alone for a few
seconds so an outage costs no connect timeout per call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.app.ports.rate_limit import Decision, Limit

log = logging.getLogger(__name__)

# KEYS[1]: the key; ARGV: interval (µs), burst. Returns {allowed, retry_after_us}.
_GCRA = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_us)
if tat < now_us then tat = now_us end
local ahead = tat + interval - now_us
if ahead > tolerance then
  return {0, ahead - tolerance}
end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(ahead / 1000) + 1)
return {1, 0}
"""
PAUSE_AFTER_FAILURE_S = 5.0


class RedisRateLimiter:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "ps:rl:",
        fallback: LocalRateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_GCRA)
        self._fallback = fallback or LocalRateLimiter()
        self._clock = clock
        self._paused_until = 0.0
        self.fallbacks = 0

    @classmethod
    def from_url(cls, url: str, *, op_timeout_s: float = 0.1) -> RedisRateLimiter:
        """A client of its own that never retries: a slow Redis costs one short timeout."""
        client = Redis.from_url(
            url,
            socket_timeout=op_timeout_s,
            socket_connect_timeout=op_timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        return cls(client)

    async def close(self) -> None:
        await self._client.aclose()

    async def take(self, key: str, limit: Limit) -> Decision:
        if self._clock() < self._paused_until:
            return self._local(key, limit)
        try:
            allowed, retry_us = await self._script(
                keys=[self._prefix + key], args=[limit.interval_us, limit.burst]
            )
        except (RedisError, OSError) as error:
            self._paused_until = self._clock() + PAUSE_AFTER_FAILURE_S
            log.warning(
                "rate limits judged in-process: Redis failed",
                extra={"error": type(error).__name__},
            )
            return self._local(key, limit)
        return Decision(bool(allowed), int(retry_us) / 1_000_000)

    def _local(self, key: str, limit: Limit) -> Decision:
        self.fallbacks += 1
        return self._fallback.take_now(key, limit)
