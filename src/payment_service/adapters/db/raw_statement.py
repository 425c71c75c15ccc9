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

Reads a unit of work runs ``together`` (look-ups independent of each other) send their
statements in one pipeline, one round trip for all (``_Batch``).

SQLAlchemy's cursor events still fire around each statement, so the engine's listeners
(the database spans, the round-trip counts of tests and bench/) see it as they see
their own. Anything else (SQLite, a connection SQLAlchemy invalidated, a transaction
psycopg already failed) returns None and the caller executes the statement through
SQLAlchemy as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import ClauseElement, Executable, Select
from sqlalchemy.ext.asyncio import AsyncConnection

from payment_service.adapters.db.errors import translated_driver_errors
from payment_service.adapters.db.raw_read import (
    Process,
    compiled_with_binds,
    converted,
    processed,
    psycopg_connection,
    result_columns,
)

_IDLE = pq.TransactionStatus.IDLE
_SENDABLE = (_IDLE, pq.TransactionStatus.INTRANS)
_BATCH = "raw_statement_batch"  # connection.info: the ``together`` running on it


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
    their per-statement state on it, e.g. the statement's span). ``shares_round_trip``:
    the statement went out in a round trip counted already, its transaction's BEGIN's or
    that of the statement sent before it in the same pipeline."""

    __slots__ = ("__dict__", "shares_round_trip")

    def __init__(self, *, shares_round_trip: bool) -> None:
        self.shares_round_trip = shares_round_trip


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
        columns, results = (
            result_columns(statement, dialect) if isinstance(statement, Select) else ((), ())
        )
        compiled = _COMPILED[cache_key] = _Compiled(statement, sql, binds, columns, results)
    return compiled


async def executed(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> RawAnswer | None:
    """``statement`` run on psycopg (with the BEGIN when idle, with the statements of the
    other reads of a ``together`` when it is one); None when it cannot be."""
    driver = _sendable(connection)
    if driver is None:
        return None
    compiled = _compiled(statement, tuple(parameters), connection)
    values = processed(parameters, compiled.binds)
    batch: _Batch | None = connection.info.get(_BATCH)
    if batch is not None:
        return await batch.answer(compiled, values)
    (answer,) = await _sent(connection, driver, [(compiled, values)])
    return answer


def _sendable(connection: AsyncConnection) -> psycopg.AsyncConnection[Any] | None:
    """The psycopg connection a statement can go out on directly: PostgreSQL, not in
    autocommit, idle or in a transaction that has not failed; None otherwise."""
    if connection.dialect.name != "postgresql":
        return None
    driver = psycopg_connection(connection)
    if driver is None or driver.autocommit:
        return None
    return driver if driver.info.transaction_status in _SENDABLE else None


async def _sent(
    connection: AsyncConnection,
    driver: psycopg.AsyncConnection[Any],
    statements: Sequence[tuple[_Compiled, dict[str, Any]]],
) -> list[RawAnswer]:
    """``statements`` in one round trip: a pipeline when there are several or the BEGIN
    goes with them, the statement alone otherwise."""
    sync = connection.sync_connection
    assert sync is not None
    idle = driver.info.transaction_status == _IDLE
    events = sync.dispatch
    sent: list[tuple[_Compiled, dict[str, Any], psycopg.AsyncCursor[Any], RawEventContext]] = []
    for index, (compiled, values) in enumerate(statements):
        context = RawEventContext(shares_round_trip=idle or index > 0)
        cursor = driver.cursor()
        events.before_cursor_execute(sync, cursor, compiled.sql, values, context, False)
        sent.append((compiled, values, cursor, context))
    try:
        with translated_driver_errors():
            if idle or len(sent) > 1:
                async with driver.pipeline():
                    for compiled, values, cursor, _ in sent:
                        await cursor.execute(compiled.sql, values)
            else:
                await sent[0][2].execute(sent[0][0].sql, sent[0][1])
            answers = []
            for compiled, _, cursor, _ in sent:
                rows = await cursor.fetchall() if cursor.description is not None else []
                answers.append(
                    RawAnswer([_mapping(row, compiled) for row in rows], cursor.rowcount)
                )
                await cursor.close()
    finally:
        for compiled, values, cursor, context in sent:
            events.after_cursor_execute(sync, cursor, compiled.sql, values, context, False)
    return answers


@dataclass(eq=False)
class _Queued:
    compiled: _Compiled
    values: dict[str, Any]
    answered: asyncio.Future[RawAnswer]
    taken: bool = False  # in a round trip on its way: its answer comes from ``_send``


class _Batch:
    """The statements of the reads ``together`` runs, sent in one round trip once each
    read waits on its statement or has ended (the statements a read sends one after the
    other go in successive round trips, each shared with the other reads' at that step).

    ``runnable`` counts the reads neither waiting on a statement here nor ended; a read
    that waits on anything else (a lock, say) holds the batch until it gets here or ends.
    A read cancelled while its statement waits takes the statement back; one cancelled
    while its round trip is on its way leaves it to end (``together`` waits for it).
    """

    def __init__(self, connection: AsyncConnection, driver: psycopg.AsyncConnection[Any]):
        self.connection, self.driver = connection, driver
        self.runnable = 0
        self.queued: list[_Queued] = []
        self.sending: asyncio.Task[None] | None = None

    async def answer(self, compiled: _Compiled, values: dict[str, Any]) -> RawAnswer:
        item = _Queued(compiled, values, asyncio.get_running_loop().create_future())
        self.queued.append(item)
        self.runnable -= 1
        self.send_when_ready()
        try:
            return await item.answered
        except asyncio.CancelledError:
            if not item.taken:  # never sent: this read runs on (to its end), unanswered
                self.queued.remove(item)
                self.runnable += 1
            raise

    def ended(self) -> None:
        self.runnable -= 1
        self.send_when_ready()

    def send_when_ready(self) -> None:
        if self.runnable == 0 and self.queued and self.sending is None:
            self.sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        queued, self.queued = self.queued, []
        for item in queued:
            item.taken = True
        statements = [(item.compiled, item.values) for item in queued]
        try:
            answers = await _sent(self.connection, self.driver, statements)
        except asyncio.CancelledError:
            for item in queued:
                item.answered.cancel()
            raise
        except Exception as error:  # every read of the round trip gets its error
            outcomes: list[RawAnswer | Exception] = [error] * len(queued)
        else:
            outcomes = list(answers)
        finally:
            self.sending = None
            self.runnable += len(queued)  # before any of them resumes
        for item, outcome in zip(queued, outcomes, strict=True):
            if item.answered.done():
                continue
            if isinstance(outcome, Exception):
                item.answered.set_exception(outcome)
            else:
                item.answered.set_result(outcome)

    async def finished(self) -> None:
        """Wait for a round trip still on its way (its reads were cancelled)."""
        while self.sending is not None:
            await asyncio.wait([self.sending])


async def together(
    connection: AsyncConnection, reads: Sequence[Coroutine[Any, Any, Any]]
) -> list[Any]:
    """``reads`` (coroutines of repository reads on ``connection``) run at once, their
    statements sent together (see ``_Batch``; a ``together`` inside one of them joins
    it); their results in order, or the first error in that order once every read
    ended. Off psycopg they run one after the other (none after a failing one)."""
    batch: _Batch | None = connection.info.get(_BATCH)
    if batch is not None:
        return await _joined(batch, reads, member=True)
    driver = _sendable(connection)
    if driver is None:
        # Their statements would go through SQLAlchemy, which takes one at a time.
        return await one_after_the_other(reads)
    batch = connection.info[_BATCH] = _Batch(connection, driver)
    try:
        return await _joined(batch, reads, member=False)
    finally:
        # No statement of ours may still be on the connection when the caller goes on.
        await batch.finished()
        del connection.info[_BATCH]


async def _joined(
    batch: _Batch, reads: Sequence[Coroutine[Any, Any, Any]], *, member: bool
) -> list[Any]:
    """``reads`` run in ``batch``; ``member``: the caller is one of its reads, which
    waits on these and resumes when the last of them ends."""
    if not reads:
        return []
    left = len(reads)
    batch.runnable += left - (1 if member else 0)

    async def read_in(read: Coroutine[Any, Any, Any]) -> Any:
        nonlocal left
        try:
            return await read
        finally:
            left -= 1
            if left == 0 and member:
                batch.runnable += 1  # counted before this read's end can send the batch
            batch.ended()

    try:
        outcomes = await asyncio.gather(*(read_in(read) for read in reads), return_exceptions=True)
    finally:
        for read in reads:  # a read cancelled before it began is closed unrun
            read.close()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return list(outcomes)


async def one_after_the_other(reads: Sequence[Coroutine[Any, Any, Any]]) -> list[Any]:
    """``together`` where nothing can be sent together: in order, none after a failing one
    (those are closed unrun)."""
    results: list[Any] = []
    try:
        for read in reads:
            results.append(await read)
    finally:
        for unrun in reads[len(results) + 1 :]:
            unrun.close()
    return results


def _mapping(row: Sequence[Any], compiled: _Compiled) -> dict[str, Any]:
    return dict(zip(compiled.columns, converted(row, compiled.results), strict=True))
