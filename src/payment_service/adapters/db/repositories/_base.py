"""What every repository shares: one connection, error translation, keyset pages; and
what every entity's repository shares: get, locking reads, find by Stripe id or by
request, add, update (by version where the table has one), lists per account, the rows
still pending their Stripe create."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    RowMapping,
    Select,
    Table,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.repositories.outbox import EntityChanges, changes_for
from payment_service.app.events.kinds import Preimage
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import Aborted
from payment_service.domain.pagination import Cursor, Page, PageRequest

T = TypeVar("T")
E = TypeVar("E")


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


def equal_where_given(table: Table, **values: object) -> list[ColumnElement[bool]]:
    """``column == value`` for each value that is not None (an optional list filter)."""
    return [table.c[name] == value for name, value in values.items() if value is not None]


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


class EntityRepository(SqlRepository, Generic[E]):
    """One entity's table: rows become entities by ``codec``; ``stripe_id`` names the
    column of the Stripe object's id. ``update`` writes every column but ``kept``."""

    codec: RowCodec[E]
    stripe_id: ClassVar[str]
    kept: ClassVar[tuple[str, ...]] = ("id", "create_time")

    def _select(self, *where: ColumnElement[bool]) -> Select[tuple[Any, ...]]:
        return select(self.table).where(*where)

    async def _one(self, statement: Select[tuple[Any, ...]]) -> E | None:
        row = await self._first(statement)
        return self._loaded(self.codec.entity(row)) if row else None

    async def _many(self, statement: Select[tuple[Any, ...]]) -> list[E]:
        # Lists keep no before-image (a page of 200 would copy 200 objects); the rare
        # update of a listed object reads its stored state first (``_before``).
        return [self.codec.entity(row) for row in await self._all(statement)]

    @property
    def _changes(self) -> EntityChanges | None:
        """The outbox side of this table's writes (None: its changes have no events)."""
        if "_outbox" not in self.__dict__:
            self.__dict__["_outbox"] = changes_for(self._connection, self.table.name)
        changes: EntityChanges | None = self.__dict__["_outbox"]
        return changes

    def _loaded(self, entity: E) -> E:
        if (changes := self._changes) is not None:
            changes.loaded(entity)
        return entity

    async def _before(self, entity: Any) -> Preimage | None:
        """The entity as this unit of work loaded it (read now when it was not)."""
        if (changes := self._changes) is None:
            return None
        if not changes.knows(entity.id):
            await self.get(entity.id)
        return changes.preimage(entity.id)

    async def _saved(self, before: Preimage | None, entity: Any, *, added: bool = False) -> None:
        if (changes := self._changes) is not None:
            await changes.saved(before, entity, added=added)

    async def _oldest_first(
        self, *where: ColumnElement[bool], order: ColumnElement[Any], limit: int
    ) -> list[E]:
        return await self._many(self._select(*where).order_by(order).limit(limit))

    async def _created_before(
        self, older_than: datetime, limit: int, *where: ColumnElement[bool]
    ) -> list[E]:
        """Rows matching ``where`` created before ``older_than``, oldest first."""
        created = self.table.c.create_time
        return await self._oldest_first(*where, created < older_than, order=created, limit=limit)

    async def _page(
        self,
        conditions: Sequence[ColumnElement[bool]],
        page: PageRequest,
        filters: Mapping[str, object],
    ) -> Page[E]:
        """Newest first by create time (then id)."""
        return await self._keyset_page(conditions, page, filters, self.codec.entity, by_create_time)

    async def _owned_page(
        self, page: PageRequest, states: Collection[StrEnum], **owners: str | None
    ) -> Page[E]:
        """Newest first: the rows in ``states`` (any, when empty) of every owner given (an
        owner that is None is not a condition)."""
        conditions = [*equal_where_given(self.table, **owners), *state_in(self.table, states)]
        filters = {"list": self.table.name, **owners, "states": states}
        return await self._page(conditions, page, filters)

    async def _refresh_queue(
        self,
        states: Collection[StrEnum],
        older_than: datetime,
        limit: int,
        *where: ColumnElement[bool],
    ) -> list[E]:
        """Rows in ``states`` not read from Stripe since ``older_than``: never read first,
        then the least recently read."""
        synced_at = self.table.c.synced_at
        statement = (
            self._select(
                *state_in(self.table, states),
                or_(synced_at.is_(None), synced_at < older_than),
                *where,
            )
            .order_by(synced_at.asc().nulls_first(), self.table.c.id)
            .limit(limit)
        )
        return await self._many(statement)

    async def get(self, entity_id: str) -> E | None:
        return await self._one(self._select(self.table.c.id == entity_id))

    async def get_for_update(self, entity_id: str) -> E | None:
        """The row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
        write transactions hold the database lock anyway)."""
        return await self._one(self._select(self.table.c.id == entity_id).with_for_update())

    async def find_by_stripe_id(self, stripe_id: str, *, for_update: bool = False) -> E | None:
        statement = self._select(self.table.c[self.stripe_id] == stripe_id)
        return await self._one(statement.with_for_update() if for_update else statement)

    async def add(self, entity: E) -> None:
        await self._insert(self.codec.row(entity))
        await self._saved(None, entity, added=True)

    async def update(self, entity: E) -> None:
        stamped: Any = entity
        before = await self._before(stamped)
        stamped.update_time = utcnow()
        await self._update_by_id(stamped.id, self.codec.row(entity, skip=self.kept))
        await self._saved(before, entity)


class VersionedSqlRepository(EntityRepository[E]):
    """A table with a ``version`` column: ``update`` only over the version it read."""

    async def update(self, entity: E) -> None:
        skip = (*self.kept, "version", "update_time")
        before = await self._before(entity)
        await self._update_versioned(entity, self.codec.row(entity, skip=skip))
        await self._saved(before, entity)


class RequestedSqlRepository(VersionedSqlRepository[E]):
    """Rows created by an AIP-155 request (caller, request_id), listed per account.

    ``account_list`` names the list in its page tokens (a token of one list is refused
    by another)."""

    account_list: ClassVar[str]

    async def find_by_request(self, caller: str, request_id: str) -> E | None:
        c = self.table.c
        return await self._one(self._select(c.caller == caller, c.request_id == request_id))

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[StrEnum] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[E]:
        conditions = [
            self.table.c.account_id == account_id,
            *state_in(self.table, states),
            *created_between(self.table, created_after, created_before),
        ]
        filters = {
            "list": self.account_list,
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._page(conditions, page, filters)


class PendingFirstSqlRepository(RequestedSqlRepository[E]):
    """Rows committed in ``pending_state`` before their Stripe create is sent (the
    create-once path), so the reconciler can find the ones a crash or an outage left."""

    pending_state: ClassVar[StrEnum]

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[E]:
        """Rows still pending that were created before ``older_than``, oldest first."""
        pending = self.table.c.state == self.pending_state.value
        return await self._created_before(older_than, limit, pending)
