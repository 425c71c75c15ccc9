"""Cache hits and misses, counted in front of whichever cache the service uses."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from payment_service.app.ports.cache import Cache
from payment_service.observability.catalogue import CacheFamilies


class CacheMetrics(CacheFamilies):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.hits = self.lookups.labels("hit")
        self.misses = self.lookups.labels("miss")


class MeasuredCache:
    """Implements app.ports.cache.Cache over ``inner``, counting each get's hit or miss."""

    def __init__(self, inner: Cache, metrics: CacheMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def get(self, key: str) -> bytes | None:
        value = await self._inner.get(key)
        (self._metrics.misses if value is None else self._metrics.hits).inc()
        return value

    async def put(self, key: str, version: int, value: bytes, ttl_s: float) -> None:
        await self._inner.put(key, version, value, ttl_s)

    async def delete(self, *keys: str) -> None:
        await self._inner.delete(*keys)

    async def close(self) -> None:
        await self._inner.close()
