"""Customers: one per account."""

from __future__ import annotations

from sqlalchemy import RowMapping, select

from payment_service.adapters.db.repositories._base import SqlRepository, entity_values
from payment_service.adapters.db.tables import customers
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import Customer


def _to_entity(row: RowMapping) -> Customer:
    return Customer(**row)


class SqlCustomerRepository(SqlRepository):
    table = customers

    async def get(self, customer_id: str) -> Customer | None:
        row = await self._first(select(customers).where(customers.c.id == customer_id))
        return _to_entity(row) if row else None

    async def get_by_account(self, account_id: str) -> Customer | None:
        row = await self._first(select(customers).where(customers.c.account_id == account_id))
        return _to_entity(row) if row else None

    async def find_by_stripe_id(self, stripe_customer_id: str) -> Customer | None:
        statement = select(customers).where(customers.c.stripe_customer_id == stripe_customer_id)
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def add(self, customer: Customer) -> None:
        await self._insert(entity_values(customer))

    async def update(self, customer: Customer) -> None:
        customer.update_time = utcnow()
        await self._update_by_id(customer.id, entity_values(customer, skip=("id", "create_time")))
