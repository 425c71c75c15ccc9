"""A one-statement read straight on psycopg, outside a transaction (PostgreSQL only).

A keyset list is one SELECT. Through SQLAlchemy on psycopg it cost three round trips
(psycopg's BEGIN, the SELECT, the ROLLBACK when the unit of work ends) and SQLAlchemy's
execution context and result rows around the one that matters. When the list is the
unit of work's first statement (the connection is idle: no transaction began, nothing
was read or locked before it) and the session reads at READ COMMITTED, running that
SELECT in autocommit answers exactly what it would answer as the first statement of a
transaction: one statement, one snapshot. psycopg then sends no BEGIN, so the unit of
work's rollback has nothing to send either. Later statements of the same unit of work
begin their transaction as before.

The statement is compiled by SQLAlchemy once per shape (and per length of each
expanding ``IN`` list); its columns go through the same result processors SQLAlchemy
would apply (the encrypted columns' decryption among them), its parameters through
the same bind processors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import ClauseElement, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from payment_service.adapters.db.errors import translated_driver_errors

Process = Callable[[Any], Any]
_READ_COMMITTED = (None, psycopg.IsolationLevel.READ_COMMITTED)


@dataclass(frozen=True)
class _Expanded:
    sql: str
    expansion: Mapping[str, Sequence[str]]
    processors: Mapping[str, Process]
    constants: Mapping[str, Any]  # the statement's own literal values (e.g. a CASE's)


@dataclass
class RawSelect:
    """A compiled SELECT, its column names and the processors of its result columns."""

    compiled: SQLCompiler
    keys: tuple[str, ...]
    converts: tuple[tuple[int, Process], ...]
    expanding: tuple[str, ...]
    _forms: dict[tuple[int, ...], _Expanded] = field(default_factory=dict)

    def _form(self, params: Mapping[str, Any]) -> _Expanded:
        lengths = tuple(len(params[name]) for name in self.expanding)
        form = self._forms.get(lengths)
        if form is None:
            state = self.compiled.construct_expanded_state(dict(params))
            expansion = dict(state.parameter_expansion)
            given = set(params).union(*expansion.values())
            constants = {k: v for k, v in state.parameters.items() if k not in given}
            form = self._forms[lengths] = _Expanded(
                state.statement, expansion, dict(state.processors), constants
            )
        return form

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL text for these values and the driver's parameters."""
        form = self._form(params)
        values: dict[str, Any] = dict(form.constants)
        for name, value in params.items():
            expanded = form.expansion.get(name)
            if expanded is None:
                values[name] = value
            else:
                values.update(zip(expanded, value, strict=True))
        for name, process in form.processors.items():
            if name in values and values[name] is not None:
                values[name] = process(values[name])
        return form.sql, values


def compiled_with_binds(
    statement: ClauseElement, dialect: Dialect, keys: Sequence[str]
) -> tuple[str, dict[str, Process]]:
    """``statement``'s SQL for the parameters ``keys`` (a write's columns among them), and
    the bind processors SQLAlchemy would apply to their values, by parameter name."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    processors: dict[str, Process] = {
        name: process
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return compiled.string, processors


def processed(values: Mapping[str, Any], processors: Mapping[str, Process]) -> dict[str, Any]:
    """``values`` through their bind processors (the service's types pass NULL as is)."""
    out = dict(values)
    for name, process in processors.items():
        if out.get(name) is not None:
            out[name] = process(out[name])
    return out


def psycopg_connection(connection: AsyncConnection) -> psycopg.AsyncConnection[Any] | None:
    """The psycopg connection under ``connection``, without a round trip or a greenlet
    switch; None when it is not psycopg's, or SQLAlchemy invalidated or closed it (its
    ``connection`` property would then try to reconnect, which is I/O)."""
    sync = connection.sync_connection
    if sync is None or sync.invalidated or sync.closed:
        return None
    driver = sync.connection.driver_connection
    return driver if isinstance(driver, psycopg.AsyncConnection) else None


def result_columns(
    statement: Select[Any], dialect: Dialect
) -> tuple[tuple[str, ...], tuple[tuple[int, Process], ...]]:
    """``statement``'s column names and, by position, the result processors SQLAlchemy
    would apply to them."""
    keys: list[str] = []
    converts: list[tuple[int, Process]] = []
    for index, column in enumerate(statement.selected_columns):
        keys.append(str(column.key))
        process = column.type._cached_result_processor(dialect, None)
        if process is not None:
            converts.append((index, process))
    return tuple(keys), tuple(converts)


def compile_select(statement: Select[Any], dialect: Dialect) -> RawSelect:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    keys, converts = result_columns(statement, dialect)
    expanding = tuple(name for name, bind in compiled.binds.items() if bind.expanding)
    return RawSelect(compiled, keys, converts, expanding)


async def autocommit_rows(
    connection: AsyncConnection, select: RawSelect, params: Mapping[str, Any]
) -> list[Sequence[Any]] | None:
    """The rows of ``select``, run alone in autocommit; None when the connection is in
    a transaction already or not at READ COMMITTED (the caller runs it as usual)."""
    driver = psycopg_connection(connection)
    if driver is None:
        return None
    if (
        driver.info.transaction_status != pq.TransactionStatus.IDLE
        or driver.isolation_level not in _READ_COMMITTED
        or driver.autocommit
    ):
        return None
    sql, values = select.parameters(params)
    with translated_driver_errors():
        await driver.set_autocommit(True)
        try:
            cursor = await driver.execute(sql, values)
            rows: list[Sequence[Any]] = await cursor.fetchall()
        finally:
            await driver.set_autocommit(False)
    if select.converts:
        return [converted(row, select.converts) for row in rows]
    return rows


def converted(row: Sequence[Any], converts: tuple[tuple[int, Process], ...]) -> list[Any]:
    # The service's column types read NULL as None: only values are processed.
    values = list(row)
    for index, process in converts:
        if (value := values[index]) is not None:
            values[index] = process(value)
    return values
