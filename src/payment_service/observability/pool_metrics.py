"""The database connection pool: connections in use and idle (read at scrape time), and
checkouts that had to wait for one.

Implements adapters.db.pool.PoolObserver (structurally: this package imports no adapter).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from payment_service.observability.families import Families

# A wait is for a connection another call gives back: milliseconds to the pool timeout.
POOL_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    def __init__(self, engine: AsyncEngine, max_connections: int) -> None:
        self._engine = engine
        self._max_connections = max_connections

    def collect(self) -> Iterator[GaugeMetricFamily]:
        connections = GaugeMetricFamily(
            "db_pool_connections",
            "Connections of the database pool, by state (in_use: checked out by a call or "
            "task, idle: open and waiting in the pool).",
            labels=("state",),
        )
        capacity = GaugeMetricFamily(
            "db_pool_max_connections",
            "The most connections the pool opens (pool size + overflow).",
        )
        # The engine's pool is replaced when the engine is disposed: read it each time.
        pool = self._engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            connections.add_metric(("in_use",), pool.checkedout())
            connections.add_metric(("idle",), pool.checkedin())
            capacity.add_metric((), self._max_connections)
        yield connections
        yield capacity


class PoolMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._registry = registry
        self._waits = family.counter(
            "db_pool_waits",
            "Checkouts that found every connection in use and waited for one.",
        )
        self._timeouts = family.counter(
            "db_pool_timeouts",
            "Checkouts that waited the whole pool timeout in vain (the call failed UNAVAILABLE).",
        )
        self._wait_seconds = family.histogram(
            "db_pool_wait_seconds",
            "How long checkouts that found the pool exhausted waited.",
            buckets=POOL_WAIT_BUCKETS,
        )

    def watch(self, engine: AsyncEngine, max_connections: int) -> None:
        """Publish ``engine``'s pool gauges (once per engine)."""
        self._registry.register(_PoolCollector(engine, max_connections))

    def waited(self, seconds: float, *, timed_out: bool) -> None:
        self._waits.inc()
        self._wait_seconds.observe(seconds)
        if timed_out:
            self._timeouts.inc()
