"""Saved payment methods (Stripe tokens and display facts only)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import RowMapping, select

from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    by_create_time,
    entity_values,
    state_in,
)
from payment_service.adapters.db.tables import payment_methods
from payment_service.domain.clock import utcnow
from payment_service.domain.entities import PaymentMethod
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import PaymentMethodState


def _to_entity(row: RowMapping) -> PaymentMethod:
    return PaymentMethod(**{**row, "state": PaymentMethodState(row["state"])})


class SqlPaymentMethodRepository(SqlRepository):
    table = payment_methods

    async def get(self, payment_method_id: str) -> PaymentMethod | None:
        statement = select(payment_methods).where(payment_methods.c.id == payment_method_id)
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def find_by_stripe_id(self, stripe_payment_method_id: str) -> PaymentMethod | None:
        statement = select(payment_methods).where(
            payment_methods.c.stripe_payment_method_id == stripe_payment_method_id
        )
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        customer_id: str | None = None,
        states: Collection[PaymentMethodState] = (),
    ) -> Page[PaymentMethod]:
        conditions = [payment_methods.c.account_id == account_id, *state_in(self.table, states)]
        if customer_id is not None:
            conditions.append(payment_methods.c.customer_id == customer_id)
        filters = {
            "list": "payment_methods",
            "account_id": account_id,
            "customer_id": customer_id,
            "states": states,
        }
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def add(self, payment_method: PaymentMethod) -> None:
        await self._insert(entity_values(payment_method))

    async def update(self, payment_method: PaymentMethod) -> None:
        payment_method.update_time = utcnow()
        values = entity_values(payment_method, skip=("id", "create_time"))
        await self._update_by_id(payment_method.id, values)
