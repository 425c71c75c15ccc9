"""Recurring prices, mirrored from Stripe."""

from __future__ import annotations

from payment_service.adapters.db.repositories._base import EntityRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import prices
from payment_service.domain.entities import Price
from payment_service.domain.pagination import Page, PageRequest


class SqlPriceRepository(EntityRepository[Price]):
    table = prices
    codec = RowCodec(Price)

    async def list_prices(self, *, page: PageRequest, include_inactive: bool) -> Page[Price]:
        conditions = [] if include_inactive else [prices.c.active.is_(True)]
        filters = {"list": "prices", "include_inactive": include_inactive}
        return await self._page(conditions, page, filters)

    async def list_for_product(self, stripe_product_id: str) -> list[Price]:
        statement = self._select(prices.c.stripe_product_id == stripe_product_id)
        return await self._many(statement.order_by(prices.c.create_time, prices.c.id))
