"""Customers: one per account."""

from __future__ import annotations

from payment_service.adapters.db.repositories._base import EntityRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import customers
from payment_service.domain.entities import Customer


class SqlCustomerRepository(EntityRepository[Customer]):
    table = customers
    codec = RowCodec(Customer)

    async def get_by_account(self, account_id: str) -> Customer | None:
        return await self._one_by({"account_id": account_id})
