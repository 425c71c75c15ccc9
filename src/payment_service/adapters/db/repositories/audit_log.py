"""The append-only audit log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from payment_service.adapters.db.deferred import defer
from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.repositories._base import (
    SqlRepository,
    entity_values,
    equal_where_given,
    statement_for,
)
from payment_service.adapters.db.tables import audit_log
from payment_service.app.ports.storage import AuditQuery
from payment_service.domain.entities import AuditEntry


class SqlAuditLog(SqlRepository):
    table = audit_log

    async def add(self, entry: AuditEntry) -> None:
        row = entity_values(entry)
        if not defer(self._connection, audit_log, [row]):
            await self._insert(row)

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """Sent with the commit on PostgreSQL (deferred.py); on SQLite one multi-row
        INSERT (insertmanyvalues) for the batch."""
        rows = [entity_values(e) for e in entries]
        if not rows or defer(self._connection, audit_log, rows):
            return
        statement = statement_for(("insert", self.table), self.table.insert)
        with translated_errors():
            await self._connection.execute(statement, rows[0] if len(rows) == 1 else rows)

    async def list_for_object(self, object_type: str, object_id: str) -> list[AuditEntry]:
        statement = (
            select(audit_log)
            .where(audit_log.c.object_type == object_type, audit_log.c.object_id == object_id)
            .order_by(audit_log.c.time, audit_log.c.id)
        )
        return [AuditEntry(**row) for row in await self._all(statement)]

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        where = equal_where_given(
            audit_log,
            account_id=query.account_id,
            object_type=query.object_type,
            object_id=query.object_id,
            actor=query.actor,
        )
        if query.since is not None:
            where.append(audit_log.c.time >= query.since)
        if query.until is not None:
            where.append(audit_log.c.time < query.until)
        statement = (
            select(audit_log)
            .where(*where)
            .order_by(audit_log.c.time, audit_log.c.id)
            .limit(query.limit)
        )
        return [AuditEntry(**row) for row in await self._all(statement)]
