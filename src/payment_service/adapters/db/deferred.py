"""Rows a unit of work only appends (its audit rows, its outbox events), sent with its
COMMIT on PostgreSQL: one round trip for them all instead of one per INSERT and one more
for the COMMIT.

Nothing reads those rows back in the transaction that writes them, no caller waits for
their INSERTs' answers, and they commit or roll back with the transaction either way, so
holding them until the commit changes what is stored by nothing. On PostgreSQL the
commit then goes out as one psycopg pipeline: the INSERTs (executemany, one per table)
and the COMMIT, answered together; an error in any of them fails the commit as a failed
INSERT would have failed the work before it (nothing of the transaction is stored). The
statements are compiled by SQLAlchemy once per table and set of columns, and their
values go through the same bind processors SQLAlchemy applies (the encrypted columns'
sealing among them).

SQLite runs them at once, as before (``defer`` answers False): its writes are local
calls, not round trips.

The rows wait in the pooled connection's ``info``: the unit of work drops them whenever
it ends without committing (``discard``), so a later checkout never sends them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_driver_errors
from payment_service.adapters.db.raw_read import (
    Process,
    compiled_with_binds,
    processed,
    psycopg_connection,
)

_PENDING = "deferred_rows"


@dataclass(frozen=True, eq=False)
class _CompiledInsert:
    sql: str
    processors: Mapping[str, Process]


_COMPILED: dict[tuple[str, tuple[str, ...]], _CompiledInsert] = {}


def _compiled(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _CompiledInsert:
    key = (table.name, columns)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _CompiledInsert(
            *compiled_with_binds(table.insert(), dialect, columns)
        )
    return compiled


def defer(connection: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Hold ``rows`` of ``table`` for the commit (True); False on SQLite: insert them now."""
    if connection.dialect.name != "postgresql" or not rows:
        return False
    pending: dict[_CompiledInsert, list[dict[str, Any]]] = connection.info.setdefault(_PENDING, {})
    for row in rows:
        insert = _compiled(table, tuple(row), connection.dialect)
        pending.setdefault(insert, []).append(processed(row, insert.processors))
    return True


def discard(connection: AsyncConnection) -> None:
    """Drop the rows held (the unit of work ends without committing them)."""
    # A connection SQLAlchemy invalidated (the server went away) refuses even this read;
    # its DBAPI connection, and the rows held in its info, are gone already.
    with contextlib.suppress(SQLAlchemyError):
        connection.info.pop(_PENDING, None)


async def commit_with_held_rows(connection: AsyncConnection) -> bool:
    """Send the held rows and the COMMIT in one pipeline; False when none are held (the
    caller commits as usual)."""
    pending: dict[_CompiledInsert, list[dict[str, Any]]] = connection.info.pop(_PENDING, {})
    if not pending:
        return False
    driver = psycopg_connection(connection)
    if driver is None:  # SQLAlchemy invalidated the connection: its own read says why
        driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    with translated_driver_errors():
        async with driver.pipeline():
            async with driver.cursor() as cursor:
                for insert, rows in pending.items():
                    await cursor.executemany(insert.sql, rows)
            await driver.commit()
    # psycopg's transaction is over: SQLAlchemy's commit only ends its own bookkeeping
    # (psycopg sends nothing for a commit outside a transaction).
    await connection.commit()
    return True
