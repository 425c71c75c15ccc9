"""What every repository shares: one connection, error translation, keyset pages; and
what every entity's repository shares: get, locking reads, find by Stripe id or by
request, add, update (by version where the table has one), lists per account, the rows
still pending their Stripe create."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Integer,
    RowMapping,
    Select,
    Table,
    bindparam,
    case,
    null,
    or_,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.deferred import defer
from payment_service.adapters.db.errors import translated_errors
from payment_service.adapters.db.raw_read import autocommit_rows, compile_select
from payment_service.adapters.db.raw_statement import executed
from payment_service.adapters.db.repositories._codec import RowCodec
from payment_service.adapters.db.repositories.outbox import EntityChanges, changes_for
from payment_service.adapters.db.tables import stripe_id_column
from payment_service.app.events.kinds import Preimage
from payment_service.app.ports.list_filters import OwnedRows
from payment_service.domain.clock import utcnow
from payment_service.domain.errors import Aborted
from payment_service.domain.pagination import Cursor, Page, PageRequest

T = TypeVar("T")
E = TypeVar("E")
S = TypeVar("S")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_LISTED_COLUMNS: dict[type, list[ColumnElement[Any]]] = {}


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


def bound_filters(
    table: Table,
    equal: Mapping[str, object],
    states: Collection[StrEnum] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
    """A list's filters as conditions on bind parameters, and the parameters' values: the
    ``equal`` columns that are not None, the states (any, when empty), the create-time
    range (``created_after`` inclusive, ``created_before`` exclusive). The parameters'
    names tell the conditions' shape (a statement built for it serves every value)."""
    c = table.c
    conditions: list[ColumnElement[bool]] = []
    params: dict[str, Any] = {}
    for name, value in equal.items():
        if value is not None:
            conditions.append(c[name] == bindparam(f"eq_{name}"))
            params[f"eq_{name}"] = value
    if states:
        conditions.append(c.state.in_(bindparam("states", expanding=True)))
        params["states"] = sorted(state.value for state in states)
    if created_after is not None:
        conditions.append(c.create_time >= bindparam("created_after"))
        params["created_after"] = created_after
    if created_before is not None:
        conditions.append(c.create_time < bindparam("created_before"))
        params["created_before"] = created_before
    return conditions, params


_STATEMENTS: dict[tuple[object, ...], Any] = {}


