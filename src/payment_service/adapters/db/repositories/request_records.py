"""Outcomes of mutating requests that create no row of their own (AIP-155 request_id)."""

from __future__ import annotations

from sqlalchemy import select

from payment_service.adapters.db.repositories._base import SqlRepository, entity_values
from payment_service.adapters.db.tables import request_records
from payment_service.domain.entities import RequestRecord


class SqlRequestRecordRepository(SqlRepository):
    table = request_records

    async def get(self, caller: str, request_id: str) -> RequestRecord | None:
        statement = select(request_records).where(
            request_records.c.caller == caller, request_records.c.request_id == request_id
        )
        row = await self._first(statement)
        return RequestRecord(**row) if row else None

    async def add(self, record: RequestRecord) -> None:
        await self._insert(entity_values(record))
