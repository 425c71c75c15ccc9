"""Outcomes of mutating requests that create no row of their own (AIP-155 request_id)."""

from __future__ import annotations

from sqlalchemy import select, update

from payment_service.adapters.db.repositories._base import SqlRepository, entity_values
from payment_service.adapters.db.tables import request_records
from payment_service.domain.entities import RequestRecord
from payment_service.domain.entities.request_record import PENDING_RESPONSE


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

    async def complete(self, record: RequestRecord) -> bool:
        statement = (
            update(request_records)
            .where(
                request_records.c.caller == record.caller,
                request_records.c.request_id == record.request_id,
                request_records.c.response == PENDING_RESPONSE,
            )
            .values(response=record.response, resource_id=record.resource_id)
        )
        result = await self._execute(statement)
        return result.rowcount == 1
