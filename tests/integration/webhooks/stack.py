"""Payments, the webhook pipeline and the reconciler over a real database and localstripe."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.adapters.stripe.webhook_signature import StripeSignatureVerifier
from payment_service.api.http.sidecar import HttpSidecar
from payment_service.api.http.webhooks import webhook_route
from payment_service.app.payments.rules import CreatePayment, PaymentRules
from payment_service.app.payments.service import Payments
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.reconcile import RepairTask
from payment_service.app.reconcile.reconciler import Reconciler
from payment_service.app.reconcile.rules import ReconcilerRules
from payment_service.app.webhooks.policy import RetryPolicy
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.services import Overrides, build_services
from payment_service.config import Settings
from payment_service.domain.caller import Caller
from payment_service.domain.entities import Payment
from tests.integration.webhooks.support import SECRET

CALLER = Caller(sub="svc-webhook-tests", scopes=frozenset({"payments:write"}))


@dataclass
class PaymentStack:
    uow_factory: SqlUnitOfWorkFactory
    gateway: StripeGateway
    processor: Any
    cache: MemoryCache
    payments: Payments
    webhooks: Webhooks
    reconciler: Reconciler
    metrics: CollectorRegistry

    async def create(
        self, payment_method: str | None, *, confirm: bool = True, **fields: Any
    ) -> Payment:
        command = CreatePayment(
            request_id=f"req_{secrets.token_hex(6)}",
            account_id=fields.pop("account_id", None) or f"acct_{secrets.token_hex(6)}",
            amount=fields.pop("amount", 2500),
            currency="usd",
            payment_method=payment_method or "",
            confirm=confirm,
            **fields,
        )
        return await self.payments.create(CALLER, command)

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.metrics.get_sample_value(name, labels or {}) or 0.0


def build_stack(
    uow_factory: SqlUnitOfWorkFactory,
    gateway: StripeGateway,
    *,
    processor: PaymentProcessor | None = None,
    rules: ReconcilerRules | None = None,
    extra_tasks: Sequence[RepairTask] = (),
) -> PaymentStack:
    """The production wiring (``bootstrap``) over the test's database and Stripe, with
    fast retry and reconciler schedules."""
    used: Any = processor or gateway
    cache = MemoryCache()
    metrics = CollectorRegistry()
    services = build_services(
        Settings(stripe_api_key="sk_test_stack"),
        Overrides(
            uow_factory=uow_factory,
            processor=used,
            cache=cache,
            payment_rules=PaymentRules(currencies=frozenset({"usd"}), stripe_lease_s=5.0),
            reconciler_rules=rules
            or ReconcilerRules(pending_grace_s=0, stuck_after_s=1, event_overlap_s=5),
            retry_policy=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2),
            reconcile_lock=AdvisoryLock(uow_factory.engine, "tests.reconciler"),
            metrics_registry=metrics,
            extra_repairs=extra_tasks,
        ),
    )
    return PaymentStack(
        uow_factory,
        gateway,
        used,
        cache,
        services.payments,
        services.webhooks,
        services.reconciler,
        metrics,
    )


async def serve_webhooks(webhooks: Webhooks) -> AsyncIterator[str]:
    """The sidecar with the webhook route on a free port; yields the webhook URL."""
    sidecar = HttpSidecar(
        host="127.0.0.1",
        port=0,
        routes=[webhook_route(webhooks, StripeSignatureVerifier([SECRET]))],
    )
    await sidecar.start()
    try:
        yield f"http://127.0.0.1:{sidecar.port}/stripe/webhooks"
    finally:
        await sidecar.stop()


def gateway_config(base_url: str, api_key: str, timeout_s: float = 10.0) -> StripeGatewayConfig:
    return StripeGatewayConfig(
        api_key=api_key, api_base=base_url, timeout_s=timeout_s, max_network_retries=0
    )
