"""Payments, stored in the ``transactions`` table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ColumnElement, func

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
    pending_state = PaymentState.PENDING
    account_list = "payments"
    # The API shows a payment's client secret and 3-D Secure URL only while it awaits the
    # customer's action: a list decrypts them for those rows only.
    _awaiting_action = transactions.c.state == PaymentState.REQUIRES_ACTION.value
    listed_when: ClassVar[Mapping[str, ColumnElement[bool]]] = {
        "client_secret": _awaiting_action,
        "next_action_url": _awaiting_action,
    }

    async def list_stale_nonfinal(self, older_than: datetime, *, limit: int = 100) -> list[Payment]:
        last_sync = func.coalesce(transactions.c.synced_at, transactions.c.update_time)
        return await self._oldest_first(
            transactions.c.state.in_(_LIVE_STATES),
            last_sync < older_than,
            order=last_sync,
            limit=limit,
        )
