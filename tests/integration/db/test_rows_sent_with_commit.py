"""Audit rows and outbox events a unit of work appends go out with its COMMIT on
PostgreSQL (adapters/db/deferred.py): stored exactly when the work commits, never by a
later checkout of the same connection, and a failure among them stores nothing."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from payment_service.adapters.db.engine import create_engine
from payment_service.adapters.db.tables import audit_log, event_outbox
from payment_service.adapters.db.uow import SqlUnitOfWorkFactory
from payment_service.domain.errors import Conflict

from . import builders as b


async def _audit_ids(factory: SqlUnitOfWorkFactory) -> set[str]:
    async with factory(read_only=True) as uow:
        return set((await uow.connection.execute(sa.select(audit_log.c.id))).scalars())


async def _events_of(factory: SqlUnitOfWorkFactory, object_id: str) -> list[str]:
    statement = (
        sa.select(event_outbox.c.type)
        .where(event_outbox.c.object_id == object_id)
        .order_by(event_outbox.c.position)  # the outbox's order, not the heap's
    )
    async with factory(read_only=True) as uow:  # another connection: committed rows only
        return list((await uow.connection.execute(statement)).scalars())


async def test_rows_of_work_left_uncommitted_are_never_sent_by_the_next_checkout(
    database_url: str, uow_factory: SqlUnitOfWorkFactory
) -> None:
    # One pooled connection: the second unit of work checks out the first one's.
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        dropped, kept = b.audit_entry(), b.audit_entry()
        async with factory() as uow:
            await uow.audit.add(dropped)
        async with factory() as uow:
            await uow.audit.add(kept)
            await uow.rollback()
        async with factory() as uow:
            await uow.audit.add(dataclasses.replace(b.audit_entry(), id=kept.id))
            await uow.commit()
        assert await _audit_ids(factory) == {kept.id}
    finally:
        await engine.dispose()


async def test_the_entity_and_its_event_and_audit_rows_commit_together(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    payment, entry = b.payment(None), b.audit_entry()
    async with uow_factory() as uow:
        await uow.payments.add(payment)
        await uow.audit.add(entry)
        assert await _events_of(uow_factory, payment.id) == []  # not before the commit
        await uow.commit()
    assert await _events_of(uow_factory, payment.id) == [
        "payment.created",
        "payment.requires_capture",  # the builder's payment is authorized already
    ]
    assert entry.id in await _audit_ids(uow_factory)


async def test_a_failing_held_row_fails_the_commit_and_stores_nothing_of_the_work(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    stored = b.audit_entry()
    async with uow_factory() as uow:
        await uow.audit.add(stored)
        await uow.commit()
    payment = b.payment(None)

    async def add_twin_and_commit() -> None:
        # SQLite inserts the twin at once, PostgreSQL with the commit: either fails.
        await uow.audit.add(dataclasses.replace(b.audit_entry(), id=stored.id))
        await uow.commit()

    async with uow_factory() as uow:
        await uow.payments.add(payment)
        with pytest.raises(Conflict) as info:
            await add_twin_and_commit()
    assert info.value.constraint == "pk_audit_log"
    async with uow_factory() as uow:
        assert await uow.payments.get(payment.id) is None
    assert await _events_of(uow_factory, payment.id) == []
    assert await _audit_ids(uow_factory) == {stored.id}


async def test_a_row_added_with_the_commit_is_stored_by_it_and_its_conflict_raised_by_it(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    first = b.payment(None)
    async with uow_factory() as uow:
        await uow.payments.add_with_commit(first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.payments.find_by_request(first.caller, first.request_id) == first
    assert await _events_of(uow_factory, first.id) == [
        "payment.created",
        "payment.requires_capture",
    ]
    # The same request inserted again (another replica's create): the request's unique key
    # fails the commit on PostgreSQL (the INSERT itself on SQLite); nothing of it is stored.
    twin, entry = dataclasses.replace(b.payment(None), request_id=first.request_id), b.audit_entry()

    async def add_twin_and_commit() -> None:
        await uow.payments.add_with_commit(twin)
        await uow.audit.add(entry)
        await uow.commit()

    async with uow_factory() as uow:
        with pytest.raises(Conflict) as info:
            await add_twin_and_commit()
    assert info.value.constraint == "uq_transactions_caller_request_id"
    async with uow_factory() as uow:
        assert await uow.payments.get(twin.id) is None
    assert await _events_of(uow_factory, twin.id) == []
    assert entry.id not in await _audit_ids(uow_factory)
