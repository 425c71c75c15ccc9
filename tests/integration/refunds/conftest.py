"""Refund use cases over the real database backends and the session's localstripe."""

from __future__ import annotations

import pytest_asyncio

from payment_service.adapters.cache.memory import MemoryCache
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.adapters.stripe import StripeGateway
from payment_service.app.refunds.rules import RefundRules
from payment_service.app.refunds.service import Refunds


@pytest_asyncio.fixture
async def cache() -> MemoryCache:
    return MemoryCache()


@pytest_asyncio.fixture
async def refunds(
    uow_factory: SqlUnitOfWorkFactory, gateway: StripeGateway, cache: MemoryCache
) -> Refunds:
    return Refunds(uow_factory, gateway, cache, RefundRules(pending_grace_s=0))
