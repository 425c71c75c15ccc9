"""Builds the storage, cache, Stripe gateway and use cases from settings, once.

``main.build_app`` calls ``build_services``; it is the only place (with
main.py) that knows the concrete adapter classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.cache.redis_cache import RedisCache
from payment_service.adapters.db.encrypted import use_field_cipher
from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.schema_check import ensure_schema_current
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe.config import StripeGatewayConfig
from payment_service.adapters.stripe.gateway import StripeGateway
from payment_service.api.grpc.payment_servicer import PaymentServicer
from payment_service.api.grpc.refund_servicer import RefundServicer
from payment_service.app.cache import Cache
from payment_service.app.customers import Customers
from payment_service.app.payment_methods import PaymentMethods
from payment_service.app.payments import PaymentRules, Payments
from payment_service.app.refunds import RefundRules, Refunds
from payment_service.config import ConfigError, Settings
from payment_service.security.field_cipher import FieldCipher, FieldCipherError

log = logging.getLogger(__name__)


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

    def __init__(self, client: Cache | StripeGateway) -> None:
        self._client = client

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._client.close()


@dataclass
class Services:
    database: Database
    uow_factory: SqlUnitOfWorkFactory
    cache: Cache
    processor: StripeGateway
    customers: Customers
    payments: Payments
    payment_methods: PaymentMethods
    refunds: Refunds

    @property
    def resources(self) -> list[Database | Closing]:
        return [self.database, Closing(self.cache), Closing(self.processor)]

    def payment_servicer(self) -> PaymentServicer:
        return PaymentServicer(self.payments, self.customers, self.payment_methods)

    def refund_servicer(self) -> RefundServicer:
        return RefundServicer(self.refunds)


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url is None:
        return MemoryCache()
    return RedisCache.from_url(settings.redis_url.get_secret_value())


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


def build_services(settings: Settings) -> Services:
    use_field_cipher(build_field_cipher(settings))
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout_s=settings.database_pool_timeout_s,
        statement_timeout_ms=settings.database_statement_timeout_ms,
        echo=settings.database_echo,
    )
    uow_factory = SqlUnitOfWorkFactory(engine)
    cache = build_cache(settings)
    processor = StripeGateway(StripeGatewayConfig.from_settings(settings))
    customers = Customers(uow_factory, processor)
    rules = PaymentRules(
        currencies=frozenset(settings.currencies),
        refresh_after_s=settings.payment_refresh_after_s,
        cache_ttl_s=settings.cache_ttl_s,
        stripe_lease_s=settings.stripe_timeout_s * (settings.stripe_max_network_retries + 1) + 5,
    )
    payments = Payments(uow_factory, processor, cache, customers, rules)
    payment_methods = PaymentMethods(uow_factory, processor, customers)
    refunds = Refunds(
        uow_factory, processor, cache, RefundRules(pending_grace_s=rules.stripe_lease_s)
    )
    return Services(
        database=Database(engine),
        uow_factory=uow_factory,
        cache=cache,
        processor=processor,
        customers=customers,
        payments=payments,
        payment_methods=payment_methods,
        refunds=refunds,
    )
