"""Outcomes of mutating requests that create no row of their own (AIP-155 request_id)."""

from __future__ import annotations

from sqlalchemy import Update, bindparam, update

from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    entity_values,
    statement_for,
)
from payment_service.adapters.db.tables import request_records
from payment_service.domain.entities import RequestRecord
from payment_service.domain.entities.request_record import PENDING_RESPONSE


class SqlRequestRecordRepository(SqlRepository):
    table = request_records

    async def get(self, caller: str, request_id: str) -> RequestRecord | None:
        statement = self._by("caller", "request_id")
        row = await self._first_with(statement, {"w_caller": caller, "w_request_id": request_id})
        return RequestRecord(**row) if row else None

    async def add(self, record: RequestRecord) -> None:
        await self._insert(entity_values(record))

    async def add_with_commit(self, record: RequestRecord) -> None:
        await self._insert(entity_values(record), with_commit=True)

    async def complete(self, record: RequestRecord) -> bool:
        statement = statement_for(("complete", request_records), _complete)
        values = {
            "response": record.response,
            "resource_id": record.resource_id,
            "w_caller": record.caller,
            "w_request_id": record.request_id,
            "w_pending": PENDING_RESPONSE,
        }
        return await self._rowcount(statement, values) == 1


def _complete() -> Update:
    """The pending record answered: SET response, resource_id (the parameters)."""
    c = request_records.c
    return update(request_records).where(
        c.caller == bindparam("w_caller"),
        c.request_id == bindparam("w_request_id"),
        c.response == bindparam("w_pending"),
    )
