"""The one composition root: storage, cache, Stripe, use cases, webhooks and reconciler,
built once from the settings.

Production (``bootstrap.app``), the operator commands (``cli``) and every test stack
build through ``build_services``; tests pass ``Overrides`` to swap a part for another
real one (their own database engine, a recording cache, a stalling processor, faster
retry and reconciler schedules, extra event handlers) instead of wiring by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Protocol

from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.cache.near import NearCache
from payment_service.adapters.cache.redis_cache import RedisCache
from payment_service.adapters.db.advisory_lock import AdvisoryLock
from payment_service.adapters.db.encrypted import use_field_cipher
from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import ensure_schema_current
from payment_service.adapters.db.tracing import trace_engine
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import mapping
from payment_service.adapters.stripe.billing_gateway import StripeBillingGateway
from payment_service.adapters.stripe.billing_mapping import CURRENT_API
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.gateway import StripeGateway
from payment_service.adapters.stripe.outbound import OutboundLimiter
from payment_service.adapters.stripe.webhook_signature import StripeSignatureVerifier
from payment_service.app.billing.events import billing_event_handlers
from payment_service.app.billing.service import Billing
from payment_service.app.customers.accounts import Customers
from payment_service.app.customers.events import customer_event_handlers
from payment_service.app.customers.payment_methods import PaymentMethods
from payment_service.app.payments.events import payment_event_handlers
from payment_service.app.payments.rules import PaymentRules
from payment_service.app.payments.service import Payments
from payment_service.app.ports.billing import BillingMapping, BillingProcessor
from payment_service.app.ports.cache import Cache
from payment_service.app.ports.events import EventHandler
from payment_service.app.ports.failpoints import Failpoints
from payment_service.app.ports.processor import PaymentProcessor
from payment_service.app.ports.rate_limit import RateLimiter
from payment_service.app.ports.reconcile import ReconcileLock, RepairTask
from payment_service.app.reconcile.reconciler import Reconciler
from payment_service.app.reconcile.rules import ReconcilerRules
from payment_service.app.refunds.events import refund_event_handlers
from payment_service.app.refunds.rules import RefundRules
from payment_service.app.refunds.service import Refunds
from payment_service.app.webhooks.policy import RetryPolicy
from payment_service.app.webhooks.registry import EventRegistry, build_event_registry
from payment_service.app.webhooks.service import Webhooks
from payment_service.bootstrap.billing import billing_rules, build_billing
from payment_service.bootstrap.disputes import CardsAndDisputes, build_cards_and_disputes
from payment_service.bootstrap.events import EventEngine, install_outbox
from payment_service.bootstrap.failpoints import failpoints_from
from payment_service.bootstrap.limits import build_rate_limiter, outbound_limiter
from payment_service.bootstrap.metrics import ServiceMetrics
from payment_service.bootstrap.policies import ingest_policy, payment_rules, retry_policy
from payment_service.bootstrap.tracing import TracingFlush, process_tracer_provider
from payment_service.config import ConfigError, Settings
from payment_service.observability.cache_metrics import MeasuredCache
from payment_service.observability.webhook_metrics import WebhookMetrics
from payment_service.security.field_cipher import FieldCipher, FieldCipherError

RECONCILER_LOCK_NAME = "payment_service.reconciler"


class Component(Protocol):
    """Anything with a lifetime inside the process."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def start_in_order(components: Iterable[Component], running: AsyncExitStack) -> None:
    """Start each component in turn, pushing its stop on ``running`` (undone in reverse)."""
    for component in components:
        await component.start()
        running.push_async_callback(component.stop)


class Closable(Protocol):
    async def close(self) -> None: ...


