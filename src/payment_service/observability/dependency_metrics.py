"""Whether the database and Redis answer, as the readiness probe last saw them."""

from __future__ import annotations

from payment_service.observability.catalogue import DependencyFamilies


class DependencyMetrics(DependencyFamilies):
    def probed(self, dependency: str, up: bool) -> None:
        self.up.labels(dependency).set(1 if up else 0)
        if not up:
            self.probe_failures.labels(dependency).inc()

    def ready(self, ready: bool) -> None:
        self.service_ready.set(1 if ready else 0)
