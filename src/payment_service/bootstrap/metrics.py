"""The metric families the services feed, built once on the service's registry
(docs/metrics.md lists every metric)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from payment_service.observability.cache_metrics import CacheMetrics
from payment_service.observability.pool_metrics import PoolMetrics
from payment_service.observability.stripe_metrics import StripeMetrics
from payment_service.observability.webhook_metrics import ReconcilerMetrics, WebhookMetrics


@dataclass(frozen=True)
class ServiceMetrics:
    registry: CollectorRegistry
    webhooks: WebhookMetrics
    reconciler: ReconcilerMetrics
    stripe: StripeMetrics
    cache: CacheMetrics
    pool: PoolMetrics

    @classmethod
    def on(cls, registry: CollectorRegistry) -> ServiceMetrics:
        return cls(
            registry=registry,
            webhooks=WebhookMetrics(registry),
            reconciler=ReconcilerMetrics(registry),
            stripe=StripeMetrics(registry),
            cache=CacheMetrics(registry),
            pool=PoolMetrics(registry),
        )