class Database:
    """The engine as a component: checks the schema at start, closes the pool at stop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start(self) -> None:
        await ensure_schema_current(self.engine)

    async def stop(self) -> None:
        await self.engine.dispose()


class Closing:
    """Closes a client (cache, Stripe gateway) at stop."""

    def __init__(self, client: Closable) -> None:
        self._client = client

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._client.close()


@dataclass(frozen=True)
class Overrides:
    """Parts a test supplies itself; a part it supplies is not started or stopped by us."""

    uow_factory: SqlUnitOfWorkFactory | None = None
    processor: PaymentProcessor | None = None
    billing_processor: BillingProcessor | None = None
    billing_mapping: BillingMapping | None = None
    cache: Cache | None = None
    payment_rules: PaymentRules | None = None
    refund_rules: RefundRules | None = None
    reconciler_rules: ReconcilerRules | None = None
    retry_policy: RetryPolicy | None = None
    reconcile_lock: ReconcileLock | None = None
    failpoints: Failpoints | None = None
    metrics_registry: CollectorRegistry | None = None
    rate_limiter: RateLimiter | None = None
    extra_handlers: Sequence[Mapping[str, EventHandler]] = ()
    extra_repairs: Sequence[RepairTask] = ()
    # Spans of the adapters we build (database, Redis, Stripe) and of the RPCs go here.
    tracer_provider: TracerProvider | None = None


@dataclass(frozen=True)
class Wiring:
    """What every corner of the composition root builds from: the settings, the test's
    overrides, and the resources (started and stopped in order) it adds its own to."""

    settings: Settings
    given: Overrides
    resources: list[Component]


@dataclass
class Services:
    settings: Settings
    uow_factory: SqlUnitOfWorkFactory
    cache: Cache
    processor: PaymentProcessor
    customers: Customers
    payments: Payments
    payment_methods: PaymentMethods
    refunds: Refunds
    billing: Billing
    registry: EventRegistry
    webhooks: Webhooks
    verifier: StripeSignatureVerifier
    reconciler: Reconciler
    metrics_registry: CollectorRegistry
    rate_limiter: RateLimiter
    cards: CardsAndDisputes  # SetupIntents and disputes
    webhook_metrics: WebhookMetrics
    resources: list[Component] = field(default_factory=list)
    tracer_provider: TracerProvider | None = None
    event_engine: EventEngine | None = None  # EventService's feed (bootstrap/events.py)

    _running: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start(self) -> None:
        """Start the resources (for commands and tests that run without the listeners);
        when one fails, those already started are stopped again."""
        try:
            await start_in_order(self.resources, self._running)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop what ``start`` started, in reverse order."""
        await self._running.aclose()


def build_services(settings: Settings, overrides: Overrides | None = None) -> Services:
    """Every capability, built from the settings over the parts ``overrides`` does not
    supply; what has a lifetime (tracing flush, Redis limiter, database, cache, Stripe
    connections, the event feed) goes into ``resources``, to be started in that order."""
    wiring = _wiring(settings, overrides or Overrides())
    rate_limiter = _rate_limiter(wiring)
    parts = _shared_parts(wiring, rate_limiter)
    event_engine = EventEngine(settings, parts.uow_factory)
    wiring.resources.append(event_engine)
    payments = _payments(parts)
    refunds = _refunds(parts)
    billing, billing_handlers = _billing(parts)
    cards = _cards(parts)
    registry = event_registry(
        parts.processor, cards.handlers, *wiring.given.extra_handlers, billing=billing_handlers
    )
    webhooks = _webhooks(parts, registry)
    repairs = [
        refunds.repair_pending,
        *billing.repair.tasks(),
        *cards.repairs,
        *wiring.given.extra_repairs,
    ]
    return Services(
        settings=settings,
        uow_factory=parts.uow_factory,
        cache=parts.cache,
        processor=parts.processor,
        customers=parts.customers,
        payments=payments,
        payment_methods=PaymentMethods(
            parts.uow_factory, parts.processor, parts.customers, parts.failpoints
        ),
        refunds=refunds,
        billing=billing,
        registry=registry,
        webhooks=webhooks,
        verifier=_verifier(settings),
        reconciler=_reconciler(parts, payments, webhooks, repairs),
        metrics_registry=parts.metrics.registry,
        rate_limiter=rate_limiter,
        cards=cards,
        webhook_metrics=parts.metrics.webhooks,
        resources=wiring.resources,
        tracer_provider=wiring.given.tracer_provider,
        event_engine=event_engine,
    )


def _wiring(settings: Settings, given: Overrides) -> Wiring:
    """The settings and overrides, with the process's tracer provider (flushed at stop)
    unless the test supplied its own."""
    resources: list[Component] = []
    if given.tracer_provider is None:
        provider = process_tracer_provider(settings)
        if provider is not None:
            given = replace(given, tracer_provider=provider)
            resources.append(Closing(TracingFlush(provider)))
    return Wiring(settings, given, resources)


