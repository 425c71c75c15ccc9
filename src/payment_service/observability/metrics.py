"""Prometheus metrics in the service's own registry (never the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from payment_service.observability.catalogue import RpcFamilies

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class RpcMetrics(RpcFamilies):
    """Per-RPC counts and latency, labelled by full method name and status code name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        # Label lookups take a lock and build a tuple; cache the children per (method, code).
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def rate_limited(self, limit: str) -> None:
        self.rejections.labels(limit).inc()

    def observe(self, method: str, code: str, seconds: float) -> None:
        children = self._children.get((method, code))
        if children is None:
            children = (
                self.handled.labels(method, code),
                self.handling_seconds.labels(method, code),
            )
            self._children[(method, code)] = children
        children[0].inc()
        children[1].observe(seconds)


class Metrics:
    """The service's registry and the metric families every component shares."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.rpc = RpcMetrics(self.registry)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
