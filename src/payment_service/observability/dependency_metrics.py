"""Whether the database and Redis answer, as the readiness probe last saw them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from payment_service.observability.families import Families


class DependencyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._up = family.gauge(
            "dependency_up",
            "1 when the dependency answered the last probe (database: SELECT 1, redis: PING), "
            "0 when it did not.",
            "dependency",
        )
        self._failures = family.counter(
            "dependency_probe_failures",
            "Probes the dependency did not answer in time, by dependency.",
            "dependency",
        )
        self._ready = family.gauge(
            "service_ready",
            "1 while the gRPC health service answers SERVING for the server (readiness).",
        )

    def probed(self, dependency: str, up: bool) -> None:
        self._up.labels(dependency).set(1 if up else 0)
        if not up:
            self._failures.labels(dependency).inc()

    def ready(self, ready: bool) -> None:
        self._ready.set(1 if ready else 0)
