"""Counting an engine's transactions and database round trips (tests and bench/).

Listeners on SQLAlchemy's connection events: every transaction begun, every statement
sent, every COMMIT and ROLLBACK. On PostgreSQL psycopg sends BEGIN itself before the
first statement of a transaction, so a round trip of its own (unless the statement went
out with it: raw_statement.py); on SQLite our "begin" listener sends
``BEGIN IMMEDIATE|DEFERRED`` as a statement, already counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class SqlCounts:
    transactions: int = 0
    statements: int = 0
    commits: int = 0
    rollbacks: int = 0
    begin_is_statement: bool = False

    @property
    def round_trips(self) -> int:
        begins = 0 if self.begin_is_statement else self.transactions
        return begins + self.statements + self.commits + self.rollbacks

    def snapshot(self) -> SqlCounts:
        return SqlCounts(
            self.transactions,
            self.statements,
            self.commits,
            self.rollbacks,
            self.begin_is_statement,
        )

    def since(self, before: SqlCounts) -> SqlCounts:
        return SqlCounts(
            self.transactions - before.transactions,
            self.statements - before.statements,
            self.commits - before.commits,
            self.rollbacks - before.rollbacks,
            self.begin_is_statement,
        )


def count_sql(engine: AsyncEngine, *, only: Callable[[], bool] | None = None) -> SqlCounts:
    """Counts of everything ``engine`` runs from now on; with ``only``, of what runs while
    it answers True (it reads the caller's contextvars, which the async engine's events
    see: e.g. "inside an RPC", leaving out the readiness probe's ``SELECT 1``)."""
    counts = SqlCounts(begin_is_statement=engine.dialect.name == "sqlite")
    sync_engine = engine.sync_engine

    def counted() -> bool:
        return only is None or only()

    def begun(_conn: Any) -> None:
        if counted():
            counts.transactions += 1

    def statement(*args: Any) -> None:
        # A statement sent with its BEGIN, or after another in the same pipeline
        # (raw_statement.py), shares that one's round trip.
        if counted() and not getattr(args[4], "shares_round_trip", False):
            counts.statements += 1

    def committed(_conn: Any) -> None:
        if counted():
            counts.commits += 1

    def rolled_back(_conn: Any) -> None:
        if counted():
            counts.rollbacks += 1

    event.listen(sync_engine, "begin", begun)
    event.listen(sync_engine, "before_cursor_execute", statement)
    event.listen(sync_engine, "commit", committed)
    event.listen(sync_engine, "rollback", rolled_back)
    return counts
