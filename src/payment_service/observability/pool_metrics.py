"""The database connection pool: connections in use and idle (read at scrape time), and
checkouts that had to wait for one.

Implements adapters.db.pool.PoolObserver (structurally: this package imports no adapter).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from payment_service.observability.catalogue import (
    POOL_CONNECTIONS,
    POOL_MAX_CONNECTIONS,
    PoolFamilies,
)
from payment_service.observability.families import Family


def _read_now(family: Family[Gauge]) -> GaugeMetricFamily:
    return GaugeMetricFamily(family.name, family.documentation, labels=family.labels)


class _PoolCollector(Collector):
    def __init__(self, engine: AsyncEngine, max_connections: int) -> None:
        self._engine = engine
        self._max_connections = max_connections

    def collect(self) -> Iterator[GaugeMetricFamily]:
        connections = _read_now(POOL_CONNECTIONS)
        capacity = _read_now(POOL_MAX_CONNECTIONS)
        # The engine's pool is replaced when the engine is disposed: read it each time.
        pool = self._engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            connections.add_metric(("in_use",), pool.checkedout())
            connections.add_metric(("idle",), pool.checkedin())
            capacity.add_metric((), self._max_connections)
        yield connections
        yield capacity


class PoolMetrics(PoolFamilies):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self._registry = registry

    def watch(self, engine: AsyncEngine, max_connections: int) -> None:
        """Publish ``engine``'s pool gauges (once per engine)."""
        self._registry.register(_PoolCollector(engine, max_connections))

    def waited(self, seconds: float, *, timed_out: bool) -> None:
        self.waits.inc()
        self.wait_seconds.observe(seconds)
        if timed_out:
            self.timeouts.inc()
