"""A repository's hot statement on psycopg directly (PostgreSQL): SQLAlchemy's per-call
work left out, and its transaction's BEGIN sent with it.

The by-key reads, versioned UPDATEs and INSERTs of the write path are built once
(``statement_for``) and run with new values. Through SQLAlchemy each paid its execution
context, parameter and result processing around the round trip: about as much CPU as
the round trip itself. Here each is compiled by SQLAlchemy once per statement and set
of parameters, its values go through the same bind processors and its columns through
the same result processors SQLAlchemy applies (the encrypted columns' sealing and
opening among them), and psycopg's errors are translated as ``translated_errors``
translates SQLAlchemy's.

psycopg begins a transaction by sending ``BEGIN`` on its own and waiting for the answer
before the first statement. When the connection has no transaction yet, the statement
goes out in a pipeline with the BEGIN, answered together; it runs in the transaction
exactly as it would after a separate BEGIN. SQLAlchemy's own transaction is already
begun (the unit of work begins it), so its later statements and its COMMIT run in the
transaction psycopg opened.

SQLAlchemy's cursor events still fire around each statement, so the engine's listeners
(the database spans, the round-trip counts of tests and bench/) see it as they see
their own. Anything else (SQLite, a connection SQLAlchemy invalidated, a transaction
psycopg already failed) returns None and the caller executes the statement through
SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import pq
from sqlalchemy import ClauseElement, Executable, Select
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_driver_errors
from payment_service.adapters.db.raw_read import (
    Process,
    compiled_with_binds,
    processed,
    psycopg_connection,
)

_IDLE, _IN_TRANSACTION = pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS


@dataclass(frozen=True)
class _Compiled:
    statement: Executable  # held, so its id is never another statement's
    sql: str
    binds: Mapping[str, Process]
    columns: tuple[str, ...]
    results: tuple[tuple[int, Process], ...]


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """What the statement answered: its rows (by column name) and its row count."""

    rows: Sequence[Mapping[str, Any]]
    rowcount: int


class RawEventContext:
    """Stands for SQLAlchemy's execution context in the cursor events (listeners keep
    their per-statement state on it, e.g. the statement's span). ``with_begin``: the
    statement went out with its transaction's BEGIN, in the BEGIN's round trip."""

    __slots__ = ("__dict__", "with_begin")

    def __init__(self, *, with_begin: bool) -> None:
        self.with_begin = with_begin


_COMPILED: dict[tuple[int, tuple[str, ...]], _Compiled] = {}


def _compiled(
    statement: Executable, keys: tuple[str, ...], connection: AsyncConnection
) -> _Compiled:
    cache_key = (id(statement), keys)
    compiled = _COMPILED.get(cache_key)
    if compiled is None or compiled.statement is not statement:
        dialect = connection.dialect
        assert isinstance(statement, ClauseElement)
        sql, binds = compiled_with_binds(statement, dialect, keys)
        columns: list[str] = []
        results: list[tuple[int, Process]] = []
        if isinstance(statement, Select):
            for index, column in enumerate(statement.selected_columns):
                columns.append(str(column.key))
                process = column.type._cached_result_processor(dialect, None)
                if process is not None:
                    results.append((index, process))
        compiled = _COMPILED[cache_key] = _Compiled(
            statement, sql, binds, tuple(columns), tuple(results)
        )
    return compiled


async def executed(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> RawAnswer | None:
    """``statement`` run on psycopg (with the BEGIN when idle); None when it cannot be."""
    if connection.dialect.name != "postgresql":
        return None
    driver = psycopg_connection(connection)
    if driver is None or driver.autocommit:
        return None
    status = driver.info.transaction_status
    if status != _IDLE and status != _IN_TRANSACTION:
        return None
    compiled = _compiled(statement, tuple(parameters), connection)
    values = processed(parameters, compiled.binds)
    sync = connection.sync_connection
    assert sync is not None
    events, context = sync.dispatch, RawEventContext(with_begin=status == _IDLE)
    cursor = driver.cursor()
    events.before_cursor_execute(sync, cursor, compiled.sql, values, context, False)
    try:
        with translated_driver_errors():
            if status == _IDLE:
                async with driver.pipeline():
                    await cursor.execute(compiled.sql, values)
            else:
                await cursor.execute(compiled.sql, values)
            rows = await cursor.fetchall() if cursor.description is not None else []
            rowcount = cursor.rowcount
            await cursor.close()
    finally:
        events.after_cursor_execute(sync, cursor, compiled.sql, values, context, False)
    return RawAnswer([_mapping(row, compiled) for row in rows], rowcount)


def _mapping(row: Sequence[Any], compiled: _Compiled) -> dict[str, Any]:
    values = list(row)
    for index, process in compiled.results:
        if (value := values[index]) is not None:
            values[index] = process(value)
    return dict(zip(compiled.columns, values, strict=True))
