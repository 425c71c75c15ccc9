"""Recurring prices."""

from __future__ import annotations

from sqlalchemy import RowMapping, select

from payment_service.adapters.db.repositories._base import SqlRepository, entity_values
from payment_service.adapters.db.tables import prices
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Price
from payment_service.domain.states import PriceInterval


def _to_entity(row: RowMapping) -> Price:
    return Price(**{**row, "interval": PriceInterval(row["interval"])})


class SqlPriceRepository(SqlRepository):
    table = prices

    async def get(self, price_id: str) -> Price | None:
        row = await self._first(select(prices).where(prices.c.id == price_id))
        return _to_entity(row) if row else None

    async def find_by_stripe_id(self, stripe_price_id: str) -> Price | None:
        row = await self._first(select(prices).where(prices.c.stripe_price_id == stripe_price_id))
        return _to_entity(row) if row else None

    async def list_active(self) -> list[Price]:
        statement = select(prices).where(prices.c.active.is_(True)).order_by(prices.c.id)
        return [_to_entity(row) for row in await self._all(statement)]

    async def add(self, price: Price) -> None:
        await self._insert(entity_values(price))

    async def update(self, price: Price) -> None:
        price.update_time = utcnow()
        await self._update_by_id(price.id, entity_values(price, skip=("id", "create_time")))
