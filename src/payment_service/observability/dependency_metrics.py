"""Whether the database and Redis answer, as the readiness probe last saw them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class DependencyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._up = Gauge(
            "dependency_up",
            "1 when the dependency answered the last probe (database: SELECT 1, redis: PING), "
            "0 when it did not.",
            ("dependency",),
            registry=registry,
        )
        self._failures = Counter(
            "dependency_probe_failures",
            "Probes the dependency did not answer in time, by dependency.",
            ("dependency",),
            registry=registry,
        )
        self._ready = Gauge(
            "service_ready",
            "1 while the gRPC health service answers SERVING for the server (readiness).",
            registry=registry,
        )

    def probed(self, dependency: str, up: bool) -> None:
        self._up.labels(dependency).set(1 if up else 0)
        if not up:
            self._failures.labels(dependency).inc()

    def ready(self, ready: bool) -> None:
        self._ready.set(1 if ready else 0)
