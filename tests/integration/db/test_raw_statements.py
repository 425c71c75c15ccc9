"""The repositories' hot statements go out on psycopg directly on PostgreSQL
(adapters/db/raw_statement.py): the first with its transaction's BEGIN, the later ones
alone; SQLAlchemy's cursor events still fire around each (spans, counts), their errors
are the domain's, and a failed one leaves the unit of work to roll back as before."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.counting import count_sql
from payment_service.adapters.db.raw_statement import RawEventContext
from payment_service.adapters.db.tables import customers
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.errors import Conflict

from . import builders as b


@pytest.fixture(autouse=True)
def _postgresql_only(db_backend: str) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite runs every statement through SQLAlchemy")


@contextmanager
def _seen(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """(statement's verb, its execution context) of every statement the engine's
    cursor events see, in order."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        seen.append((statement.split(None, 1)[0].upper(), args[1]))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def test_the_first_statement_goes_with_its_begin_and_the_later_ones_alone(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    c = b.customer()
    counts = count_sql(engine)
    with _seen(engine) as seen:
        async with uow_factory() as uow:
            assert await uow.customers.get(c.id) is None  # with the BEGIN
            await uow.customers.add(c)  # alone, in the transaction
            assert await uow.customers.get(c.id) == c  # sees its own transaction's row
            await uow.commit()
    contexts = [context for _, context in seen]
    assert [verb for verb, _ in seen] == ["SELECT", "INSERT", "SELECT"]
    assert all(isinstance(context, RawEventContext) for context in contexts)
    assert [context.with_begin for context in contexts] == [True, False, False]
    # BEGIN + its SELECT, the INSERT, the SELECT, the COMMIT: four round trips.
    assert counts.round_trips == 4
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(c.id) == c


async def test_a_failed_statement_is_the_domains_error_and_nothing_of_the_work_is_stored(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(first)
        await uow.commit()
    kept_out, twin = b.customer(), dataclasses.replace(b.customer(), id=first.id)
    async with uow_factory() as uow:
        await uow.customers.add(kept_out)
        with pytest.raises(Conflict) as raised:
            await uow.customers.add(twin)
    assert raised.value.constraint == "pk_customers"
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(kept_out.id) is None
        ids = set((await uow.connection.execute(sa.select(customers.c.id))).scalars())
    assert ids == {first.id}
    # The connection the failed work used went back to the pool fit for the next one.
    again = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(again)
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(again.id) == again
