"""What every repository shares: one connection, error translation, keyset pages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    RowMapping,
    Table,
    literal,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_errors
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import Aborted
from payment_service.domain.pagination import Cursor, Page, PageRequest

T = TypeVar("T")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def entity_values(entity: Any, *, skip: Collection[str] = ()) -> dict[str, Any]:
    """A dataclass entity's fields as a column-name → value dict (shallow, no copies)."""
    return {name: getattr(entity, name) for name in _field_names(type(entity)) if name not in skip}


def created_between(
    table: Table, created_after: datetime | None, created_before: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if created_after is not None:
        conditions.append(table.c.create_time >= created_after)
    if created_before is not None:
        conditions.append(table.c.create_time < created_before)
    return conditions


def state_in(table: Table, states: Collection[StrEnum]) -> list[ColumnElement[bool]]:
    return [table.c.state.in_([s.value for s in states])] if states else []


class SqlRepository:
    """Base class: executes statements on the unit of work's connection; never commits."""

    table: Table

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def _dialect(self) -> str:
        return self._connection.dialect.name

    async def _execute(self, statement: Executable) -> CursorResult[Any]:
        with translated_errors():
            return await self._connection.execute(statement)

    async def _first(self, statement: Executable) -> RowMapping | None:
        return (await self._execute(statement)).mappings().first()

    async def _all(self, statement: Executable) -> Sequence[RowMapping]:
        return (await self._execute(statement)).mappings().all()

    async def _insert(self, values: Mapping[str, Any]) -> None:
        await self._execute(self.table.insert().values(**values))

    async def _update_versioned(self, entity: Any, values: dict[str, Any]) -> None:
        """UPDATE … WHERE id AND version match; bump the entity's version or raise Aborted."""
        expected = entity.version
        entity.update_time = utcnow()
        values = {**values, "version": expected + 1, "update_time": entity.update_time}
        statement = (
            self.table.update()
            .where(self.table.c.id == entity.id, self.table.c.version == expected)
            .values(**values)
        )
        result = await self._execute(statement)
        if result.rowcount != 1:
            raise Aborted(
                f"{self.table.name} row {entity.id} changed concurrently (version {expected})",
                metadata={"id": entity.id},
            )
        entity.version = expected + 1

    async def _update_by_id(self, entity_id: str, values: dict[str, Any]) -> None:
        statement = self.table.update().where(self.table.c.id == entity_id).values(**values)
        result = await self._execute(statement)
        if result.rowcount != 1:
            raise Aborted(f"{self.table.name} row {entity_id} is gone", metadata={"id": entity_id})

    async def _keyset_page(
        self,
        conditions: Sequence[ColumnElement[bool]],
        page: PageRequest,
        filters: Mapping[str, object],
        to_entity: Callable[[RowMapping], T],
        cursor_of: Callable[[T], Cursor],
        time_column: str = "create_time",
    ) -> Page[T]:
        """Newest first by ``(time_column, id)``; the token resumes strictly after the last row."""
        time_col, id_col = self.table.c[time_column], self.table.c.id
        where = list(conditions)
        cursor = page.cursor(filters)
        if cursor is not None:
            after = tuple_(
                literal(cursor.create_time, time_col.type), literal(cursor.id, id_col.type)
            )
            where.append(tuple_(time_col, id_col) < after)
        statement = (
            select(self.table)
            .where(*where)
            .order_by(time_col.desc(), id_col.desc())
            .limit(page.size + 1)
        )
        rows = await self._all(statement)
        return page.page_of([to_entity(row) for row in rows], cursor_of, filters)


def by_create_time(entity: Any) -> Cursor:
    return Cursor(entity.create_time, entity.id)
