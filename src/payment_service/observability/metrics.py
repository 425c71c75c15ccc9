"""Prometheus metrics in the service's own registry (never the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from payment_service.observability.families import Families

# Latency buckets in seconds: a cached read is sub-millisecond, a Stripe round trip 0.1-0.5 s.
RPC_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class RpcMetrics:
    """Per-RPC counts and latency, labelled by full method name and status code name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        family = Families(registry)
        self._handled = family.counter(
            "grpc_server_handled",
            "RPCs completed, by method and status code.",
            "method",
            "code",
        )
        self._latency = family.histogram(
            "grpc_server_handling_seconds",
            "RPC latency from the interceptor's view, by method and status code.",
            "method",
            "code",
            buckets=RPC_LATENCY_BUCKETS,
        )
        self._rate_limited = family.counter(
            "rate_limit_rejections",
            "Calls refused by a rate limit before any work, by limit.",
            "limit",
        )
        # Label lookups take a lock and build a tuple; cache the children per (method, code).
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def rate_limited(self, limit: str) -> None:
        self._rate_limited.labels(limit).inc()

    def observe(self, method: str, code: str, seconds: float) -> None:
        children = self._children.get((method, code))
        if children is None:
            children = (self._handled.labels(method, code), self._latency.labels(method, code))
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
