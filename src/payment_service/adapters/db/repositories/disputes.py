"""Disputes of payments; their text evidence is encrypted JSON (see ``_codec``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import case, func, select

from payment_service.adapters.db.repositories._base import (
    RefreshedSqlRepository,
    VersionedSqlRepository,
    equal_where_given,
    state_in,
)
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import disputes
from payment_service.domain.entities import Dispute
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import DisputeState


class SqlDisputeRepository(RefreshedSqlRepository[Dispute], VersionedSqlRepository[Dispute]):
    table = disputes
    codec = RowCodec(Dispute)
    stripe_id = "stripe_dispute_id"

    async def list_disputes(
        self,
        *,
        page: PageRequest,
        account_id: str | None = None,
        payment_id: str | None = None,
        states: Collection[DisputeState] = (),
    ) -> Page[Dispute]:
        if account_id is None and payment_id is None:
            raise ValueError("list the disputes of an account or of a payment")
        owners = {"account_id": account_id, "payment_id": payment_id}
        conditions = [*state_in(self.table, states), *equal_where_given(self.table, **owners)]
        filters = {"list": "disputes", **owners, "states": states}
        return await self._page(conditions, page, filters)

    async def count_open(
        self, states: Collection[DisputeState], due_before: datetime
    ) -> tuple[int, int]:
        c = disputes.c
        due = case((c.evidence_due_by < due_before, 1), else_=0)
        statement = select(
            func.count().label("total"), func.coalesce(func.sum(due), 0).label("due")
        ).where(*state_in(self.table, states))
        row = await self._first(statement)
        return (int(row["total"]), int(row["due"])) if row else (0, 0)
