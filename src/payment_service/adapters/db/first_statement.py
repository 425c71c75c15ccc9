"""A unit of work's first statement sent with its BEGIN on PostgreSQL: one round trip.

psycopg begins a transaction by sending ``BEGIN`` on its own and waiting for the answer
before the first statement. In a pipeline it sends the two together, answered together;
the statement runs in the transaction exactly as it would after a separate BEGIN. So
when the connection has no transaction yet, a repository's by-key read or versioned
UPDATE (the first statement of most units of work on the write path) goes out this way,
on psycopg directly, compiled by SQLAlchemy once per shape, its values through the same
bind processors and its columns through the same result processors SQLAlchemy applies.
SQLAlchemy's own transaction is already begun (the unit of work begins it), so its later
statements and its COMMIT run in the transaction psycopg opened.

Anything else (a connection in a transaction already, SQLite) returns None and the
caller executes the statement through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import ClauseElement, Executable, Select
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_driver_errors
from payment_service.adapters.db.raw_read import Process, compiled_with_binds, processed


@dataclass(frozen=True)
class _Compiled:
    statement: Executable  # held, so its id is never another statement's
    sql: str
    binds: Mapping[str, Process]
    columns: tuple[str, ...]
    results: tuple[tuple[int, Process], ...]


@dataclass(frozen=True, slots=True)
class FirstAnswer:
    """What the statement answered: its rows (by column name) and its row count."""

    rows: Sequence[Mapping[str, Any]]
    rowcount: int


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


async def with_begin(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> FirstAnswer | None:
    """``statement`` sent with the transaction's BEGIN; None when it cannot be (above)."""
    if connection.dialect.name != "postgresql":
        return None
    driver = (await connection.get_raw_connection()).driver_connection
    if (
        not isinstance(driver, psycopg.AsyncConnection)
        or driver.autocommit
        or driver.info.transaction_status != pq.TransactionStatus.IDLE
    ):
        return None
    compiled = _compiled(statement, tuple(parameters), connection)
    values = processed(parameters, compiled.binds)
    with translated_driver_errors():
        async with driver.pipeline():
            cursor = driver.cursor()
            await cursor.execute(compiled.sql, values)
        rows = await cursor.fetchall() if cursor.description is not None else []
        rowcount = cursor.rowcount
        await cursor.close()
    return FirstAnswer([_mapping(row, compiled) for row in rows], rowcount)


def _mapping(row: Sequence[Any], compiled: _Compiled) -> dict[str, Any]:
    values = list(row)
    for index, process in compiled.results:
        if (value := values[index]) is not None:
            values[index] = process(value)
    return dict(zip(compiled.columns, values, strict=True))
