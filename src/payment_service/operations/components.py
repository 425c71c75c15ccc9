"""Builds the webhook pipeline and the reconciler from the settings and the core services.

Used by the composition root (``main.build_app``: the HTTP route and two background
workers) and by the operator commands (which build the same objects, run once, exit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.stripe import mapping
from payment_service.adapters.stripe.webhook_signature import StripeSignatureVerifier
from payment_service.api.http.webhooks import webhook_route
from payment_service.app.billing_events import billing_event_handlers
from payment_service.app.event_handling import EventHandler
from payment_service.app.event_registry import EventRegistry, build_event_registry
from payment_service.app.payment_events import payment_event_handlers
from payment_service.app.reconciler import Reconciler, ReconcilerRules, RepairTask
from payment_service.app.refund_events import refund_event_handlers
from payment_service.app.webhooks import RetryPolicy, Webhooks
from payment_service.config import Settings
from payment_service.observability.webhook_metrics import ReconcilerMetrics, WebhookMetrics
from payment_service.wiring import Services

RECONCILER_LOCK_NAME = "payment_service.reconciler"
# Beyond the Stripe reads, an attempt needs a few short transactions.
CLAIM_LEASE_MARGIN_S = 30.0


def claim_lease_s(settings: Settings) -> float:
    """How long a claimed webhook event stays ours: configured, or long enough for every
    Stripe read one application may make (each: timeout x (retries + 1)) plus a margin."""
    if settings.webhook_claim_lease_s > 0:
        return settings.webhook_claim_lease_s
    per_read = settings.stripe_timeout_s * (settings.stripe_max_network_retries + 1)
    return per_read * RetryPolicy().max_reads + CLAIM_LEASE_MARGIN_S


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        base_delay_s=settings.webhook_retry_base_s,
        max_delay_s=settings.webhook_retry_max_delay_s,
        lease_s=claim_lease_s(settings),
    )


@dataclass
class WebhookComponents:
    registry: EventRegistry
    webhooks: Webhooks
    verifier: StripeSignatureVerifier
    reconciler: Reconciler
    retry_poll_s: float
    reconcile_interval_s: float

    def http_routes(self) -> list[web.RouteDef]:
        """``POST /stripe/webhooks`` for the sidecar."""
        return [webhook_route(self.webhooks, self.verifier)]

    async def run_retrier(self, stopping: asyncio.Event) -> None:
        """Background worker: re-applies failed and replayed events until ``stopping`` is set."""
        await self.webhooks.run_retrier(self.retry_poll_s, stopping)

    async def run_reconciler(self, stopping: asyncio.Event) -> None:
        """Background worker: a reconciler pass every ``reconcile_interval_s`` (0: never)."""
        await self.reconciler.run_forever(self.reconcile_interval_s, stopping)


def build_webhook_components(
    settings: Settings,
    services: Services,
    metrics_registry: CollectorRegistry,
    *,
    extra_handlers: Sequence[Mapping[str, EventHandler]] = (),
    extra_repairs: Sequence[RepairTask] = (),
) -> WebhookComponents:
    """Every capability's event handlers and reconciler tasks, plus ``extra_*`` (tests)."""
    registry = build_event_registry(
        payment_event_handlers(mapping, services.processor),
        refund_event_handlers(mapping=mapping, processor=services.processor),
        billing_event_handlers(),
        *extra_handlers,
    )
    webhooks = Webhooks(
        services.uow_factory,
        registry,
        mapping,
        services.cache,
        WebhookMetrics(metrics_registry),
        retry_policy(settings),
    )
    verifier = StripeSignatureVerifier(
        [secret.get_secret_value() for secret in settings.stripe_webhook_secrets],
        tolerance_s=settings.stripe_webhook_tolerance_s,
    )
    reconciler = Reconciler(
        services.uow_factory,
        services.processor,
        services.payments,
        webhooks,
        services.cache,
        AdvisoryLock(services.uow_factory.engine, RECONCILER_LOCK_NAME),
        ReconcilerMetrics(metrics_registry),
        ReconcilerRules(stuck_after_s=settings.reconcile_stuck_after_s),
        [services.refunds.repair_pending, *extra_repairs],
    )
    return WebhookComponents(
        registry=registry,
        webhooks=webhooks,
        verifier=verifier,
        reconciler=reconciler,
        retry_poll_s=settings.webhook_retry_poll_s,
        reconcile_interval_s=settings.reconcile_interval_s,
    )
