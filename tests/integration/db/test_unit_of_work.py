"""The unit of work commits only when asked, rolls back otherwise."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.errors import Aborted, Unavailable

from . import builders as b


async def test_rolls_back_unless_committed(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(c)
    async with uow_factory() as uow:
        assert await uow.customers.get(c.id) is None


async def test_rolls_back_on_error_even_after_writes(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()

    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.customers.add(c)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with uow_factory() as uow:
        assert await uow.customers.get(c.id) is None


async def test_commit_persists_and_later_work_is_rolled_back(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first, second = b.customer(), b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(first)
        await uow.commit()
        await uow.customers.add(second)
    async with uow_factory() as uow:
        assert await uow.customers.get(first.id) == first
        assert await uow.customers.get(second.id) is None


async def test_explicit_rollback(uow_factory: SqlUnitOfWorkFactory) -> None:
    c = b.customer()
    async with uow_factory() as uow:
        await uow.customers.add(c)
        await uow.rollback()
        assert await uow.customers.get(c.id) is None


async def test_stale_version_update_is_aborted(uow_factory: SqlUnitOfWorkFactory) -> None:
    p = b.payment(None)
    async with uow_factory() as uow:
        await uow.payments.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        mine = await uow.payments.get(p.id)
    async with uow_factory() as uow:
        theirs = await uow.payments.get(p.id)
        assert theirs is not None
        theirs.description = "theirs"
        await uow.payments.update(theirs)
        await uow.commit()
    assert mine is not None
    mine.description = "mine"
    with pytest.raises(Aborted):
        async with uow_factory() as uow:
            await uow.payments.update(mine)
    assert mine.version == 0
    async with uow_factory() as uow:
        stored = await uow.payments.get(p.id)
        assert stored is not None
        assert stored.description == "theirs"
        assert stored.version == 1


async def test_not_reentrant_and_closed_after_use(uow_factory: SqlUnitOfWorkFactory) -> None:
    uow = uow_factory()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()
    with pytest.raises(RuntimeError, match="not open"):
        _ = uow.connection


async def test_a_server_gone_after_the_work_does_not_turn_the_answer_into_an_error(
    db_backend: str, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """PostgreSQL died between the last query and the end of the block (the chaos suite
    saw it as INTERNAL): the rollback fails, but the work was done and nothing was left
    to undo, so the block's answer stands and the pool stays usable."""
    if db_backend != "postgresql":
        pytest.skip("a PostgreSQL backend can be killed from inside its own session")
    async with uow_factory(read_only=True) as uow:
        assert await uow.payments.get("pay_missing") is None
        pid = (await uow.connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    async with uow_factory(read_only=True) as uow:
        assert await uow.payments.get("pay_missing") is None


async def test_a_statement_on_a_dead_backend_is_unavailable_and_the_block_ends_cleanly(
    db_backend: str, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """PostgreSQL died inside the block: the failing statement's Unavailable is what the
    block raises (the chaos suite saw INTERNAL when ending the block tripped over the
    invalidated connection), and the pool stays usable."""
    if db_backend != "postgresql":
        pytest.skip("a PostgreSQL backend can be killed from inside its own session")

    async def read_on_a_killed_backend() -> None:
        async with uow_factory() as uow:
            assert await uow.payments.get("pay_missing") is None
            pid = (await uow.connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            async with engine.connect() as other:
                await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await uow.payments.get("pay_missing")

    with pytest.raises(Unavailable):
        await read_on_a_killed_backend()

    async with uow_factory(read_only=True) as uow:
        assert await uow.payments.get("pay_missing") is None
