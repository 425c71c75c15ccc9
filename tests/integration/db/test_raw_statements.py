"""The repositories' hot statements go out on psycopg directly on PostgreSQL
(adapters/db/raw_statement.py): the first with its transaction's BEGIN, the later ones
alone, the reads a unit of work runs ``together`` in one round trip; SQLAlchemy's cursor
events still fire around each (spans, counts), their errors are the domain's, and a
failed one leaves the unit of work to roll back as before."""

from __future__ import annotations

import asyncio
import contextlib
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
from payment_service.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from payment_service.domain.entities import Customer
from payment_service.domain.errors import Conflict, NotFound

from . import builders as b


@pytest.fixture
def postgresql(db_backend: str) -> None:
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


async def _stored_customer(uow_factory: SqlUnitOfWorkFactory) -> Customer:
    c = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.commit()
    return c


async def test_the_first_statement_goes_with_its_begin_and_the_later_ones_alone(
    postgresql: None, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
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
    assert [context.shares_round_trip for context in contexts] == [True, False, False]
    # BEGIN + its SELECT, the INSERT, the SELECT, the COMMIT: four round trips.
    assert counts.round_trips == 4
    async with uow_factory(read_only=True) as uow:
        assert await uow.customers.get(c.id) == c


async def test_a_failed_statement_is_the_domains_error_and_nothing_of_the_work_is_stored(
    postgresql: None, uow_factory: SqlUnitOfWorkFactory
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


async def test_reads_together_go_in_one_round_trip_a_nested_together_joining_them(
    postgresql: None, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    c = b.customer()
    m = b.payment_method(c)
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.payment_methods.add(m)
        await uow.commit()

    async def by_account_and_method(uow: SqlUnitOfWork) -> tuple[object, object]:
        return await uow.together(
            uow.customers.get_by_account(c.account_id),
            uow.payment_methods.find_by_stripe_id(m.stripe_payment_method_id),
        )

    counts = count_sql(engine)
    with _seen(engine) as seen:
        async with uow_factory(read_only=True) as uow:
            missing, (by_account, method), by_id = await uow.together(
                uow.customers.get("cust_missing"),
                by_account_and_method(uow),
                uow.customers.get(c.id),
            )
            before = counts.round_trips
            # A read of two statements in a row: the second goes in a round trip of its own.
            again = await uow.together(_second_read(uow, c.id), uow.customers.get(c.id))
            assert counts.round_trips - before == 2
    assert (missing, by_account, method, by_id) == (None, c, m, c)
    assert again == (c, c)
    assert counts.round_trips == 1 + 2 + 1  # BEGIN with the 4 SELECTs; 2 more; ROLLBACK
    assert [verb for verb, _ in seen] == ["SELECT"] * 7


async def _second_read(uow: SqlUnitOfWork, customer_id: str) -> object:
    await uow.customers.get(customer_id)
    return await uow.customers.get(customer_id)


async def test_an_error_of_one_read_together_is_raised_once_every_read_ended(
    db_backend: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    c = await _stored_customer(uow_factory)
    ended: list[str] = []

    async def refused() -> None:
        await uow.customers.get(c.id)
        ended.append("refused")
        raise NotFound("customer", c.id)

    async def read() -> object:
        found = await uow.customers.get(c.id)
        ended.append("read")
        return found

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(NotFound):
            await uow.together(refused(), read())
        # SQLite runs them one after the other and none after a failing one.
        assert ended == (["refused", "read"] if db_backend == "postgresql" else ["refused"])
        assert await uow.customers.get(c.id) == c  # the unit of work goes on


async def test_reads_together_cancelled_midway_leave_the_unit_of_work_to_end_as_usual(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    c = await _stored_customer(uow_factory)
    started = asyncio.Event()

    async def slow() -> object:
        started.set()
        await asyncio.sleep(30)  # the batch waits for this read's statement
        return await uow.customers.get(c.id)

    async with uow_factory(read_only=True) as uow:
        reads = asyncio.ensure_future(uow.together(uow.customers.get(c.id), slow()))
        await started.wait()
        reads.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reads
        assert await uow.customers.get(c.id) == c  # the connection goes on
    async with uow_factory(read_only=True) as uow:
        assert await uow.together(uow.customers.get(c.id), uow.customers.get(c.id)) == (c, c)


@pytest.mark.parametrize("yields", range(1, 7))
async def test_reads_together_cancelled_at_any_step_leave_no_statement_behind(
    postgresql: None, yields: int, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Cancelled before, while or after their round trip is on its way (``yields``
    steps of the loop in), the reads leave the connection to the unit of work. (On
    SQLite a cancelled statement makes SQLAlchemy give the transaction up, as any
    cancelled statement there does.)"""
    c = await _stored_customer(uow_factory)
    async with uow_factory(read_only=True) as uow:
        reads = asyncio.ensure_future(
            uow.together(uow.customers.get(c.id), uow.customers.get("cust_missing"))
        )
        for _ in range(yields):
            await asyncio.sleep(0)
        reads.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            assert await reads == (c, None)  # done before the cancel came
        assert await uow.together(uow.customers.get(c.id), uow.customers.get(c.id)) == (c, c)
