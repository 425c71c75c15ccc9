"""Refunds of payments."""

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
from payment_service.adapters.db.tables import refunds
from payment_service.domain.entities import RESERVING_REFUND_STATES, Refund
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import RefundReason, RefundState


def _to_entity(row: RowMapping) -> Refund:
    reason = row["reason"]
    return Refund(
        **{
            **row,
            "state": RefundState(row["state"]),
            "reason": RefundReason(reason) if reason is not None else None,
        }
    )


class SqlRefundRepository(SqlRepository):
    table = refunds

    async def _one(self, statement: Select[tuple[object, ...]]) -> Refund | None:
        row = await self._first(statement)
        return _to_entity(row) if row else None

    async def get(self, refund_id: str) -> Refund | None:
        return await self._one(select(refunds).where(refunds.c.id == refund_id))

    async def get_for_update(self, refund_id: str) -> Refund | None:
        return await self._one(select(refunds).where(refunds.c.id == refund_id).with_for_update())

    async def find_by_request(self, caller: str, request_id: str) -> Refund | None:
        statement = select(refunds).where(
            refunds.c.caller == caller, refunds.c.request_id == request_id
        )
        return await self._one(statement)

    async def find_by_stripe_id(
        self, stripe_refund_id: str, *, for_update: bool = False
    ) -> Refund | None:
        statement = select(refunds).where(refunds.c.stripe_refund_id == stripe_refund_id)
        return await self._one(statement.with_for_update() if for_update else statement)

    async def list_for_payment(self, payment_id: str, *, page: PageRequest) -> Page[Refund]:
        filters = {"list": "refunds.payment", "payment_id": payment_id}
        conditions = [refunds.c.payment_id == payment_id]
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[RefundState] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[Refund]:
        conditions = [
            refunds.c.account_id == account_id,
            *state_in(self.table, states),
            *created_between(self.table, created_after, created_before),
        ]
        filters = {
            "list": "refunds.account",
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._keyset_page(conditions, page, filters, _to_entity, by_create_time)

    async def sum_refundable_reserved(self, payment_id: str) -> int:
        statement = select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.payment_id == payment_id,
            refunds.c.state.in_([state.value for state in RESERVING_REFUND_STATES]),
        )
        return int((await self._execute(statement)).scalar_one())

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        statement = (
            select(refunds)
            .where(refunds.c.state == RefundState.PENDING.value, refunds.c.create_time < older_than)
            .order_by(refunds.c.create_time)
            .limit(limit)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def list_unsettled(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        """PENDING and REQUIRES_ACTION refunds created before ``older_than``, least recently
        read from Stripe first."""
        last_read = func.coalesce(refunds.c.synced_at, refunds.c.create_time)
        statement = (
            select(refunds)
            .where(
                refunds.c.state.in_([RefundState.PENDING.value, RefundState.REQUIRES_ACTION.value]),
                refunds.c.create_time < older_than,
            )
            .order_by(last_read, refunds.c.id)
            .limit(limit)
        )
        return [_to_entity(row) for row in await self._all(statement)]

    async def add(self, refund: Refund) -> None:
        await self._insert(entity_values(refund))

    async def update(self, refund: Refund) -> None:
        values = entity_values(refund, skip=("id", "create_time", "version", "update_time"))
        await self._update_versioned(refund, values)