def statement_for(key: tuple[object, ...], build: Callable[[], S]) -> S:
    """One statement object per ``key`` for the process, made by ``build`` once.

    The hot paths run the same statement with new values as parameters
    (``bindparam``): building a statement with its values on every call (and SQLAlchemy
    deriving its cache key from them) cost more than the round trip it makes."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return cast(S, statement)


class SqlRepository:
    """Base class: executes statements on the unit of work's connection; never commits."""

    table: Table

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def _dialect(self) -> str:
        return self._connection.dialect.name

    async def _execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        with translated_errors():
            return await self._connection.execute(statement, parameters)

    async def _first_with(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> Mapping[Any, Any] | None:
        """The first row of a statement built once (``statement_for``)."""
        answer = await executed(self._connection, statement, parameters)
        if answer is not None:
            return answer.rows[0] if answer.rows else None
        return (await self._execute(statement, parameters)).mappings().first()

    async def _rowcount(self, statement: Executable, parameters: Mapping[str, Any]) -> int:
        """The rows a write built once (``statement_for``) matched."""
        answer = await executed(self._connection, statement, parameters)
        if answer is not None:
            return answer.rowcount
        return (await self._execute(statement, parameters)).rowcount

    def _by(self, *names: str, for_update: bool = False) -> Select[tuple[Any, ...]]:
        """``SELECT * FROM table WHERE name = :w_name AND …`` (FOR UPDATE), built once."""

        def build() -> Select[tuple[Any, ...]]:
            where = [self.table.c[name] == bindparam(f"w_{name}") for name in names]
            statement = select(self.table).where(*where)
            return statement.with_for_update() if for_update else statement

        return statement_for(("select", self.table, names, for_update), build)

    async def _first(self, statement: Executable) -> RowMapping | None:
        return (await self._execute(statement)).mappings().first()

    async def _all(self, statement: Executable) -> Sequence[RowMapping]:
        return (await self._execute(statement)).mappings().all()

    async def _insert(self, values: Mapping[str, Any], *, with_commit: bool = False) -> None:
        """INSERT the row (``with_commit``: held for the COMMIT where deferred.py can)."""
        if with_commit and defer(self._connection, self.table, [values]):
            return
        # The columns are the parameters' keys (one compiled form per set of keys).
        statement = statement_for(("insert", self.table), self.table.insert)
        await self._rowcount(statement, values)

    async def _update_versioned(self, entity: Any, values: dict[str, Any]) -> None:
        """UPDATE … WHERE id AND version match; bump the entity's version or raise Aborted."""
        expected = entity.version
        entity.update_time = utcnow()

        def build() -> Executable:
            c = self.table.c
            return self.table.update().where(
                c.id == bindparam("w_id"), c.version == bindparam("w_version")
            )

        # The SET columns are the parameters named as columns.
        statement = statement_for(("update_versioned", self.table), build)
        values = {
            **values,
            "version": expected + 1,
            "update_time": entity.update_time,
            "w_id": entity.id,
            "w_version": expected,
        }
        if await self._rowcount(statement, values) != 1:
            raise Aborted(
                f"{self.table.name} row {entity.id} changed concurrently (version {expected})",
                metadata={"id": entity.id},
            )
        entity.version = expected + 1

    async def _update_by_id(self, entity_id: str, values: dict[str, Any]) -> None:
        def build() -> Executable:
            return self.table.update().where(self.table.c.id == bindparam("w_id"))

        statement = statement_for(("update_by_id", self.table), build)
        if await self._rowcount(statement, {**values, "w_id": entity_id}) != 1:
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
        statement, values, _ = self._keyset_query(conditions, page, filters, time_column)
        with translated_errors():
            result = await self._connection.execute(statement, values)
        return page.page_of([to_entity(row) for row in result.mappings()], cursor_of, filters)

    def _listed_columns(self) -> Sequence[ColumnElement[Any]]:
        """What a list selects: every column (EntityRepository may withhold some)."""
        return list(self.table.c)

    def _keyset_query(
        self,
        conditions: Sequence[ColumnElement[bool]],
        page: PageRequest,
        filters: Mapping[str, object],
        time_column: str,
        *,
        shape: Hashable = None,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[Select[Any], dict[str, Any], tuple[object, ...] | None]:
        """The keyset statement for up to ``page.size + 1`` rows after the page token's,
        newest first; its parameters' values; and its cache key (None: built for this call).

        With a ``shape`` (conditions written with bind parameters, their values in
        ``params``), the statement is built once per repository, shape and first-or-later
        page, and reused: building a select of every column and its cache key cost a
        list more than compiling it."""
        cursor = page.cursor(filters)

        def build() -> Select[Any]:
            return self._keyset_statement(conditions, time_column, after=cursor is not None)

        key: tuple[object, ...] | None = None
        if shape is None:
            statement = build()
        else:
            key = ("keyset", type(self), time_column, cursor is not None, shape)
            statement = statement_for(key, build)
        values = {**(params or {}), "keyset_limit": page.size + 1}
        if cursor is not None:
            values.update(keyset_time=cursor.create_time, keyset_id=cursor.id)
        return statement, values, key

    def _keyset_statement(
        self, conditions: Sequence[ColumnElement[bool]], time_column: str, *, after: bool
    ) -> Select[Any]:
        time_col, id_col = self.table.c[time_column], self.table.c.id
        where = list(conditions)
        if after:
            resume = tuple_(
                bindparam("keyset_time", type_=time_col.type),
                bindparam("keyset_id", type_=id_col.type),
            )
            where.append(tuple_(time_col, id_col) < resume)
        return (
            select(*self._listed_columns())
            .where(*where)
            .order_by(time_col.desc(), id_col.desc())
            .limit(bindparam("keyset_limit", type_=Integer()))
        )


def by_create_time(entity: Any) -> Cursor:
    return Cursor(entity.create_time, entity.id)


class EntityRepository(SqlRepository, Generic[E]):
    """One entity's table: rows become entities by ``codec``; ``stripe_id`` names the
    column of the Stripe object's id (the table's, tables.stripe_id_column). ``update``
    writes every column but ``kept``."""

    codec: RowCodec[E]
    stripe_id: ClassVar[str]
    kept: ClassVar[tuple[str, ...]] = ("id", "create_time")
    # Columns a list reads only where their condition holds (NULL elsewhere): a field the
    # list's answer shows only in some states need not be decrypted in the others.
    listed_when: ClassVar[Mapping[str, ColumnElement[bool]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "table" in vars(cls):
            cls.stripe_id = stripe_id_column(cls.table)

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
        *,
        shape: Hashable = None,
        params: Mapping[str, Any] | None = None,
    ) -> Page[E]:
        """Newest first by create time (then id). Rows become entities by position (the
        codec's reader), not by a key look-up per field: on a page of many rows that
        look-up was most of the list's time."""
        statement, values, key = self._keyset_query(
            conditions, page, filters, "create_time", shape=shape, params=params
        )
        if key is not None and self._dialect == "postgresql":
            # One SELECT, alone in autocommit when it is the unit of work's first
            # statement: no BEGIN/ROLLBACK round trips, no SQLAlchemy result (raw_read.py).
            dialect = self._connection.dialect
            raw = statement_for(("raw", *key), lambda: compile_select(statement, dialect))
            rows = await autocommit_rows(self._connection, raw, values)
            if rows is not None:
                read = self.codec.reader(raw.keys)
                return page.page_of([read(row) for row in rows], by_create_time, filters)
        with translated_errors():
            result = await self._connection.execute(statement, values)
        read = self.codec.reader(tuple(result.keys()))
        return page.page_of([read(row) for row in result.all()], by_create_time, filters)

    def _listed_columns(self) -> Sequence[ColumnElement[Any]]:
        """Every column, but those of ``listed_when``: NULL in the rows their condition
        does not hold for (so their values are neither sent nor decrypted there)."""
        listed = _LISTED_COLUMNS.get(type(self))
        if listed is None:
            listed = _LISTED_COLUMNS[type(self)] = [
                column
                if column.name not in self.listed_when
                else type_coerce(
                    case((self.listed_when[column.name], column), else_=null()), column.type
                ).label(column.name)
                for column in self.table.c
            ]
        return listed

    async def _owned_page(self, page: PageRequest, where: OwnedRows[StrEnum]) -> Page[E]:
        """Newest first: the rows in ``where.states`` (any, when empty) of every owner given
        (an owner that is None is not a condition)."""
        owners = where.owners()
        conditions, params = bound_filters(self.table, owners, where.states)
        filters = {"list": self.table.name, **owners, "states": where.states}
        return await self._page(conditions, page, filters, shape=tuple(params), params=params)

    async def _one_by(self, values: Mapping[str, Any], *, for_update: bool = False) -> E | None:
        """The row whose columns equal ``values`` (by a statement built once)."""
        statement = self._by(*values, for_update=for_update)
        row = await self._first_with(statement, {f"w_{k}": v for k, v in values.items()})
        return self._loaded(self.codec.entity(row)) if row else None  # the outbox's before-image

    async def get(self, entity_id: str) -> E | None:
        return await self._one_by({"id": entity_id})

    async def get_for_update(self, entity_id: str) -> E | None:
        """The row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
        write transactions hold the database lock anyway)."""
        return await self._one_by({"id": entity_id}, for_update=True)

    async def find_by_stripe_id(self, stripe_id: str, *, for_update: bool = False) -> E | None:
        return await self._one_by({self.stripe_id: stripe_id}, for_update=for_update)

    async def add(self, entity: E) -> None:
        await self._insert(self.codec.row(entity))
        await self._saved(None, entity, added=True)

    async def add_with_commit(self, entity: E) -> None:
        await self._insert(self.codec.row(entity), with_commit=True)
        await self._saved(None, entity, added=True)  # its event, held after it

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

    async def update_from(self, known: E, entity: E) -> None:
        # ``known`` is the before-image: the versioned UPDATE fails if the row moved past it.
        self._loaded(known)
        await self.update(entity)


class RequestedSqlRepository(VersionedSqlRepository[E]):
    """Rows created by an AIP-155 request (caller, request_id), listed per account.

    ``account_list`` names the list in its page tokens (a token of one list is refused
    by another)."""

    account_list: ClassVar[str]

    async def find_by_request(self, caller: str, request_id: str) -> E | None:
        return await self._one_by({"caller": caller, "request_id": request_id})

    async def list_for_account(
        self,
        account_id: str,
        *,
        page: PageRequest,
        states: Collection[StrEnum] = (),
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page[E]:
        conditions, params = bound_filters(
            self.table, {"account_id": account_id}, states, created_after, created_before
        )
        filters = {
            "list": self.account_list,
            "account_id": account_id,
            "states": states,
            "created_after": created_after,
            "created_before": created_before,
        }
        return await self._page(conditions, page, filters, shape=tuple(params), params=params)


class PendingFirstSqlRepository(RequestedSqlRepository[E]):
    """Rows committed in ``pending_state`` before their Stripe create is sent (the
    create-once path), so the reconciler can find the ones a crash or an outage left."""

    pending_state: ClassVar[StrEnum]

    async def list_pending(self, older_than: datetime, *, limit: int = 100) -> list[E]:
        """Rows still pending that were created before ``older_than``, oldest first."""
        pending = self.table.c.state == self.pending_state.value
        return await self._created_before(older_than, limit, pending)


class RefreshedSqlRepository(VersionedSqlRepository[E]):
    """Rows the reconciler re-reads from Stripe in turn (versioned: a re-read and a
    webhook may update one at once)."""

    async def list_to_refresh(
        self, states: Collection[StrEnum], older_than: datetime, *, limit: int = 100
    ) -> list[E]:
        """Rows known to Stripe (their Stripe id set) in ``states`` not read from Stripe
        since ``older_than``: never read first, then the least recently read."""
        synced_at = self.table.c.synced_at
        statement = (
            self._select(
                *state_in(self.table, states),
                or_(synced_at.is_(None), synced_at < older_than),
                self.table.c[self.stripe_id].is_not(None),
            )
            .order_by(synced_at.asc().nulls_first(), self.table.c.id)
            .limit(limit)
        )
        return await self._many(statement)
