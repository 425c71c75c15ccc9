"""Disputes of payments; their text evidence is encrypted JSON (see ``_codec``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import case, func, select

from payment_service.adapters.db.repositories._base import RefreshedSqlRepository, state_in
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.tables import disputes
from payment_service.app.ports.list_filters import DisputeFilter
from payment_service.domain.entities import Dispute
from payment_service.domain.pagination import Page, PageRequest
from payment_service.domain.states import DisputeState


class SqlDisputeRepository(RefreshedSqlRepository[Dispute]):
    table = disputes
    codec = RowCodec(Dispute)

    async def list_disputes(self, where: DisputeFilter, *, page: PageRequest) -> Page[Dispute]:
        return await self._owned_page(page, where)

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
