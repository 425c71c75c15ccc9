"""Refunds of payments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from payment_service.adapters.db.repositories._base import PendingFirstSqlRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import refunds
from payment_service.domain.entities import RESERVING_REFUND_STATES, Refund
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import RefundState

_UNSETTLED = [RefundState.PENDING.value, RefundState.REQUIRES_ACTION.value]


class SqlRefundRepository(PendingFirstSqlRepository[Refund]):
    table = refunds
    codec = RowCodec(Refund)
    pending_state = RefundState.PENDING
    account_list = "refunds.account"

    async def list_for_payment(self, payment_id: str, *, page: PageRequest) -> Page[Refund]:
        filters = {"list": "refunds.payment", "payment_id": payment_id}
        return await self._page([refunds.c.payment_id == payment_id], page, filters)

    async def sum_refundable_reserved(self, payment_id: str) -> int:
        statement = select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.payment_id == payment_id,
            refunds.c.state.in_([state.value for state in RESERVING_REFUND_STATES]),
        )
        return int((await self._execute(statement)).scalar_one())

    async def list_unsettled(self, older_than: datetime, *, limit: int = 100) -> list[Refund]:
        """PENDING and REQUIRES_ACTION refunds created before ``older_than``, least recently
        read from Stripe first."""
        c = refunds.c
        statement = (
            self._select(c.state.in_(_UNSETTLED), c.create_time < older_than)
            .order_by(func.coalesce(c.synced_at, c.create_time), c.id)
            .limit(limit)
        )
        return await self._many(statement)
