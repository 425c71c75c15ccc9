"""Small key → value state of the reconciler (e.g. the last Stripe event id seen)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from payment_service.adapters.db.repositories._base import SqlRepository
from payment_service.adapters.db.tables import reconciler_state
from payment_service.domain.clock import utcnow


class SqlReconcilerStateStore(SqlRepository):
    table = reconciler_state

    async def get(self, key: str) -> str | None:
        statement = select(reconciler_state.c.value).where(reconciler_state.c.key == key)
        value = (await self._execute(statement)).scalar_one_or_none()
        return str(value) if value is not None else None

    async def set(self, key: str, value: str) -> None:
        insert: Any = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        now = utcnow()
        statement = (
            insert(reconciler_state)
            .values(key=key, value=value, update_time=now)
            .on_conflict_do_update(
                index_elements=["key"], set_={"value": value, "update_time": now}
            )
        )
        await self._execute(statement)