def _shared_parts(wiring: Wiring, rate_limiter: RateLimiter) -> SharedParts:
    """The metrics, adapters, failpoints, customers and payment rules every capability
    builds on."""
    settings, given = wiring.settings, wiring.given
    outbound = outbound_limiter(settings, rate_limiter)
    metrics = ServiceMetrics.on(given.metrics_registry or CollectorRegistry(auto_describe=True))
    uow_factory, cache, processor = _adapters(wiring, outbound, metrics)
    failpoints = given.failpoints or failpoints_from(settings)
    install_outbox(failpoints)
    return SharedParts(
        wiring,
        uow_factory,
        cache,
        processor,
        Customers(uow_factory, processor),
        metrics,
        outbound,
        given.payment_rules or payment_rules(settings),
        failpoints,
    )


def _payments(parts: SharedParts) -> Payments:
    return Payments(
        parts.uow_factory,
        parts.processor,
        parts.cache,
        parts.customers,
        parts.payment_rules,
        parts.failpoints,
    )


def _refunds(parts: SharedParts) -> Refunds:
    """Refunds; a pending one is left to the request sending it for a Stripe lease."""
    rules = parts.wiring.given.refund_rules or RefundRules(pending_grace_s=parts.stripe_lease_s)
    return Refunds(parts.uow_factory, parts.processor, parts.cache, rules, parts.failpoints)


def _webhooks(parts: SharedParts, registry: EventRegistry) -> Webhooks:
    """Stored Stripe events applied through ``registry``, retried on the policy's schedule."""
    settings = parts.wiring.settings
    return Webhooks(
        parts.uow_factory,
        registry,
        mapping,
        parts.cache,
        parts.metrics.webhooks,
        parts.wiring.given.retry_policy or retry_policy(settings),
        ingest_policy(settings),
        parts.failpoints,
    )


def _reconciler(
    parts: SharedParts, payments: Payments, webhooks: Webhooks, repairs: Sequence[RepairTask]
) -> Reconciler:
    """The periodic repair pass: one replica at a time (an advisory lock), ``repairs`` after
    the payments and webhooks it checks itself."""
    given, settings = parts.wiring.given, parts.wiring.settings
    return Reconciler(
        parts.uow_factory,
        parts.processor,
        payments,
        webhooks,
        given.reconcile_lock or AdvisoryLock(parts.uow_factory.engine, RECONCILER_LOCK_NAME),
        parts.metrics.reconciler,
        given.reconciler_rules or ReconcilerRules(stuck_after_s=settings.reconcile_stuck_after_s),
        repairs,
    )


def _rate_limiter(wiring: Wiring) -> RateLimiter:
    if wiring.given.rate_limiter is not None:
        return wiring.given.rate_limiter
    limiter, redis_limiter = build_rate_limiter(wiring.settings)
    if redis_limiter is not None:
        wiring.resources.append(Closing(redis_limiter))
    return limiter


def _adapters(
    wiring: Wiring, outbound: OutboundLimiter | None, metrics: ServiceMetrics
) -> tuple[SqlUnitOfWorkFactory, Cache, PaymentProcessor]:
    """The database, cache and Stripe gateway the test did not supply, as resources;
    the cache, whoever supplied it, behind its hit and miss counters."""
    settings, given, resources = wiring.settings, wiring.given, wiring.resources
    uow_factory = given.uow_factory
    if uow_factory is None:
        use_field_cipher(build_field_cipher(settings))
        uow_factory = SqlUnitOfWorkFactory(_engine(settings, metrics))
        resources.append(Database(uow_factory.engine))
        if given.tracer_provider is not None:
            trace_engine(uow_factory.engine, given.tracer_provider)
    cache = given.cache
    if cache is None:
        cache = build_cache(settings)
        resources.append(Closing(cache))
        if isinstance(cache, RedisCache | NearCache) and given.tracer_provider is not None:
            cache.trace(given.tracer_provider)
    processor = given.processor
    if processor is None:
        processor = StripeGateway(_stripe_config(wiring, outbound, metrics))
        resources.append(Closing(processor))
    return uow_factory, MeasuredCache(cache, metrics.cache), processor


def _stripe_config(
    wiring: Wiring, outbound: OutboundLimiter | None, metrics: ServiceMetrics
) -> StripeGatewayConfig:
    return StripeGatewayConfig.from_settings(
        wiring.settings,
        outbound,
        observer=metrics.stripe,
        tracer_provider=wiring.given.tracer_provider,
    )


