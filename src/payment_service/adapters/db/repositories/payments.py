"""Payments, stored in the ``transactions`` table."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import RowMapping, Select, func, select

from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    by_create_time,
    created_between,
    entity_values,
    state_in,
)
from payment_service.adapters.db.tables import transactions
from payment_service.domain.entities import Payment
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import CaptureMethod, PaymentState
from payment_service.domain.transitions import PAYMENT_TRANSITIONS

_LIVE_STATES = [
    state.value
    for state in PaymentState
    if state is not PaymentState.PENDING and not PAYMENT_TRANSITIONS.is_terminal(state)
]


def _to_entity(row: RowMapping) -> Payment:
    return Payment(
        **{
            **row,
            "state": PaymentState(row["state"]),
            "capture_method": CaptureMethod(row["capture_method"]),
        }
    )


class SqlPaymentRepository(SqlRepository):
    table = transactions

    async def _one(self, statement: Select[tuple[object, ...]]) -> Payment | None:
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def get(self, payment_id: str) -> Payment | None:
        return await self._one(select(transactions).where(transactions.c.id == payment_id))

    async def get_for_update(self, payment_id: str) -> Payment | None:
        statement = select(transactions).where(transactions.c.id == payment_id).with_for_update()
        return await self._one(statement)

    async def find_by_request(self, caller: str, request_id: str) -> Payment | None:
        statement = select(transactions).where(
            transactions.c.caller == caller, transactions.c.request_id == request_id
        )
        return await self._one(statement)

    async def find_by_stripe_id(
        self, stripe_payment_intent_id: str, *, for_update: bool = False
    ) -> Payment | None:
        statement = select(transactions).where(
            transactions.c.stripe_payment_intent_id == stripe_payment_intent_id
        )
        return await self._one(statement.with_for_update() if for_update else statement)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[PaymentState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Payment]:
        conditions = [
            transactions.c.account_id == account_id,
            *state_in(self.table, states),
            *created_between(self.table, created_after, created_before),
        ]
        filters = {
            "list": "payments",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        statement = (
            select(transactions)
            .where(
                transactions.c.state == PaymentState.PENDING.value,
                transactions.c.create_time < older_than,
            )
            .order_by(transactions.c.create_time)
            .limit(limit)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        last_sync = func.coalesce(transactions.c.synced_at, transactions.c.update_time)
        statement = (
            select(transactions)
            .where(transactions.c.state.in_(_LIVE_STATES), last_sync < older_than)
            .order_by(last_sync)
            .limit(limit)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def add(self, payment: Payment) -> None:
        await self._insert(entity_values(payment))

    async def update(self, payment: Payment) -> None:
        values = entity_values(payment, skip=("id", "create_time", "version", "update_time"))
        await self._update_versioned(payment, values)
