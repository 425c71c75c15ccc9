"""Payments, stored in the ``transactions`` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func

from payment_service.adapters.db.repositories._base import PendingFirstSqlRepository
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import transactions
from payment_service.domain.entities import Payment
from payment_service.domain.states import PaymentState
from payment_service.domain.transitions import PAYMENT_TRANSITIONS

_LIVE_STATES = [
    state.value
    for state in PaymentState
    if state is not PaymentState.PENDING and not PAYMENT_TRANSITIONS.is_terminal(state)
]


class SqlPaymentRepository(PendingFirstSqlRepository[Payment]):
    table = transactions
    codec = RowCodec(Payment)
    stripe_id = "stripe_payment_intent_id"
    pending_state = PaymentState.PENDING
    account_list = "payments"

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        last_sync = func.coalesce(transactions.c.synced_at, transactions.c.update_time)
        return await self._oldest_first(
            transactions.c.state.in_(_LIVE_STATES),
            last_sync < older_than,
            order=last_sync,
            limit=limit,
        )
