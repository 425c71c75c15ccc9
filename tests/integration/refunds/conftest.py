"""Refund use cases over the real database backends and the session's localstripe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway, StripeGatewayConfig
from payment_service.app.refunds import RefundRules, Refunds
from tests.support.localstripe import LocalStripe
from tests.support.outage_proxy import OutageProxy


@pytest_asyncio.fixture
async def gateway(localstripe: LocalStripe) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key, api_base=localstripe.base_url, timeout_s=10.0
        )
    )
    try:
        yield gw
    finally:
        await gw.close()


@pytest_asyncio.fixture
async def proxied_gateway(
    outage_proxy: OutageProxy, localstripe: LocalStripe
) -> AsyncIterator[StripeGateway]:
    """Through the outage proxy: no stripe-python retries, 3 s timeout."""
    gw = StripeGateway(
        StripeGatewayConfig(
            api_key=localstripe.api_key,
            api_base=outage_proxy.base_url,
            timeout_s=3.0,
            max_network_retries=0,
        )
    )
    try:
        yield gw
    finally:
        await gw.close()


@pytest_asyncio.fixture
async def cache() -> MemoryCache:
    return MemoryCache()


@pytest_asyncio.fixture
async def refunds(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, cache: MemoryCache
) -> Refunds:
    return Refunds(uow_factory, gateway, cache, RefundRules(pending_grace_s=0))
