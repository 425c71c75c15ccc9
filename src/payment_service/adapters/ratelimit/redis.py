"""GCRA in Redis: one Lua script per call, atomic, on Redis's clock, so every replica
counts against the same limit. When Redis fails, the call is judged by the in-process
limiter instead (never refused for Redis's sake), and Redis is left alone for a few
seconds so an outage costs no connect timeout per call.

A key with a large limit takes its calls from Redis in batches (``batch_size``: a
hundredth of the burst, at most 50 ms of the rate) and spends them in process for up
to ``BATCH_HOLD_S``: a busy caller costs one Redis round trip per batch, not per call.
A replica so holds at most one batch per key that the others cannot use; a batch not
spent in time is dropped (counted as used: a caller is never let past its limit). Near
the limit a batch does not fit and single calls are taken, as before."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from payment_service.adapters.ratelimit.local import LocalRateLimiter
from payment_service.app.ports.rate_limit import ALLOWED, Decision, Limit

log = logging.getLogger(__name__)

# KEYS: the keys; ARGV: interval (µs), burst and calls taken of each key in turn. The
# calls are counted against every key, or against none: {1, 0}, or {0, the longest
# retry_after_us}.
_GCRA = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local tats, wait = {}, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2]) * tonumber(ARGV[3 * i])
  local tolerance = tonumber(ARGV[3 * i - 2]) * tonumber(ARGV[3 * i - 1])
  local tat = tonumber(redis.call('GET', key) or now_us)
  if tat < now_us then tat = now_us end
  local ahead = tat + interval - now_us
  if ahead > tolerance and ahead - tolerance > wait then wait = ahead - tolerance end
  tats[i] = {tat + interval, math.ceil(ahead / 1000) + 1}
end
if wait > 0 then
  return {0, wait}
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tats[i][1], 'PX', tats[i][2])
end
return {1, 0}
"""
PAUSE_AFTER_FAILURE_S = 5.0
BATCH_HOLD_S = 0.1


def batch_size(limit: Limit) -> int:
    """How many calls of ``limit`` one Redis round trip takes (1: each call on its own)."""
    return max(1, min(limit.burst // 100, int(limit.per_s * 0.05)))


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
        self._batches: dict[str, tuple[int, float]] = {}  # key -> (calls left, use by)
        self._refills: dict[str, asyncio.Future[None]] = {}

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
        size = batch_size(limit)
        if size == 1:
            return await self._take(key, limit, 1)
        while True:
            held = self._batches.get(key)
            if held is not None and held[0] > 0 and self._clock() < held[1]:
                self._batches[key] = (held[0] - 1, held[1])
                return ALLOWED
            refill = self._refills.get(key)
            if refill is None:
                break
            await asyncio.shield(refill)  # one batch at a time per key: spend it, then ask
        return await self._refill(key, limit, size)

    async def _refill(self, key: str, limit: Limit, size: int) -> Decision:
        """A batch of ``size`` calls for ``key`` (this call is its first), or one call."""
        done = asyncio.get_running_loop().create_future()
        self._refills[key] = done
        try:
            self._batches.pop(key, None)
            decision = await self._take(key, limit, size)
            if decision.allowed and self._clock() >= self._paused_until:
                if len(self._batches) > 10_000:
                    self._batches.clear()
                self._batches[key] = (size - 1, self._clock() + BATCH_HOLD_S)
                return decision
        finally:
            del self._refills[key]
            done.set_result(None)
        if decision.allowed:
            return decision  # judged in-process: Redis failed
        return await self._take(key, limit, 1)  # near the limit: one call at a time

    async def take_all(self, takes: Sequence[tuple[str, Limit]]) -> Decision:
        """One script call for every limit (no batches: each call is counted on its own)."""
        keys = [self._prefix + key for key, _ in takes]
        args = [value for _, limit in takes for value in (limit.interval_us, limit.burst, 1)]
        return await self._judged(
            lambda: self._script(keys=keys, args=args),
            lambda: self._fallback.take_all_now(takes),
        )

    async def _take(self, key: str, limit: Limit, calls: int) -> Decision:
        return await self._judged(
            lambda: self._script(
                keys=[self._prefix + key], args=[limit.interval_us, limit.burst, calls]
            ),
            lambda: self._fallback.take_now(key, limit),
        )

    async def _judged(
        self, script: Callable[[], Awaitable[Any]], local: Callable[[], Decision]
    ) -> Decision:
        """Redis's decision; the in-process one while Redis is failing (or just failed)."""
        if self._clock() < self._paused_until:
            return self._local(local)
        try:
            allowed, retry_us = await script()
        except (RedisError, OSError) as error:
            self._paused_until = self._clock() + PAUSE_AFTER_FAILURE_S
            log.warning(
                "rate limits judged in-process: Redis failed",
                extra={"error": type(error).__name__},
            )
            return self._local(local)
        return Decision(bool(allowed), int(retry_us) / 1_000_000)

    def _local(self, local: Callable[[], Decision]) -> Decision:
        self.fallbacks += 1
        return local()