def _verifier(settings: Settings) -> StripeSignatureVerifier:
    return StripeSignatureVerifier(
        [secret.get_secret_value() for secret in settings.stripe_webhook_secrets],
        tolerance_s=settings.stripe_webhook_tolerance_s,
    )


@dataclass(frozen=True)
class SharedParts:
    """What billing, SetupIntents and disputes share with payments."""

    wiring: Wiring
    uow_factory: SqlUnitOfWorkFactory
    cache: Cache
    processor: PaymentProcessor
    customers: Customers
    metrics: ServiceMetrics
    outbound: OutboundLimiter | None
    payment_rules: PaymentRules
    failpoints: Failpoints

    @property
    def stripe_lease_s(self) -> float:
        """How long one caller may hold a row while it talks to Stripe; the other
        capabilities' leases and grace periods follow it."""
        return self.payment_rules.stripe_lease_s

    def stripe_config(self) -> StripeGatewayConfig:
        return _stripe_config(self.wiring, self.outbound, self.metrics)


def _billing(parts: SharedParts) -> tuple[Billing, Mapping[str, EventHandler]]:
    """The billing capability and its event handlers."""
    billing_processor, billing_mapping = _billing_adapters(parts)
    billing = build_billing(
        parts.uow_factory,
        parts.cache,
        parts.processor,
        billing_processor,
        parts.customers,
        billing_rules(parts.wiring.settings, parts.stripe_lease_s),
        parts.failpoints,
    )
    handlers = billing_event_handlers(billing_mapping, billing_processor, parts.processor)
    return billing, handlers


def _cards(parts: SharedParts) -> CardsAndDisputes:
    """SetupIntents and disputes over a Stripe connection of their own (closed at stop)."""
    cards = build_cards_and_disputes(
        parts.wiring.settings,
        parts.stripe_config(),
        uow_factory=parts.uow_factory,
        cache=parts.cache,
        processor=parts.processor,
        customers=parts.customers,
        registry=parts.metrics.registry,
        stripe_lease_s=parts.stripe_lease_s,
        failpoints=parts.failpoints,
    )
    parts.wiring.resources.append(Closing(cards.connection))
    return cards


def _billing_adapters(parts: SharedParts) -> tuple[BillingProcessor, BillingMapping]:
    """Stripe Billing and its event mapping, unless the test supplied them."""
    given = parts.wiring.given
    if given.billing_processor is not None:
        return given.billing_processor, given.billing_mapping or CURRENT_API
    gateway = StripeBillingGateway(parts.stripe_config())
    parts.wiring.resources.append(Closing(gateway))
    return gateway, given.billing_mapping or gateway.mapping


def event_registry(
    processor: PaymentProcessor,
    *extra: Mapping[str, EventHandler],
    billing: Mapping[str, EventHandler] | None = None,
) -> EventRegistry:
    """Every capability's event handlers (plus ``extra``, for tests) in one table.

    ``billing`` is the billing capability's handlers (they need Stripe Billing); a table
    built without them stores and ignores billing events.
    """
    return build_event_registry(
        customer_event_handlers(mapping, processor),
        payment_event_handlers(mapping),
        refund_event_handlers(mapping=mapping, processor=processor),
        billing or {},
        *extra,
    )


def _engine(settings: Settings, metrics: ServiceMetrics) -> AsyncEngine:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout_s=settings.database_pool_timeout_s,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        echo=settings.database_echo,
        pool_observer=metrics.pool,
    )
    metrics.pool.watch(engine, settings.database_pool_size + settings.database_max_overflow)
    return engine


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url is None:
        return MemoryCache()
    # Hits served from an in-process copy that Redis's change notices keep current.
    return NearCache.from_url(settings.redis_url.get_secret_value())


def build_field_cipher(settings: Settings) -> FieldCipher:
    if not settings.pii_encryption_keys:
        raise ConfigError(
            "pii_encryption_keys (PAYMENT_PII_ENCRYPTION_KEYS): required, e.g. "
            '["k1:<base64 of 32 random bytes>"] (personal data is encrypted at rest)'
        )
    try:
        return FieldCipher.from_specs(
            [key.get_secret_value() for key in settings.pii_encryption_keys],
            settings.pii_active_key_id,
        )
    except FieldCipherError as exc:
        raise ConfigError(f"pii_encryption_keys (PAYMENT_PII_ENCRYPTION_KEYS): {exc}") from None
